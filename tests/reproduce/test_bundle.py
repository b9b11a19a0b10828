"""``lineal reproduce REF -o DIR``: the bundle's files, checked line by line, and run for real."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest

import lineal
from lineal.artifacts import log_content

from .conftest import Project, assert_captured, cli, git


def test_bundle_records_every_part_of_the_run(
    trained: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = trained
    model = lineal.get_artifact("model@v1")
    features = lineal.get_artifact("features@v1")
    raw = lineal.get_artifact("iris-raw@v1")
    run_id = model.producer_run_id
    assert run_id is not None
    assert_captured(project.store, run_id)
    out_dir = tmp_path / "bundle"

    code, out, err = cli(capsys, "reproduce", "model@v1", "-o", str(out_dir))

    assert code == 0, err
    assert f"wrote 6 files to {out_dir}/ for run {run_id} (train)" in out
    assert err == ""  # a clean, committed run: nothing to warn about
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(lineal.reproduce.BUNDLE_FILES)
    for script in ("checkout.sh", "fetch_inputs.sh", "run.sh"):
        assert (out_dir / script).stat().st_mode & stat.S_IXUSR, script

    checkout = (out_dir / "checkout.sh").read_text()
    assert f"git clone {project.remote} \"$dest\"\n" in checkout
    assert f"git checkout --quiet --detach {project.commit}\n" in checkout
    assert "WARNING: the recorded run started from a DIRTY" not in checkout
    entry_sha = lineal.reproduce.plan("model@v1").entry_point["sha256"]
    assert entry_sha == "sha256:" + __import__("hashlib").sha256(
        (project.workdir / "train.py").read_bytes()).hexdigest()
    assert f'if [ "$actual" != {entry_sha} ]; then' in checkout

    requirements = (out_dir / "requirements.txt").read_text().splitlines()
    assert requirements[1].startswith(f"# Python {sys.version.split()[0]} (cpython)")
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in requirements
    assert f"numpy=={metadata.version('numpy')}" in requirements
    pins = [line for line in requirements if not line.startswith("#")]
    assert all("==" in line for line in pins)
    assert not any(line.startswith(("lineal==", "pip==")) for line in pins)
    assert any(line.startswith("# Left out, installed from source (pip install -e): lineal")
               for line in requirements)

    fetch = (out_dir / "fetch_inputs.sh").read_text()
    gets = [line for line in fetch.splitlines() if line.startswith("lineal ")]
    assert gets == ["lineal artifacts get default/iris-raw@v1 -o inputs/train/iris-raw"]
    assert f"# dataset, {raw.digest}, {raw.size} bytes" in fetch
    assert f': "${{LINEAL_URI:={project.store.location}}}"' in fetch

    run_sh = (out_dir / "run.sh").read_text()
    assert 'cd "$checkout"/pipeline\n' in run_sh
    assert "export LINEAL_PROJECT=default\n" in run_sh
    assert run_sh.endswith('exec "$python" train.py --data iris-raw@v1 --C 0.5\n')
    assert "unset PYTHONHASHSEED " in run_sh  # unset when recorded, so unset when re-run

    lineage = json.loads((out_dir / "lineage.json").read_text())
    assert lineage["run"]["id"] == run_id and lineage["run"]["name"] == "train"
    assert lineage["params"] == {"C": 0.5}
    assert lineage["invocation"] == {
        "argv": ["train.py", "--data", "iris-raw@v1", "--C", "0.5"], "cwd": "pipeline", "env": {}}
    assert lineage["code"]["git"]["commit"] == project.commit
    assert lineage["code"]["entry_point"]["path"] == "pipeline/train.py"
    assert [(i["role"], i["ref"], i["digest"]) for i in lineage["inputs"]] == [
        ("train", "default/iris-raw@v1", raw.digest)]
    assert sorted((o["role"], o["ref"], o["digest"]) for o in lineage["outputs"]) == [
        ("model", "default/model@v1", model.digest), ("output", "default/features@v1", features.digest)]
    assert lineage["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert lineage["warnings"] == []

    readme = (out_dir / "README.md").read_text()
    assert readme.startswith("# Reproducing default/model@v1\n")
    assert f"`{run_id}` (`train`, kind `train`, project `default`, finished" in readme
    assert f"`{project.remote}` at commit `{project.commit}` (branch `main`), clean" in readme
    assert "| Command | `python train.py --data iris-raw@v1 --C 0.5` in `pipeline` |" in readme
    assert "| C | `0.5` |" in readme
    assert f"| train | `default/iris-raw@v1` | dataset | `{raw.digest}` |" in readme
    assert f"| model | `default/model@v1` | model | `{model.digest}` |" in readme
    assert "Warning" not in readme


def test_checkout_and_run_scripts_recreate_the_outputs(
    trained: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = trained
    out_dir = tmp_path / "bundle"
    assert cli(capsys, "reproduce", "model@v1", "-o", str(out_dir))[0] == 0

    cloned = subprocess.run(["sh", str(out_dir / "checkout.sh")], capture_output=True, text=True)
    assert cloned.returncode == 0, cloned.stderr
    assert "WARNING" not in cloned.stderr
    assert git(out_dir / "src", "rev-parse", "HEAD") == project.commit

    env = project.env(PYTHON=sys.executable)
    started = datetime.now(UTC)
    rerun = subprocess.run(["sh", str(out_dir / "run.sh")], env=env, capture_output=True, text=True,
                           cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    runs = lineal.list_runs(name="train", started_after=started)
    assert len(runs) == 1
    new = runs[0]
    outputs = {e.artifact_id for e in project.store.metadata.list_edges(run_id=new.id)
               if str(e.direction) == "output"}
    assert lineal.get_artifact("model@v1").id in outputs, "same bytes, so the same version"
    assert lineal.get_artifact("model").version == 1
    assert json.loads(new.tags["lineal.argv"]) == ["train.py", "--data", "iris-raw@v1", "--C", "0.5"]
    assert new.params == {"C": 0.5}
    assert new.tags["lineal.cwd"] == "pipeline"


def test_dirty_tree_is_warned_about_loudly(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (project.workdir / "train.py").open("a") as handle:
        handle.write("# an uncommitted edit\n")
    project.train()
    plan = lineal.reproduce.plan("model@v1")
    digest = plan.git["diff_digest"]
    assert plan.git["dirty"] is True and digest.startswith("sha256:")
    out_dir = tmp_path / "bundle"

    code, _, err = cli(capsys, "reproduce", "model@v1", "-o", str(out_dir))

    assert code == 0
    assert f"warning: the run started from a DIRTY working tree: its uncommitted changes (diff digest {digest})" in err
    checkout = (out_dir / "checkout.sh").read_text()
    assert "# WARNING: the recorded run started from a DIRTY working tree." in checkout
    assert f"#   diff digest {digest}" in checkout
    assert "> **Warning:** the run started from a DIRTY working tree" in (out_dir / "README.md").read_text()
    cloned = subprocess.run(["sh", str(out_dir / "checkout.sh")], capture_output=True, text=True)
    assert cloned.returncode == 0, cloned.stderr
    assert "DIRTY working tree" in cloned.stderr
    assert f"#   diff digest {digest}" in cloned.stderr
    # The edited script is not what the commit holds, and the check after checkout says so.
    assert "WARNING: pipeline/train.py is not the file the run executed" in cloned.stderr


def test_a_run_id_works_and_names_the_default_folder(
    trained: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = lineal.get_artifact("model@v1").producer_run_id
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "reproduce", str(run_id), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["run"] == run_id and result["ref"] == run_id
    assert result["directory"] == f"reproduce-train-{run_id}"
    assert (tmp_path / f"reproduce-train-{run_id}" / "run.sh").exists()
    code, out, _ = cli(capsys, "reproduce", "model@v1")
    assert code == 0 and (tmp_path / "reproduce-model-v1" / "lineage.json").exists()


def test_bad_references_fail_clearly_and_write_nothing(
    trained: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    code, _, err = cli(capsys, "reproduce", "nope@v1")
    assert code == 3 and err.startswith("error: ") and "nope" in err
    code, _, err = cli(capsys, "reproduce", "iris-raw@v7")
    assert code == 3 and "iris-raw" in err
    code, _, err = cli(capsys, "reproduce", "bad name!")
    assert code == 2 and "invalid" in err
    code, _, err = cli(capsys, "reproduce", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert code == 3 and "no run, registered model or artifact named '01ARZ3NDEKTSV4RRFFQ69G5FAV'" in err
    loose = tmp_path / "loose.txt"
    loose.write_text("no run made me")
    log_content(trained.store, loose, name="loose", project="default", kind="file", metadata=None,
                tags=None, aliases=(), reference=False, producer_run_id=None, actor="t")
    before.add(loose)
    code, _, err = cli(capsys, "reproduce", "loose@v1")
    assert code == 2 and "default/loose@v1 was not produced by a run" in err
    assert set(tmp_path.iterdir()) == before

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "reproduce", "iris-raw@v1", "-o", str(taken))
    assert code == 4 and "already exists" in err
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]


def test_run_recorded_without_capture_still_gets_a_bundle_that_says_so(
    trained: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # iris-raw was logged by an ingest run with capture=False: no code, no environment.
    code, _, err = cli(capsys, "reproduce", "iris-raw@v1", "-o", str(tmp_path / "b"))
    assert code == 0
    assert "warning: no code was recorded for this run" in err
    assert "cannot check out the code: no git commit was recorded" in (tmp_path / "b" / "checkout.sh").read_text()
    run_sh = (tmp_path / "b" / "run.sh").read_text()
    assert "cannot re-run: run " in run_sh and "recorded no code" in run_sh
    done = subprocess.run(["sh", str(tmp_path / "b" / "run.sh")], capture_output=True, text=True)
    assert done.returncode == 1 and "recorded no code" in done.stderr
    assert "# The installed packages were not recorded." in (tmp_path / "b" / "requirements.txt").read_text()
    assert os.access(tmp_path / "b" / "fetch_inputs.sh", os.X_OK)


def test_a_registered_model_version_reproduces_its_model_artifact(
    trained: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`lineal reproduce churn@v1` with a registry name: the run that made the linked artifact."""
    from lineal import registry

    registry.register_model("classifier", "model@v1", store=trained.store)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "reproduce", "classifier@v1", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["run"] == lineal.get_artifact("model@v1").producer_run_id
    code, _, err = cli(capsys, "reproduce", "no-such-model@v1")
    assert code != 0 and "no registered model or artifact named 'no-such-model'" in err
