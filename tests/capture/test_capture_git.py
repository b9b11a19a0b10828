"""The git probe against real repositories made with the git command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lineal.capture import canonical_json, capture, not_captured_reason
from lineal.capture._git import strip_credentials

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)

SECRET = "s3cr3t-t0ken"
# Generous: these tests check content, not speed, and CI machines can be slow.
TIMEOUT = 10.0


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository whose origin URL embeds credentials."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('train')\n")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    git(root, "remote", "add", "origin", f"https://alice:{SECRET}@git.example.com/team/demo.git")
    return root


def git_code(repo: Path) -> dict:
    captured = capture(cwd=repo, timeout=TIMEOUT, include_packages=False)
    assert "git" not in captured.probe_errors
    return captured.code["git"]


def test_clean_repository_fields(repo: Path) -> None:
    info = git_code(repo)
    assert info["root"] == os.path.realpath(repo)
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["branch"] == "main"
    assert info["dirty"] is False
    assert info["diff_digest"] is None
    assert info["untracked_count"] == 0
    assert info["remote_name"] == "origin"
    assert info["remote_url"] == "https://git.example.com/team/demo.git"


def test_credentials_never_reach_the_captured_code(repo: Path) -> None:
    captured = capture(cwd=repo, timeout=TIMEOUT, include_packages=False)
    assert SECRET.encode() not in canonical_json(captured.code)
    assert b"alice" not in canonical_json(captured.code)


def test_dirty_worktree_digest_follows_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('train harder')\n")
    first = git_code(repo)
    assert first["dirty"] is True
    assert first["diff_digest"].startswith("sha256:")
    assert git_code(repo)["diff_digest"] == first["diff_digest"]

    (repo / "train.py").write_text("print('train even harder')\n")
    second = git_code(repo)
    assert second["dirty"] is True
    assert second["diff_digest"] != first["diff_digest"]

    (repo / "train.py").write_text("print('train')\n")
    restored = git_code(repo)
    assert restored["dirty"] is False
    assert restored["diff_digest"] is None


def test_staged_changes_count_as_dirty(repo: Path) -> None:
    (repo / "README.md").write_text("# changed\n")
    git(repo, "add", "README.md")
    info = git_code(repo)
    assert info["dirty"] is True
    assert info["diff_digest"] is not None


def test_untracked_file_names_make_the_tree_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("x")
    first = git_code(repo)
    assert first["dirty"] is True
    assert first["untracked_count"] == 1
    (repo / "notes.txt").rename(repo / "other.txt")
    second = git_code(repo)
    assert second["diff_digest"] != first["diff_digest"]


def test_gitignored_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / ".gitignore").write_text("data/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore data")
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(b"\0" * 1000)
    assert git_code(repo)["dirty"] is False


def test_binary_change_changes_the_digest(repo: Path) -> None:
    (repo / "weights.bin").write_bytes(b"\0\1\2" * 100)
    git(repo, "add", "weights.bin")
    git(repo, "commit", "-q", "-m", "weights")
    (repo / "weights.bin").write_bytes(b"\0\1\3" * 100)
    first = git_code(repo)["diff_digest"]
    (repo / "weights.bin").write_bytes(b"\0\1\4" * 100)
    assert git_code(repo)["diff_digest"] != first


def test_subdirectory_reports_the_repository_root(repo: Path) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    assert git_code(sub)["root"] == os.path.realpath(repo)


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    info = git_code(repo)
    assert info["branch"] is None
    assert info["commit"] == git(repo, "rev-parse", "HEAD")


def test_tracked_remote_is_preferred_over_origin(repo: Path) -> None:
    git(repo, "remote", "add", "fork", "git@example.org:me/demo.git")
    git(repo, "update-ref", "refs/remotes/fork/main", "HEAD")
    git(repo, "branch", "-q", "--set-upstream-to=fork/main")
    info = git_code(repo)
    assert info["remote_name"] == "fork"
    assert info["remote_url"] == "git@example.org:me/demo.git"


def test_repository_without_remote(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.txt").write_text("a")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "a")
    info = git_code(tmp_path)
    assert info["remote_url"] is None
    assert info["remote_name"] is None


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.txt").write_text("a")
    git(tmp_path, "add", "a.txt")
    info = git_code(tmp_path)
    assert info["commit"] is None
    assert info["branch"] == "main"
    assert info["dirty"] is True
    staged = info["diff_digest"]
    (tmp_path / "a.txt").write_text("b")
    git(tmp_path, "add", "a.txt")
    assert git_code(tmp_path)["diff_digest"] != staged


def test_status_leaves_no_index_lock_behind(repo: Path) -> None:
    (repo / "train.py").write_text("changed\n")
    capture(cwd=repo, timeout=TIMEOUT, include_packages=False)
    assert not (repo / ".git" / "index.lock").exists()


def test_non_git_directory_is_a_captured_fact_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    # Keeps git from finding a repository somewhere above tmp_path.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    captured = capture(cwd=plain, timeout=TIMEOUT, include_packages=False)
    # "Not in a checkout" is what git answered: recorded as None, not as "not captured".
    assert captured.code["git"] is None
    assert "git" not in captured.probe_errors
    assert captured.code["entry_point"] is not None
    assert captured.environment["python"] is not None


def test_missing_directory_is_a_probe_note(tmp_path: Path) -> None:
    captured = capture(cwd=tmp_path / "does-not-exist", timeout=TIMEOUT, include_packages=False)
    assert not_captured_reason(captured.code["git"]) == captured.probe_errors["git"]


def test_undecodable_path_still_serializes(tmp_path: Path) -> None:
    root = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"repo-\xff")))
    try:
        root.mkdir()
    except (OSError, UnicodeEncodeError):
        pytest.skip("the filesystem refuses non-UTF-8 names")
    git(root, "init", "-q", "-b", "main")
    captured = capture(cwd=root, timeout=TIMEOUT, include_packages=False)
    assert captured.code["git"]["root"].startswith(os.path.realpath(tmp_path))
    assert captured.code_digest().startswith("sha256:")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://alice:{SECRET}@github.com/org/repo.git", "https://github.com/org/repo.git"),
        (f"https://{SECRET}@github.com/org/repo.git", "https://github.com/org/repo.git"),
        (f"http://oauth2:{SECRET}@gitlab.local:8080/g/r", "http://gitlab.local:8080/g/r"),
        (f"https://host/org/repo.git?private_token={SECRET}", "https://host/org/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        (f"ssh://git:{SECRET}@host:2222/org/repo.git", "ssh://git@host:2222/org/repo.git"),
        ("ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
