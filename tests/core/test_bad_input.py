"""Bad input (issue 2, section 7): each case gets a clear error and writes nothing.

"Writes nothing" is checked on the store itself: no artifact version, no run, and no new audit
ledger entry appear.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lineal
from lineal.content import normalise_member
from lineal.errors import IntegrityError, InvalidArgument, LinealError, StoreError
from lineal.inputs import MAX_LIMIT, MAX_PARAM_DEPTH
from lineal.refs import parse_ref
from lineal.store import Store, open_store


def _counts(store: Store) -> tuple[int, int, int]:
    meta = store.metadata
    return (
        len(lineal.list_artifacts(store=store, limit=10_000)),
        len(lineal.list_runs(store=store, limit=10_000)),
        len(meta.ledger_entries(limit=1_000_000)),
    )


@pytest.mark.parametrize(
    "name", ["", "has space", "a/b", "../up", "-dash", "x" * 129, "é", "data\n", "a\nb"]
)
def test_bad_names_are_refused_before_anything_is_written(
    store: Store, tmp_path: Path, name: str
) -> None:
    file = tmp_path / "data.csv"
    file.write_text("a\n1\n")
    with lineal.run("ok", store=store) as run:
        before = _counts(store)
        with pytest.raises(InvalidArgument, match="invalid artifact name") as caught:
            run.log_artifact(file, name=name)
        assert caught.value.hint and "letters, digits" in caught.value.hint
        assert _counts(store) == before


@pytest.mark.parametrize("name", ["", "   ", "x" * 129, "a\nb", "ends\n", "tab\there", " lead"])
def test_bad_run_names_are_refused(store: Store, name: str) -> None:
    before = _counts(store)
    with pytest.raises(InvalidArgument, match="invalid run name") as caught:
        lineal.start_run(name, store=store, capture=False)
    assert caught.value.hint and "printable" in caught.value.hint
    with pytest.raises(InvalidArgument, match="invalid run name"):
        lineal.run(name, store=store)
    assert _counts(store) == before


@pytest.mark.parametrize("name", ["baseline lr=0.1", "exp/1", "../up", "-dash", "é", "x" * 128])
def test_run_names_are_display_names(store: Store, name: str) -> None:
    """Any printable text, as other trackers allow: run names label runs, they are not parts of
    a reference."""
    with lineal.run(name, store=store, capture=False) as run:
        run.log_metric("m", 1.0)
    assert lineal.get_run(run.id, store=store).name == name
    assert [r.id for r in lineal.list_runs(name=name, store=store)] == [run.id]


def test_names_ending_in_a_newline_fail_validation() -> None:
    """The patterns end in ``$``, which also matches before a final newline: validation uses
    ``fullmatch``."""
    from lineal.refs import validate_alias, validate_name

    with pytest.raises(InvalidArgument, match="invalid artifact name"):
        validate_name("churn\n", "artifact name")
    with pytest.raises(InvalidArgument, match="invalid alias"):
        validate_alias("champion\n")
    with pytest.raises(InvalidArgument, match="invalid artifact name"):
        parse_ref("churn\n@v1")
    with pytest.raises(InvalidArgument, match="invalid project"):
        parse_ref("team\n/churn@v1")


@pytest.mark.parametrize("ref", ["x@v99999999999999999999999", "x@v9223372036854775808",
                                 "x@" + "9" * 5000])
def test_a_version_beyond_64_bits_is_invalid(store: Store, ref: str) -> None:
    with pytest.raises(InvalidArgument, match="too large") as caught:
        parse_ref(ref)
    assert caught.value.hint and str(2**63 - 1) in caught.value.hint
    with pytest.raises(InvalidArgument, match="too large"):
        lineal.get_artifact(ref, store=store)
    assert parse_ref("x@v9223372036854775807").value == 2**63 - 1


@pytest.mark.parametrize("limit", [10**20, 0, -1, MAX_LIMIT + 1, True, 2.5])
def test_listing_limits_are_bounded(store: Store, limit: object) -> None:
    for listing in (lineal.list_runs, lineal.list_artifacts, lineal.audit.log):
        with pytest.raises(InvalidArgument, match="limit must be a whole number from 1"):
            listing(limit=limit, store=store)  # type: ignore[operator]
    with pytest.raises(InvalidArgument, match="offset"):
        lineal.list_runs(offset=10**20, store=store)


def test_walk_limits_and_ledger_paging_are_bounded(store: Store) -> None:
    from lineal import lineage

    with lineal.run("r", store=store, capture=False) as run:
        pass
    with pytest.raises(InvalidArgument, match="limit must be a whole number from 1"):
        lineage.downstream(f"run:{run.id}", limit=10**20, store=store)
    with pytest.raises(InvalidArgument, match="after_seq"):
        lineal.audit.log(after_seq=10**20, store=store)
    with pytest.raises(InvalidArgument, match="after_seq"):
        lineal.audit.log(after_seq=-1, store=store)


@pytest.mark.parametrize("when", ["99999999d", "99999999 weeks ago", 1e300, float("inf")])
def test_times_out_of_range_are_invalid(store: Store, when: object) -> None:
    with pytest.raises(InvalidArgument, match="out of range"):
        lineal.list_artifacts(created_after=when, store=store)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="out of range"):
        lineal.list_runs(started_before=when, store=store)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="out of range"):
        lineal.audit.log(since=when, store=store)  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [[1, 2], "lr=0.1", 3, {1: "a"}])
def test_params_must_be_a_mapping_of_names(store: Store, params: object) -> None:
    before = _counts(store)
    with pytest.raises(InvalidArgument, match="param"):
        lineal.start_run("bad-params", params=params, store=store, capture=False)  # type: ignore[arg-type]
    assert _counts(store) == before


def _nested(depth: int) -> object:
    value: object = 1
    for i in range(depth - 1):
        value = {"k": value} if i % 2 else [value]
    return value


def test_deeply_nested_params_are_refused_with_the_limit(store: Store) -> None:
    before = _counts(store)
    with pytest.raises(InvalidArgument, match=f"more than {MAX_PARAM_DEPTH} levels"):
        lineal.start_run("deep", params={"net": _nested(5_000)}, store=store, capture=False)
    assert _counts(store) == before
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(InvalidArgument, match="levels"):
        lineal.start_run("cyclic", params={"c": cyclic}, store=store, capture=False)
    # The store refuses them on every path, not only at run start: log_params writes too.
    with lineal.run("ok", params={"net": _nested(MAX_PARAM_DEPTH)}, store=store,
                    capture=False) as run:
        pass
    with pytest.raises(InvalidArgument, match="levels"):
        store.metadata.log_batch(run.id, "me", params={"deep": _nested(5_000)})
    assert lineal.get_run(run.id, store=store).params == {"net": _nested(MAX_PARAM_DEPTH)}


def test_a_path_where_no_store_can_be_created_names_path_and_reason(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create a lineal store at /proc/x") as caught:
        open_store("/proc/x")
    assert "No such file or directory" in str(caught.value)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=f"cannot create a lineal store at {blocker}"):
        open_store(blocker / "store")


@pytest.mark.parametrize("content", [b"", b"hello, not a database\n"])
def test_an_empty_or_foreign_database_file_is_not_a_store(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "lineal.db").write_bytes(content)
    with pytest.raises(StoreError, match="so it is not a lineal store") as caught:
        open_store(folder)
    assert caught.value.hint and "rm '" in caught.value.hint
    assert (folder / "lineal.db").read_bytes() == content, "the file is left as it was"
    assert sorted(p.name for p in folder.iterdir()) == ["lineal.db"]


def test_a_new_store_file_is_created_whole(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    store.close()
    folder = tmp_path / "store"
    assert (folder / "lineal.db").read_bytes()[:16] == b"SQLite format 3\x00"
    assert not [p for p in folder.iterdir() if p.name.endswith(".new")]


_HIDE_DRIVER = """
import sys
sys.modules[sys.argv[1]] = None  # as if the package were not installed
from lineal.errors import StoreError
from lineal.store import open_store
try:
    open_store(sys.argv[2], artifacts=sys.argv[3])
