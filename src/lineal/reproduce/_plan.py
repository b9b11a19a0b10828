"""Reading a reproduction plan (what a run recorded) and writing the bundle that recreates its
outputs: ``lineal.reproduce.plan`` and ``write_bundle``. Re-executing a plan is in
``_execute.py``, which imports this module (never the reverse).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..entities import ArtifactVersion, EdgeDirection, Run, RunStatus
from ..errors import AlreadyExists, InvalidArgument
from ..store import Store, default_store

__all__ = ["BUNDLE_FILES", "OF_TAG", "REPORT_TAG", "VERDICT_TAG", "Plan", "plan", "write_bundle"]

VERDICT_TAG = "lineal.reproduce.verdict"
REPORT_TAG = "lineal.reproduce.report"
OF_TAG = "lineal.reproduce.of"
BUNDLE_FILES = (
    "README.md",
    "checkout.sh",
    "requirements.txt",
    "fetch_inputs.sh",
    "run.sh",
    "lineage.json",
)
_RERUNNABLE = ("script", "module", "pytest")
# Left out of requirements.txt: the installer itself, and lineal (install the one you use).
_NOT_PINNED = frozenset({"pip", "lineal"})


@dataclass(frozen=True)
class Plan:
    """Everything recorded about one run that a reproduction needs."""

    run: Run
    target: ArtifactVersion | None
    """The artifact version that was asked about, when the reference named one."""
    code: dict[str, Any]
    """The ``code`` artifact's content (``git``, ``entry_point``); empty when not captured."""
    environment: dict[str, Any]
    """The ``environment`` artifact's content (``python``, ``os``, ``packages``...)."""
    inputs: tuple[tuple[str, ArtifactVersion], ...]
    """(role, version) of every artifact the run consumed, except its code and environment."""
    outputs: tuple[tuple[str, ArtifactVersion], ...]
    """(role, version) of every artifact the run produced."""
    argv: list[str] | None
    cwd: str | None
    """Relative to the repository root when the run started inside it, else absolute."""
    env: dict[str, str]
    env_recorded: bool
    """False for runs recorded before environment variables were (``env`` is then empty)."""
    store_location: str
    warnings: tuple[str, ...] = ()

    @property
    def git(self) -> dict[str, Any]:
        """The recorded git fields; empty when not in a checkout or not captured."""
        git = self.code.get("git") or {}
        return {} if _not_captured(git) else dict(git)

    @property
    def entry_point(self) -> dict[str, Any]:
        entry = self.code.get("entry_point") or {}
        return {} if _not_captured(entry) else dict(entry)

    @property
    def git_not_captured(self) -> str | None:
        """Why the git state is unknown (the probe timed out or failed), or None when it was
        captured: a run outside any checkout has ``git`` empty and this None."""
        return _not_captured(self.code.get("git")) if self.code else None

    @property
    def packages(self) -> dict[str, str]:
        """The recorded ``{package: version}``; empty when not captured."""
        if self.packages_not_captured:
            return {}
        return dict(self.environment.get("packages") or {})

    @property
    def packages_not_captured(self) -> str | None:
        """Why the installed packages are unknown, or None when they were captured."""
        if not self.environment:
            return None
        packages = self.environment.get("packages")
        reason = _not_captured(packages)
        return reason or (None if isinstance(packages, dict) else "no packages recorded")

    @property
    def ref(self) -> str:
        """What this plan reproduces: the artifact's reference, or the run id."""
        return self.target.ref if self.target else self.run.id

    def default_directory(self) -> str:
        """``reproduce-<name>-v<N>`` for an artifact, ``reproduce-<run name>-<run id>`` for a run."""
        if self.target is not None:
            return f"reproduce-{self.target.name}-v{self.target.version}"
        # A run name is display text ("exp/1", "a/../b"): only its safe characters make a path.
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", self.run.name).strip(".-") or "run"
        return f"reproduce-{name}-{self.run.id}"

    def entry_args(self) -> list[str]:
        """The interpreter arguments that re-run the entry point from the recorded cwd.

        Raises InvalidArgument when the run cannot be re-executed (no code captured, or started
        from a notebook, a REPL or ``python -c``, whose code Python does not keep).
        """
        entry = self.entry_point
        kind = entry.get("kind")
        if not self.code:
            raise InvalidArgument(
                f"run {self.run.id} recorded no code, so there is nothing to re-execute",
                hint="the run was started with capture=False or capture failed",
            )
        entry_unknown = _not_captured(self.code.get("entry_point"))
        if entry_unknown:
            raise InvalidArgument(
                f"run {self.run.id}: its entry point was not captured ({entry_unknown}), so "
                "what to re-execute is unknown",
                hint="raise LINEAL_CAPTURE_TIMEOUT if capture timed out",
            )
        if kind not in _RERUNNABLE:
            raise InvalidArgument(
                f"run {self.run.id} was started from a {kind or 'unknown'} entry point, which "
                "cannot be re-executed",
                hint="only scripts, modules (python -m) and pytest sessions can be",
            )
        rest = list(self.argv[1:]) if self.argv else []
        if kind == "module":
            return ["-m", str(entry["module"]), *rest]
        if kind == "pytest":
            return ["-m", "pytest", *rest]
        path = entry.get("path")
        if not path:
            raise InvalidArgument(f"run {self.run.id} recorded no path for its script")
        return [self._script_path(str(path)), *rest]

    def _script_path(self, path: str) -> str:
        # The script as the user typed it when that still names the same file, so the new
        # process sees the same sys.argv[0]; otherwise a path from the recorded cwd.
        if posixpath.isabs(path):
            return path
        cwd = self.cwd if self.cwd and not posixpath.isabs(self.cwd) else "."
        typed = self.argv[0] if self.argv else None
        if typed and not posixpath.isabs(typed) and posixpath.normpath(posixpath.join(cwd, typed)) == path:
            return typed
        return posixpath.relpath(path, cwd)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``lineage.json``: the run, params, inputs and expected outputs."""
        return {
            "format": "lineal.reproduce/1",
            "ref": self.ref,
            "target": _version_dict(self.target) if self.target else None,
            "run": {
                "id": self.run.id,
                "project": self.run.project,
                "name": self.run.name,
                "kind": self.run.kind,
                "status": str(self.run.status),
                "started_at": self.run.started_at.isoformat(),
                "ended_at": self.run.ended_at.isoformat() if self.run.ended_at else None,
                "parent_id": self.run.parent_id,
                "host": self.run.tags.get("lineal.hostname"),
            },
            "params": self.run.params,
            "code": self.code,
            "invocation": {"argv": self.argv, "cwd": self.cwd, "env": self.env},
            "environment": {k: v for k, v in self.environment.items() if k != "packages"},
            "packages": self.environment.get("packages"),
            "inputs": [{"role": role, **_version_dict(v)} for role, v in self.inputs],
            "outputs": [{"role": role, **_version_dict(v)} for role, v in self.outputs],
            "warnings": list(self.warnings),
        }


def _version_dict(version: ArtifactVersion) -> dict[str, Any]:
    return {
        "ref": version.ref,
        "name": version.name,
        "version": version.version,
        "kind": version.kind,
        "digest": version.digest,
        "size": version.size,
    }


# -- reading what was recorded ---------------------------------------------------------------------
def plan(ref: str, *, store: Store | None = None, project: str | None = None) -> Plan:
    """What was recorded about the run behind ``ref``: an artifact reference (the run that
    produced that version) or a run id.

    >>> p = lineal.reproduce.plan("churn-model@v3")       # doctest: +SKIP
    >>> p.git["commit"], p.argv, [v.ref for _, v in p.inputs]   # doctest: +SKIP
    """
    store = store or default_store()
    run, target = _resolve(store, ref, project)
    code: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    inputs: dict[tuple[str, str], ArtifactVersion] = {}
    output_roles: dict[str, str] = {}
    versions: dict[str, ArtifactVersion] = {}
    for edge in store.metadata.list_edges(run_id=run.id):
        version = versions.get(edge.artifact_id)
        if version is None:
            version = versions[edge.artifact_id] = store.metadata.get_artifact_version(edge.artifact_id)
        if edge.direction is EdgeDirection.OUTPUT:
            # One output edge per version, with log_artifact's role; stores written before
            # that had a named edge beside an automatic "output" one: the named one wins.
            if output_roles.get(version.id, "output") == "output":
                output_roles[version.id] = edge.role
        elif edge.role == "code" and version.kind == "code":
            code = dict(version.metadata)
        elif edge.role == "environment" and version.kind == "environment":
            environment = dict(version.metadata)
        else:
            inputs[(edge.role, version.id)] = version
    argv = _json_tag(run, "lineal.argv", list)
    env = _json_tag(run, "lineal.env", dict)
    made = Plan(
        run=run,
        target=target,
        code=code,
        environment=environment,
        inputs=tuple((role, v) for (role, _), v in inputs.items()),
        outputs=tuple((role, versions[vid]) for vid, role in output_roles.items()),
        argv=[str(a) for a in argv] if argv is not None else None,
        cwd=run.tags.get("lineal.cwd"),
        env={str(k): str(v) for k, v in (env or {}).items()},
        env_recorded=env is not None,
        store_location=_safe_location(store.location),
    )
    return _with_warnings(made)


def _resolve(store: Store, ref: str, project: str | None) -> tuple[Run, ArtifactVersion | None]:
    """A run (``run:ID``, a run id), or the run that produced what ``ref`` names by the one
    reference rule (:mod:`lineal.resolve`): a registered model's version, else an artifact."""
    from ..resolve import resolve

    found = resolve(ref, store, project=project)
    if found.run is not None:
        return found.run, None
    version = found.require_artifact()
    if version.producer_run_id is None:
        raise InvalidArgument(
            f"{version.ref} was not produced by a run, so there is no run to reproduce",
            hint="it was logged outside lineal.run(...)",
        )
    return store.metadata.get_run(version.producer_run_id), version


