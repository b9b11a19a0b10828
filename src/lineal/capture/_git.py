"""Git probe: which commit, branch and remote the code came from, and whether it was edited.

All git commands are started at once and run concurrently; together they take
about as long as the slowest one. Two precautions matter more than speed:

* ``--no-optional-locks``: ``git status`` otherwise refreshes the index and takes
  ``.git/index.lock``, which would make a user's own concurrent ``git commit``
  fail while training starts.
* The diff is produced with explicit options so that its digest does not depend
  on anyone's ``~/.gitconfig`` (``diff.relative``, ``diff.noprefix``, rename
  detection, context size, external diff drivers and textconv filters).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._runner import Deadline, ProbeError, finish_command, kill_command, start_command

_NOT_A_REPO_MARKER = "not a git repository"

_STATUS_ARGS = (
    "git",
    "--no-optional-locks",
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    # "normal" lists an untracked directory once instead of every file in it:
    # an untracked data/ folder with 100k files must not cost seconds.
    "--untracked-files=normal",
)
_DIFF_ARGS = (
    "git",
    "--no-optional-locks",
    "diff",
    "HEAD",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-relative",
    "--no-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--unified=3",
    "--diff-algorithm=myers",
    # Binary files appear as "Binary files differ" preceded by their full blob
    # ids, so their content still reaches the digest without dumping megabytes
    # of base85 the way --binary would.
    "--full-index",
)


def strip_credentials(url: str) -> str:
    """Return ``url`` without secrets, safe to store and display.

    For http(s) and ftp(s) URLs the whole user-info part is dropped (a bare
    ``https://<token>@host`` is how GitHub and GitLab tokens are usually embedded),
    as are query and fragment, which some hosts use for tokens too. For other
    schemes (``ssh://git:pw@host``) only the password is dropped, since the user
    name there is part of the address. scp-style ``git@host:org/repo`` and local
    paths have no secret and are returned unchanged.

    >>> strip_credentials("https://user:s3cret@github.com/org/repo.git")
    'https://github.com/org/repo.git'
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable but URL-shaped: the safe answer is to keep nothing after the scheme's host.
        return url.split("://", 1)[0] + "://<unparseable>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in {"http", "https", "ftp", "ftps"}:
        if not at and not parts.query and not parts.fragment:
            return url  # nothing to strip: keep the URL byte for byte
        return urlunsplit((parts.scheme, hostport, parts.path, "", ""))
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def probe_git(cwd: str, deadline: Deadline) -> dict[str, Any] | None:
    """Describe the git checkout containing ``cwd``; None when ``cwd`` is in no checkout.

    "Not in a checkout" is a fact git answered, recorded as ``code["git"] = None``.
    Anything else that keeps git from answering (no git executable, a timeout,
    a repository git refuses to read) raises ProbeError with the reason, which
    the caller records as "not captured": unknown, not a difference.
    """
    if shutil.which("git") is None:
        raise ProbeError("git executable not found")
    commands = {
        "root": ("git", "rev-parse", "--show-toplevel"),
        "status": _STATUS_ARGS,
        "remotes": ("git", "config", "--get-regexp", r"^remote\..*\.url$"),
        # Started speculatively: waiting for status before starting the diff
        # would double the latency in the common dirty case.
        "diff": _DIFF_ARGS,
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, args in commands.items():
            procs[name] = start_command(args, cwd=cwd)
        root = finish_command(procs["root"], deadline.remaining(), bound=deadline.seconds)
        if root.returncode != 0:
            reason = root.first_error_line()
            if _NOT_A_REPO_MARKER in reason:
                return None
            raise ProbeError(f"git rev-parse failed: {reason}")
        status = finish_command(procs["status"], deadline.remaining(), bound=deadline.seconds)
        if status.returncode != 0:
            raise ProbeError(f"git status failed: {status.first_error_line()}")
        head = _parse_status(status.stdout)
        remotes = finish_command(procs["remotes"], deadline.remaining(), bound=deadline.seconds)
        diff = finish_command(procs["diff"], deadline.remaining(), bound=deadline.seconds)
    finally:
        for proc in procs.values():
            kill_command(proc)

    diff_digest = None
    if head.dirty:
        diff_output = diff.stdout
        if diff.returncode != 0:
            # No HEAD yet (fresh repository): fall back to what is staged.
            diff_output = _staged_diff(cwd, deadline)
        diff_digest = _diff_digest(diff_output, head.untracked)
    remote_name, remote_url = _pick_remote(_parse_remotes(remotes.stdout), head.upstream)
    return {
        "root": root.stdout.decode("utf-8", "surrogateescape").strip(),
        "commit": head.commit,
        "branch": head.branch,
        "dirty": head.dirty,
        "diff_digest": diff_digest,
        "untracked_count": len(head.untracked),
        "remote_name": remote_name,
        "remote_url": strip_credentials(remote_url) if remote_url else None,
    }


class _HeadState:
    """What ``git status --porcelain=v2 --branch`` tells about HEAD and the worktree."""

    def __init__(self) -> None:
        self.commit: str | None = None
        self.branch: str | None = None
        self.upstream: str | None = None
        self.dirty = False
        self.untracked: list[str] = []


def _parse_status(raw: bytes) -> _HeadState:
    state = _HeadState()
    tokens = raw.decode("utf-8", "surrogateescape").split("\0")
    skip_next = False
    for token in tokens:
        if skip_next:  # the original path of a rename/copy entry
            skip_next = False
            continue
        if not token:
            continue
        if token.startswith("# branch.oid "):
            oid = token[len("# branch.oid ") :]
            state.commit = None if oid == "(initial)" else oid
        elif token.startswith("# branch.head "):
            head = token[len("# branch.head ") :]
            state.branch = None if head == "(detached)" else head
        elif token.startswith("# branch.upstream "):
            state.upstream = token[len("# branch.upstream ") :]
        elif token.startswith("? "):
            state.dirty = True
            state.untracked.append(token[2:])
        elif token[0] in "12u":
            state.dirty = True
            skip_next = token.startswith("2 ")
    state.untracked.sort()
    return state


def _parse_remotes(raw: bytes) -> dict[str, str]:
    remotes: dict[str, str] = {}
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        key, _, url = line.partition(" ")
        # key is "remote.<name>.url" and <name> may itself contain dots.
        name = key[len("remote.") : -len(".url")]
        if name and url:
            remotes.setdefault(name, url)
    return remotes


def _pick_remote(remotes: dict[str, str], upstream: str | None) -> tuple[str | None, str | None]:
    """Prefer the remote the current branch tracks, then ``origin``, then the first one."""
    if upstream:
        # Remote names may contain "/", so take the longest one prefixing the upstream ref.
        matches = [name for name in remotes if upstream.startswith(name + "/")]
        if matches:
            name = max(matches, key=len)
            return name, remotes[name]
    if "origin" in remotes:
        return "origin", remotes["origin"]
    for name, url in remotes.items():
        return name, url
    return None, None


def _staged_diff(cwd: str, deadline: Deadline) -> bytes:
    args = [arg for arg in _DIFF_ARGS if arg != "HEAD"]
    args.insert(args.index("diff") + 1, "--cached")
    result = finish_command(start_command(args, cwd=cwd), deadline.remaining(), bound=deadline.seconds)
    return result.stdout


def _diff_digest(diff: bytes, untracked: list[str]) -> str:
    digest = hashlib.sha256(diff)
    # Untracked files contribute their names only: hashing their content could
    # mean reading gigabytes of data that happens to sit in the checkout.
    digest.update(b"\0untracked\0")
    digest.update("\0".join(untracked).encode("utf-8", "surrogateescape"))
    return "sha256:" + digest.hexdigest()