except StoreError as error:
    print(error)
"""


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [("psycopg", "postgresql://postgres@127.0.0.1/none", "lineal[postgres]"),
     ("pymysql", "mysql+pymysql://root@127.0.0.1/none", "lineal[mysql]"),
     ("pymysql", "mariadb://root@127.0.0.1/none", "lineal[mysql]")],
)
def test_a_missing_database_driver_names_the_extra(
    tmp_path: Path, module: str, url: str, extra: str
) -> None:
    done = subprocess.run([sys.executable, "-c", _HIDE_DRIVER, module, url, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert "database driver" in done.stdout and f"pip install '{extra}'" in done.stdout


def test_in_memory_sqlite_keeps_what_is_written(tmp_path: Path) -> None:
    store = open_store("sqlite://", artifacts=str(tmp_path / "blobs"))
    file = tmp_path / "data.csv"
    file.write_text("a\n1\n")
    with lineal.run("in-memory", params={"lr": 0.1}, store=store, capture=False) as run:
        run.log_metric("acc", 0.9)
        run.log_artifact(file, name="data")
    assert [r.name for r in lineal.list_runs(store=store)] == ["in-memory"]
    assert lineal.get_run(run.id, store=store).params == {"lr": 0.1}
    assert lineal.get_artifact("data@v1", store=store).producer_run_id == run.id
    assert lineal.audit.verify(store=store).ok
    scratch = store.metadata.db.sqlite_path  # type: ignore[attr-defined]
    store.close()
    assert scratch is not None and not scratch.exists(), "nothing is left once it is closed"
    again = open_store("sqlite://", artifacts=str(tmp_path / "blobs"))
    assert lineal.list_runs(store=again) == [], "each in-memory store starts empty"
    again.close()


@pytest.mark.parametrize(
    ("member", "normal"),
    [("a/b.txt", "a/b.txt"), ("./a//b.txt", "a/b.txt"), ("a\\b.txt", "a/b.txt")],
)
def test_member_paths_are_normalised(member: str, normal: str) -> None:
    assert normalise_member(member) == normal


@pytest.mark.parametrize("member", ["/etc/passwd", "../x", "a/../../b", "C:\\evil", "a/..", "."])
def test_absolute_or_escaping_member_paths_are_rejected(member: str) -> None:
    with pytest.raises(InvalidArgument, match="directory artifact"):
        normalise_member(member)


def test_a_tampered_manifest_cannot_write_outside_the_destination(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"weights")
    with lineal.run("train", store=store) as run:
        version = run.log_artifact(folder, name="model", kind="model")
    # Forge a manifest whose entry climbs out of the download folder, and point a version at it.
    body = {"format": 1, "files": [{"path": "../escaped.bin", "digest": version.digest,
                                    "size": 7}]}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    forged = store.blobs.put_bytes(raw)
    meta = store.metadata
    from lineal.entities import Storage
    from lineal.store.base import NewArtifactVersion

    evil, _ = meta.create_artifact_version(NewArtifactVersion(
        project="default", name="evil", kind="model", digest=forged.digest, uri=forged.uri,
        size=7, storage=Storage.STORED, is_directory=True, metadata={"files": 1},
    ), "attacker")
    dest = tmp_path / "out" / "inside"
    with pytest.raises((InvalidArgument, IntegrityError)):
        lineal.download_artifact(evil.ref, dest, store=store)
    assert not (tmp_path / "out" / "escaped.bin").exists()


def test_missing_input_fails_before_anything_is_written(store: Store, tmp_path: Path) -> None:
    with lineal.run("ingest", store=store) as run:
        before = _counts(store)
        with pytest.raises(InvalidArgument, match="does not exist") as caught:
            run.log_artifact(tmp_path / "nope.csv", name="raw")
        assert "nothing was logged" in (caught.value.hint or "")
        assert _counts(store) == before
        blobs_before = sorted(store.blobs.iter_digests())
        folder = tmp_path / "parts"
        folder.mkdir()
        (folder / "a.csv").write_text("a\n1\n")
        (folder / "b.csv").symlink_to(tmp_path / "gone.csv")  # a member that cannot be read
        with pytest.raises(LinealError):
            run.log_artifact(folder, name="parts")
        assert _counts(store) == before
        assert lineal.list_artifacts(name="parts", store=store) == []
        # The readable member was not stored either: the check runs before any copying.
        assert sorted(store.blobs.iter_digests()) == blobs_before


def test_unreadable_input_is_refused(store: Store, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file: permissions cannot make a file unreadable here")
    file = tmp_path / "secret.csv"
    file.write_text("a\n")
    file.chmod(0)
    with lineal.run("ingest", store=store) as run, pytest.raises(InvalidArgument,
                                                                  match="not readable"):
        run.log_artifact(file, name="secret")


_WRITER = """
import sys, lineal
with lineal.run("big-writer") as run:
    print("started", flush=True)
    run.log_artifact(sys.argv[1], name="big", kind="dataset")