def _not_captured(value: Any) -> str | None:
    from ..capture import not_captured_reason

    return not_captured_reason(value)


def _json_tag(run: Run, key: str, kind: type) -> Any:
    text = run.tags.get(key)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # tags are writable by anyone: a mangled one is treated as not recorded
    return value if isinstance(value, kind) else None


def _safe_location(location: str) -> str:
    """The store location without a password, fit to be written into scripts."""
    if "://" not in location:
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def _with_warnings(made: Plan) -> Plan:
    warnings: list[str] = []
    git, entry = made.git, made.entry_point
    if not made.code:
        warnings.append("no code was recorded for this run (capture=False or capture failed)")
    elif made.git_not_captured:
        warnings.append(f"the git state was not captured ({made.git_not_captured}): the code "
                        "cannot be checked out, checkout.sh says so and stops")
    elif not git.get("commit"):
        where = ("in a git repository with no commit yet" if git.get("branch") else
                 "not in a git repository (or git was not available)")
        warnings.append(f"the code was {where}: only the entry point's sha256 identifies it")
    if git.get("dirty") and git.get("commit"):
        warnings.append(
            "the run started from a DIRTY working tree: its uncommitted changes (diff digest "
            f"{git.get('diff_digest')}) were not stored; a checkout of {git.get('commit')} "
            "does not contain them"
        )
    if git.get("commit") and not git.get("remote_url"):
        warnings.append("no git remote was recorded: clone the repository by hand")
    entry_unknown = _not_captured(made.code.get("entry_point")) if made.code else None
    if entry_unknown:
        warnings.append(f"the entry point was not captured ({entry_unknown}): run.sh cannot "
                        "re-run it")
    elif made.code and entry.get("kind") not in _RERUNNABLE:
        warnings.append(f"the entry point is a {entry.get('kind')!r}, which cannot be re-executed")
    if made.code and made.argv is None:
        warnings.append("the command-line arguments were not recorded (a run from an older "
                        "lineal): run.sh passes none")
    if made.packages_not_captured:
        warnings.append(f"the installed packages were not captured ({made.packages_not_captured}):"
                        " requirements.txt lists none")
    elif made.environment and not made.environment.get("packages"):
        warnings.append("the installed packages were not recorded: requirements.txt is empty")
    if made.run.tags.get("lineal.capture.errors"):
        warnings.append(f"capture was incomplete: {made.run.tags['lineal.capture.errors']}")
    if made.run.status is not RunStatus.FINISHED:
        warnings.append(f"the recorded run is {made.run.status}, not finished")
    return replace(made, warnings=tuple(warnings))


