"""Every command block of the README and docs/ runs against the demo's store, and prints what the
doc shows (see ``docblocks`` for the markup and what is normalised).

The demo (``examples/demo.py``, what ``make demo`` runs) is built once per session; each doc file
gets a fresh copy of its store and runs its blocks in order, at 120 columns, in-process through
``lineal.cli.main``. ``LINEAL_DOC_BLOCKS=write`` rewrites the outputs that differ with what the
commands print instead of failing (then read the diff before committing it); ``write-all``
rewrites every shown output without a ``...`` line, so that all come from one store.
"""

from __future__ import annotations

import os
import pwd
import runpy
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import lineal
import lineal.store as store_module

from .docblocks import Block, in_repo, matches, normalise, read_blocks, render_block

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = {"cli.md", "api.md"}  # written from the code itself (docgen, apidoc)
WRITE = os.environ.get("LINEAL_DOC_BLOCKS") in ("write", "write-all")
# write-all also rewrites the outputs that match, but not those with a "..." line: the ids and
# times of every block then come from one store.
WRITE_ALL = os.environ.get("LINEAL_DOC_BLOCKS") == "write-all"
COLUMNS = "120"


def _blocks() -> dict[Path, list[Block]]:
    return {doc: blocks for doc in DOCS if doc.name not in GENERATED
            for blocks in [read_blocks(doc)] if blocks}