"""


def test_a_process_killed_mid_write_leaves_no_partial_version(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    folder = tmp_path / "big"
    folder.mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(300):  # 300 MiB in 300 files: long enough to be killed in the middle
        (folder / f"part-{i:04d}.bin").write_bytes(chunk[i:] + chunk[:i])
    env = {**os.environ, "LINEAL_URI": str(store_dir)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    blobs = store_dir / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some blobs exist, then kill
        if blobs.exists() and sum(1 for _ in blobs.rglob("*") if _.is_file()) > 20:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = lineal.store.open_store(store_dir)
    assert lineal.list_artifacts(name="big", store=store) == [], "no version without all bytes"
    assert lineal.audit.verify(store=store).ok
    # No temporary file is visible as a blob, and logging again completes the artifact.
    assert all(len(d) == 71 for d in store.blobs.iter_digests())
    with lineal.run("again", store=store) as run:
        version = run.log_artifact(folder, name="big", kind="dataset")
    assert version.version == 1 and version.metadata["files"] == 300


def test_a_run_display_name_never_makes_a_path(store: Store) -> None:
    """`lineal reproduce RUN_ID` names its folder after the run: "a/../../x" must stay one
    folder name in the working directory."""
    import lineal.reproduce

    with lineal.run("a/../../x y", store=store, capture=False) as run:
        pass
    folder = lineal.reproduce.plan(run.id, store=store).default_directory()
    assert folder == f"reproduce-a-..-..-x-y-{run.id}"
    assert "/" not in folder


def test_opening_a_store_again_in_the_same_process_keeps_the_first_working(
    tmp_path: Path,
) -> None:
    """The checks on the database file must not open it: closing any descriptor of a file
    drops this process's POSIX locks on it, those of SQLite connections already open too, and
    the next connection to close then deletes the WAL index under the others' feet."""
    first = open_store(tmp_path / "store")
    file = tmp_path / "a.txt"
    for i in range(4):
        file.write_text(f"content {i}")
        with lineal.run(f"r{i}", store=first, capture=False) as run:
            run.log_artifact(file, name="a")
        second = open_store(tmp_path / "store")
        with lineal.run(f"s{i}", store=second, capture=False):
            pass
        assert lineal.get_artifact(f"a@v{i + 1}", store=second).version == i + 1
        second.close()
        assert lineal.get_artifact(f"a@v{i + 1}", store=first).version == i + 1
        assert len(lineal.list_runs(store=first)) == 2 * (i + 1)
    assert lineal.audit.verify(store=first).ok
    first.close()