# -- the bundle --------------------------------------------------------------------------------------
def write_bundle(plan: Plan, directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write README.md, checkout.sh, requirements.txt, fetch_inputs.sh, run.sh and lineage.json
    into ``directory`` (default :meth:`Plan.default_directory`), which must not exist or be
    empty. Returns the paths written."""
    target = Path(directory if directory is not None else plan.default_directory())
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists and is not an empty folder",
                            hint="choose another folder with -o")
    contents = {  # everything is rendered before anything is written
        "README.md": render_readme(plan),
        "checkout.sh": render_checkout(plan),
        "requirements.txt": render_requirements(plan),
        "fetch_inputs.sh": render_fetch_inputs(plan),
        "run.sh": render_run(plan),
        "lineage.json": json.dumps(plan.to_dict(), indent=2, sort_keys=True, default=str) + "\n",
    }
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in contents.items():
        path = target / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def _q(value: str) -> str:
    return shlex.quote(value)


_SH_PREAMBLE = 'set -eu\nhere=$(cd "$(dirname "$0")" && pwd)\n'


def render_checkout(plan: Plan) -> str:
    """checkout.sh: clone the recorded remote and check out the recorded commit."""
    git, entry = plan.git, plan.entry_point
    lines = ["#!/bin/sh", f"# Recreate the code of run {plan.run.id} ({plan.run.name}), as "
             "recorded by lineal.", "# Usage: ./checkout.sh [DIR]   (default: ./src beside this "
             "script)", _SH_PREAMBLE + 'dest=${1:-"$here/src"}', ""]
    commit = git.get("commit")
    source = git.get("remote_url") or plan.run.tags.get("lineal.git.root")
    if plan.git_not_captured:
        lines += [f"echo {_q(f'cannot check out the code: the git commit was not captured ({plan.git_not_captured}).')} >&2"]
        if entry.get("sha256"):
            lines += [f"echo {_q('The entry point was ' + str(entry.get('path')) + ' with ' + str(entry['sha256']))} >&2"]
        return "\n".join([*lines, "exit 1", ""])
    if not commit or not source:
        why = "no git commit was recorded" if not commit else "no git remote was recorded"
        lines += [f"echo {_q(f'cannot check out the code: {why}.')} >&2"]
        if entry.get("sha256"):
            lines += [f"echo {_q('The entry point was ' + str(entry.get('path')) + ' with ' + str(entry['sha256']))} >&2"]
        if commit:
            lines += [f"echo {_q(f'Check out commit {commit} in a clone of the repository by hand.')} >&2"]
        return "\n".join([*lines, "exit 1", ""])
    if git.get("dirty"):
        banner = _dirty_banner(plan)
        lines += ["warn_dirty() {", "  cat >&2 <<'EOF'", banner, "EOF", "}", "warn_dirty", ""]
    if not git.get("remote_url"):
        lines += [f"# No remote was recorded: this is the repository's folder on host "
                  f"{plan.run.tags.get('lineal.hostname', '?')}."]
    lines += [
        f"git clone {_q(source)} \"$dest\"",
        'cd "$dest"',
        f"git checkout --quiet --detach {_q(commit)}",
    ]
    if entry.get("kind") in ("script", "module") and entry.get("sha256") and entry.get("path") \
            and not posixpath.isabs(entry["path"]):
        # A commit says nothing about a file edited before the run: compare the entry point.
        check = ('import hashlib, sys; print("sha256:" + hashlib.sha256(open(sys.argv[1], "rb")'
                 '.read()).hexdigest())')
        lines += [
            f"actual=$(python3 -c {_q(check)} {_q(entry['path'])} 2>/dev/null || echo missing)",
            f'if [ "$actual" != {_q(entry["sha256"])} ]; then',
            f"  echo \"WARNING: {entry['path']} is not the file the run executed "
            f"(recorded {entry['sha256']}, checked out $actual)\" >&2",
            "fi",
        ]
    if git.get("dirty"):
        lines += ["warn_dirty"]
    lines += [f'echo "checked out {commit} in $dest"', ""]
    return "\n".join(lines)


def _dirty_banner(plan: Plan) -> str:
    git = plan.git
    return "\n".join([
        "#" * 78,
        "# WARNING: the recorded run started from a DIRTY working tree.",
        f"#   commit      {git.get('commit')}",
        f"#   diff digest {git.get('diff_digest')}",
        "# lineal records a digest of the uncommitted changes, not the changes themselves:",
        "# this checkout does NOT contain them, and the results may differ.",
        "#" * 78,
    ])


def render_requirements(plan: Plan) -> str:
    """requirements.txt: ``name==version`` for the recorded packages, minus lineal and editables."""
    env = plan.environment
    python = env.get("python") or {}
    system = env.get("os") or {}
    packages: Mapping[str, str] = plan.packages
    editable: Mapping[str, str] = {} if plan.packages_not_captured else (
        env.get("editable_packages") or {})
    lines = [
        f"# Packages installed when run {plan.run.id} ({plan.run.name}) started, recorded by lineal.",
        f"# Python {python.get('version', 'unknown')} ({python.get('implementation', '?')}) on "
        f"{system.get('system', '?')} {system.get('machine', '')}".rstrip()
        + ": create the environment with that Python version.",
    ]
    if plan.packages_not_captured:
        lines.append(f"# The installed packages were not captured ({plan.packages_not_captured}).")
    elif not packages:
        lines.append("# The installed packages were not recorded.")
    skipped = sorted(n for n in packages if n in _NOT_PINNED and n != "pip" and n not in editable)
    if skipped:
        lines.append(f"# Left out: {', '.join(skipped)} (install the version you use).")
    for name in sorted(editable):
        lines.append(f"# Left out, installed from source (pip install -e): {name} "
                     f"{packages.get(name, '')} from {editable[name]}")
    for name, version in sorted(packages.items()):
        if name in _NOT_PINNED or name in editable:
            continue
        if "+" in version:
            lines.append(f"# {name} {version} is a local build: install it from the index it came from")
        lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def render_fetch_inputs(plan: Plan) -> str:
    """fetch_inputs.sh: one ``lineal artifacts get`` per input version of the run."""
    lines = [
        "#!/bin/sh",
        f"# Download the exact input artifact versions of run {plan.run.id} ({plan.run.name}).",
        "# The store they are in (set LINEAL_URI to use another copy of it):",
        _SH_PREAMBLE + f': "${{LINEAL_URI:={plan.store_location}}}"',
        "export LINEAL_URI",
        'cd "$here"',
        "",
    ]
    if not plan.inputs:
        lines.append("echo 'run consumed no artifacts (besides its code and environment)'")
    for role, version in plan.inputs:
        lines.append(f"# {version.kind}, {version.digest}, {version.size} bytes")
        lines.append(f"lineal artifacts get {_q(version.ref)} -o {_q(f'inputs/{role}/{version.name}')}")
    return "\n".join(lines) + "\n"


def render_run(plan: Plan) -> str:
    """run.sh: cd to the recorded cwd, export the recorded variables, run the entry point."""
    from ..artifacts import CAPTURED_ENV_VARS, replayable_env

    lines = [
        "#!/bin/sh",
        f"# Re-run the entry point of run {plan.run.id} ({plan.run.name}) as recorded.",
        "# Usage: [LINEAL_CHECKOUT=DIR] [PYTHON=.venv/bin/python] [LINEAL_URI=STORE] ./run.sh",
        "# With LINEAL_URI set, the new run is recorded in that store.",
    ]
    try:
        args = plan.entry_args()
    except InvalidArgument as error:
        return "\n".join([*lines, f"echo {_q(f'cannot re-run: {error}')} >&2", "exit 1", ""])
    lines += [
        _SH_PREAMBLE + 'checkout=${LINEAL_CHECKOUT:-"$here/src"}',
        "# Relative paths are relative to where you are, not to the folder the program runs in.",
        'python=${PYTHON:-python}',
        'case "$python" in */*) python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python");; esac',
        'case "${LINEAL_URI:-}" in ""|/*|*://*) ;; *) LINEAL_URI="$PWD/$LINEAL_URI";; esac',
        'checkout=$(cd "$checkout" && pwd)',
    ]
    cwd = plan.cwd
    if cwd is None or not posixpath.isabs(cwd):
        lines.append(f'cd "$checkout"/{_q(cwd or ".")}')
    else:
        lines.append(f"cd {_q(cwd)}  # outside the repository when recorded")
    if plan.env_recorded:
        # Allowlisted variables that were unset then must be unset now, or they still apply.
        unset = [n for n in CAPTURED_ENV_VARS if n not in plan.env and n != "LINEAL_PROJECT"]
        if unset:
            lines.append("unset " + " ".join(unset))
    applied, skipped = replayable_env(plan.env)
    for name, value in applied.items():
        lines.append(f"export {name}={_q(value)}")
    for name, reason in skipped.items():
        lines.append(f"# recorded {name} not set: {reason}")
    if "LINEAL_PROJECT" not in plan.env:
        lines.append(f"export LINEAL_PROJECT={_q(plan.run.project)}")
    lines.append('exec "$python" ' + " ".join(_q(a) for a in args))
    return "\n".join(lines) + "\n"


def render_readme(plan: Plan) -> str:
    """README.md: what was recorded about the run, and the exact steps to recreate it."""
    run, git, entry, env = plan.run, plan.git, plan.entry_point, plan.environment
    python, system = env.get("python") or {}, env.get("os") or {}
    out = [f"# Reproducing {plan.ref}", ""]
    produced = f", which produced `{plan.target.ref}` ({plan.target.digest})" if plan.target else ""
    out += [f"Recorded by lineal from run `{run.id}` (`{run.name}`, kind `{run.kind}`, project "
            f"`{run.project}`, {run.status}, started {run.started_at.isoformat()}){produced}.", ""]
    for warning in plan.warnings:
        out += [f"> **Warning:** {warning}", ""]
    state = ("**dirty** (uncommitted changes, diff digest "
             f"`{git.get('diff_digest')}`, not stored)" if git.get("dirty") else "clean")
    code = (f"not captured ({plan.git_not_captured}): the commit is unknown"
            if plan.git_not_captured else
            f"`{git.get('remote_url') or plan.run.tags.get('lineal.git.root', '?')}` at commit "
            f"`{git.get('commit')}` (branch `{git.get('branch')}`), {state}"
            if git.get("commit") else "not in a git repository")
    command = " ".join(_q(a) for a in ["python", *_args_or_empty(plan)])
    variables = ", ".join(f"`{k}={v}`" for k, v in sorted(plan.env.items())) or "none recorded"
    packages = plan.packages
    container = (env.get("container") or {}).get("image") if isinstance(env.get("container"), dict) else None
    hardware = env.get("hardware") or {}
    out += [
        "## What was recorded", "",
        "| | |", "|---|---|",
        f"| Code | {code} |",
        f"| Entry point | {entry.get('kind', 'unknown')} `{entry.get('module') or entry.get('path')}` "
        f"({entry.get('sha256')}) |",
        f"| Command | `{command}` in `{plan.cwd or '?'}` |",
        f"| Environment variables | {variables} |",
        f"| Python | {python.get('version', '?')} ({python.get('implementation', '?')}) on "
        f"{system.get('system', '?')} {system.get('release', '')} {system.get('machine', '')} |",
        f"| Packages | not captured ({plan.packages_not_captured}) |" if plan.packages_not_captured
        else f"| Packages | {len(packages)} recorded, pinned in `requirements.txt` |",
        f"| Container image | {container or 'none recorded'} |",
        f"| Hardware | {hardware.get('cpu_count', '?')} CPUs, GPUs: "
        f"{', '.join(str(g.get('name', g)) for g in (hardware.get('gpus') or [])) or 'none'} |",
        f"| Host | {run.tags.get('lineal.hostname', '?')} |",
        "",
    ]
    out += ["## Parameters", ""]
    out += ["| name | value |", "|---|---|", *(f"| {k} | `{json.dumps(v)}` |" for k, v in
            sorted(run.params.items()))] if run.params else ["None recorded."]
    out += ["", "## Inputs", ""]
    out += _versions_table(plan.inputs) if plan.inputs else ["None (besides code and environment)."]
    out += ["", "## Expected outputs", ""]
    out += _versions_table(plan.outputs) if plan.outputs else ["None recorded."]
    out += [
        "", "## Steps", "",
        (f"1. The code cannot be checked out: the git commit was not captured "
         f"({plan.git_not_captured}). `./checkout.sh` says so and stops."
         if plan.git_not_captured else
         f"1. `./checkout.sh` clones the repository into `./src` and checks out `{git.get('commit')}`."
         + (" **The uncommitted changes of the recorded run are not included.**"
            if git.get("dirty") else "")),
        f"2. Create an environment with Python {python.get('version', '?')} and install the "
        "pinned packages, then lineal:",
        "",
        "       python -m venv .venv && .venv/bin/pip install -r requirements.txt",
        "       .venv/bin/pip install lineal",
        "",
        f"3. `./fetch_inputs.sh` downloads the {len(plan.inputs)} input version(s) into "
        f"`./inputs/` from the store (`LINEAL_URI`, default `{plan.store_location}`). A program "
        "that reads its inputs with `run.use_artifact(...)` fetches them itself; these copies "
        "are for inspection and for code that reads files.",
        "4. `PYTHON=.venv/bin/python LINEAL_URI=... ./run.sh` runs the entry point in the "
        "recorded folder with the recorded arguments and environment variables.",
        f"5. Or, to compare automatically: from the checkout, `lineal reproduce {plan.ref} --run` "
        "re-executes it, compares the new output digests with the expected ones (see "
        "`lineage.json`) and records the verdict as a run of kind `reproduce`.",
        "",
    ]
    return "\n".join(out)


def _args_or_empty(plan: Plan) -> list[str]:
    try:
        return plan.entry_args()
    except InvalidArgument:
        return ["?"]


def _versions_table(pairs: Sequence[tuple[str, ArtifactVersion]]) -> list[str]:
    return ["| role | artifact | kind | digest |", "|---|---|---|---|",
            *(f"| {role} | `{v.ref}` | {v.kind} | `{v.digest}` |" for role, v in pairs)]