BLOCKS = _blocks()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store ``make demo`` makes, built once: a folder holding ``.lineal``.

    The demo runs in a fresh, clean git repository holding it (committed, on ``main``, with a
    remote), so what the runs record of their code is the same wherever the tests run: in a
    developer's dirty checkout or a CI clone without a remote, ``reproduce`` and ``pipeline``
    would otherwise print other warnings.
    """
    folder = tmp_path_factory.mktemp("demo")
    (folder / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "demo.py", folder / "examples" / "demo.py")
    (folder / ".gitignore").write_text(".lineal/\n")
    git = ["git", "-c", "user.name=demo", "-c", "user.email=demo@example.com",
           "-c", "commit.gpgsign=false"]
    for args in (["init", "-q", "-b", "main"],
                 ["remote", "add", "origin", "https://github.com/example/churn.git"],
                 ["add", "."], ["commit", "-q", "-m", "the demo"]):
        subprocess.run([*git, *args], cwd=folder, check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "LINEAL_", "GIT_"))}
    env.update(PYTHONPATH=str(Path(lineal.__file__).parents[1]), COLUMNS=COLUMNS)
    done = subprocess.run([sys.executable, "examples/demo.py", "--store", ".lineal"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the demo failed:\n{done.stdout}\n{done.stderr}"
    return folder


@pytest.fixture
def doc_store(demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the demo's store, and the working directory of the doc's commands."""
    folder = tmp_path / "repo"
    shutil.copytree(demo_store, folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LINEAL_URI", str(folder / ".lineal"))
    monkeypatch.setenv("COLUMNS", COLUMNS)
    store_module.set_default_store(None)
    environ = dict(os.environ)
    yield folder
    store_module.set_default_store(None)
    _forget_mlflow()
    os.environ.clear()
    os.environ.update(environ)


def _forget_mlflow() -> None:
    """Undo what a page's MLflow blocks set process-wide (``mlflow.set_tracking_uri`` keeps the
    URI in a module global and in the environment, ``set_experiment`` the experiment), so that
    later tests in this worker talk to their own server."""
    if "mlflow" not in sys.modules:
        return
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    while mlflow.active_run() is not None:
        mlflow.end_run()
    utils._tracking_uri = None
    fluent._active_experiment_id = None


def _lineal(argv: list[str]) -> tuple[int, str]:
    """Run ``lineal ARGV`` in-process; its exit code and what it printed (stdout and stderr)."""
    from lineal.cli import main

    runner = CliRunner()
    with runner.isolation(env={"COLUMNS": COLUMNS}) as (_, _, output):
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except Exception:  # noqa: BLE001 - a crash is a doc failure to report, not to raise
            code = -1
            print(traceback.format_exc(), file=sys.stderr)
        store_module.set_default_store(None)
        return code, output.getvalue().decode()


def _python(block: Block, folder: Path, names: dict[str, Any]) -> str | None:
    """Run a Python block from a file in the store's folder, in-process, with the names the
    page's earlier blocks defined (as a notebook would); the traceback if it raised."""
    source = "\n".join(line.removeprefix(block.indent) for line in block.body.splitlines())
    script = folder / f"doc_block_{block.path.stem}_{block.line}.py"
    script.write_text(source + "\n", encoding="utf-8")
    try:
        names.update(runpy.run_path(str(script), init_globals=names, run_name="__main__"))
    except Exception:  # noqa: BLE001 - reported as the block's failure
        return traceback.format_exc()
    finally:
        store_module.set_default_store(None)
    return None


def _run_block(block: Block, folders: tuple[str, ...], user: str,
               names: dict[str, Any]) -> tuple[list[str], dict[int, list[str]]]:
    """Run a block; its failures, and the outputs to write in place of those that differ."""
    if block.lang == "python":
        error = _python(block, Path(folders[0]), names)
        return ([f"{block.where}: the Python block raised\n{error}"] if error else []), {}
    failures: list[str] = []
    rewrites: dict[int, list[str]] = {}
    for i, command in enumerate(block.commands):
        argv = command.argv({**os.environ, "USER": user})
        if not argv or argv[0] != "lineal":
            failures.append(f"{block.where}: `{command.text}` is not a lineal command: mark the "
                            "block <!-- doc-test: skip (reason) -->")
            continue
        code, printed = _lineal(argv[1:])
        # A CLI error is the last thing a command prints (why-failed shows a run's error first);
        # a long one wraps onto lines indented under it.
        unindented = [line for line in command.expected if line and not line[0].isspace()]
        shows_error = bool(unindented) and unindented[-1].startswith("error:")
        if code != 0 and not shows_error:
            failures.append(f"{block.where}: `{command.text}` exited {code}:\n{printed}")
            continue
        if code == 0 and shows_error:
            failures.append(f"{block.where}: `{command.text}` succeeded; the doc shows an error")
        if block.mode == "exit-only" or not command.expected:
            continue
        expected = normalise("\n".join(command.expected), user=user)
        actual = normalise(printed, folders=folders, user=user)
        elided = any(line.strip() == "..." for line in command.expected)
        if WRITE_ALL and not elided and printed.strip():
            rewrites[i] = [line.rstrip() for line in
                           in_repo(printed, folders).rstrip("\n").splitlines()]
        elif not matches(expected, actual):
            shown = in_repo(printed, folders).rstrip("\n").splitlines()
            rewrites[i] = [line.rstrip() for line in shown]
            failures.append(_difference(block, command.text, expected, actual))
    return failures, rewrites


def _difference(block: Block, command: str, expected: list[str], actual: list[str]) -> str:
    import difflib

    diff = "\n".join(difflib.unified_diff(expected, actual, "the doc shows", "lineal prints",
                                          lineterm="", n=2))
    return f"{block.where}: `{command}` prints something else (normalised):\n{diff}"


def _runnable(doc: Path) -> list[Block]:
    return [b for b in BLOCKS[doc] if b.mode != "skip"]


@pytest.mark.slow
@pytest.mark.xdist_group("doc-blocks")  # one worker builds the demo once, for every file
@pytest.mark.parametrize("doc", [d for d in BLOCKS if _runnable(d)], ids=lambda d: d.name)
def test_doc_blocks_print_what_the_doc_shows(doc: Path, doc_store: Path, demo_store: Path) -> None:
    user = pwd.getpwuid(os.geteuid()).pw_name  # who lineal says acts: the OS account
    folders = (str(doc_store), str(demo_store))
    failures: list[str] = []
    rewritten: list[tuple[Block, str]] = []
    names: dict[str, Any] = {}
    for block in _runnable(doc):
        found, rewrites = _run_block(block, folders, user, names)
        failures += found
        if rewrites:
            rewritten.append((block, render_block(block, rewrites)))
    if WRITE:
        failures = [f for f in failures if "prints something else" not in f]
        if rewritten:
            text = doc.read_text(encoding="utf-8")
            for block, body in sorted(rewritten, key=lambda r: -r[0].span[0]):
                start, end = block.span
                text = text[:start] + body + text[end:]
            doc.write_text(text, encoding="utf-8")
    assert not failures, "\n\n".join(failures)
    if WRITE and rewritten:
        pytest.skip(f"rewrote {len(rewritten)} block(s) of {doc.name}: review the diff")


@pytest.mark.parametrize(
    "block", [b for blocks in BLOCKS.values() for b in blocks if b.mode == "skip"],
    ids=lambda b: b.where)
def test_skipped_blocks_say_why(block: Block) -> None:
    """A block that cannot run here is skipped with its reason, so ``-ra`` lists every one."""
    assert block.reason, f"{block.where}: <!-- doc-test: skip --> needs a (reason)"
    pytest.skip(f"{block.where}: {block.reason}")


def test_the_docs_have_sessions() -> None:
    sessions = [b for blocks in BLOCKS.values() for b in blocks if b.is_session]
    assert len(sessions) > 30
    assert all(b.mode in ("compare", "skip", "exit-only") for b in sessions)
