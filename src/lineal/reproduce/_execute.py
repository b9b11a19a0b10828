"""Re-executing a reproduction plan and comparing what it makes with what was recorded:
``lineal.reproduce.execute`` (``lineal reproduce REF --run``). The other half, ``_plan.py``,
reads the plan and writes the bundle; this half runs a subprocess and records a verdict. It
imports ``_plan``, never the reverse (an import-linter contract keeps it so).
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..entities import ArtifactVersion, Run, default_actor, now_us
from ..errors import InvalidArgument
from ..store import Store, default_store
from ..store.base import RunFilter
from ._plan import OF_TAG, REPORT_TAG, VERDICT_TAG, Plan
from ._plan import plan as read_plan

__all__ = ["Execution", "Verdict", "execute", "interpreter_facts", "package_differences", "prepare"]


# -- executing and comparing -------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`execute`."""

    reproducible: bool
    run: Run
    """The run of kind ``reproduce`` that records the verdict."""
    original: Run
    new_runs: list[Run]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "reproducible" if self.reproducible else "differs"


_PACKAGES_SCRIPT = """\
import importlib.metadata as m, json, platform, re
packages = {}
for dist in m.distributions():
    name = dist.metadata["Name"]
    if name and dist.version is not None:
        packages.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
print(json.dumps({"python": platform.python_version(), "packages": packages}))
"""


def interpreter_facts(python: str) -> dict[str, Any]:
    """Python version and installed packages of the interpreter ``python`` (which need not have
    lineal installed), asked in a subprocess."""
    try:
        done = subprocess.run([python, "-c", _PACKAGES_SCRIPT], capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidArgument(f"cannot run the interpreter {python}: {exc}") from exc
    if done.returncode != 0:
        raise InvalidArgument(f"the interpreter {python} failed: {done.stderr.strip()[-300:]}")
    facts: dict[str, Any] = json.loads(done.stdout)
    return facts


def package_differences(recorded: Mapping[str, str], current: Mapping[str, str]) -> dict[str, Any]:
    """``changed`` {name: [recorded, current]}, ``missing`` {name: recorded} and ``added``
    {name: current}; empty mappings when the two agree."""
    return {
        "changed": {n: [v, current[n]] for n, v in sorted(recorded.items())
                    if n in current and current[n] != v},
        "missing": {n: v for n, v in sorted(recorded.items()) if n not in current},
        "added": {n: v for n, v in sorted(current.items()) if n not in recorded},
    }


@dataclass(frozen=True)
class Execution:
    """What :func:`execute` will run, worked out before anything runs so that it can be shown
    and confirmed: the command, where, and which recorded environment variables apply."""

    plan: Plan
    command: list[str]
    workdir: Path
    env: dict[str, str]
    """The child's whole environment: this process's, plus the applied recorded variables."""
    applied: dict[str, str]
    """Recorded variables set again (see ``lineal.artifacts.REPLAYED_ENV_VARS``)."""
    skipped: dict[str, str]
    """Recorded variables not set, each with the reason."""
    checks: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        return list(self.checks["warnings"])

    def describe(self) -> list[str]:
        """The plan as lines of text, for a person to read before confirming."""
        lines = [f"command: {' '.join(shlex.quote(a) for a in self.command)}",
                 f"working directory: {self.workdir}"]
        if self.applied:
            lines.append("environment applied: " + ", ".join(
                f"{name}={shlex.quote(value)}" for name, value in self.applied.items()))
        else:
            lines.append("environment applied: none recorded")
        for name, reason in self.skipped.items():
            lines.append(f"environment skipped: {name} ({reason})")
        lines += [f"warning: {message}" for message in self.warnings]
        return lines


def prepare(
    plan: Plan,
    *,
    store: Store | None = None,
    cwd: str | os.PathLike[str] | None = None,
    python: str | None = None,
) -> Execution:
    """Work out how :func:`execute` would re-run ``plan``, running nothing but a probe of the
    interpreter's packages: the command, working directory and environment, and the code and
    package checks. Recorded environment variables outside the replayed list are skipped (a
    recorded ``PYTHONPATH`` would run code the record's author chose)."""
    from ..artifacts import replayable_env
    from ..capture import capture, not_captured_reason

    store = store or default_store()
    python = python or sys.executable
    if store.blobs.root_uri.startswith("memory://"):
        raise InvalidArgument("--run needs a store another process can open; this one is in memory")
    args = plan.entry_args()
    here = Path(cwd or os.getcwd()).resolve()
    current = capture(cwd=here, timeout=30, include_packages=False).code.get("git") or {}
    if not_captured_reason(current):
        raise InvalidArgument(f"cannot read the git state of {here}: {not_captured_reason(current)}")
    workdir = _workdir(plan, current, here)
    checks = _checks(plan, current, interpreter_facts(python))
    applied, skipped = replayable_env(plan.env)
    env = _child_environment(plan, store, applied)
    return Execution(plan, [python, *args], workdir, env, applied, skipped, checks)


def execute(
    plan: Plan | Execution,
    *,
    store: Store | None = None,
    cwd: str | os.PathLike[str] | None = None,
    python: str | None = None,
    warn: Any = None,
) -> Verdict:
    """Re-execute the planned run in the git checkout around ``cwd`` (default: the current
    directory) with ``python`` (default: this interpreter), then compare and record.

    ``plan`` may be an :class:`Execution` from :func:`prepare` (after showing it to a person);
    ``cwd`` and ``python`` are then already decided. Nothing is cloned or installed: a different
    commit or different package versions are reported (``warn`` is called with each warning as
    it is found, before the run starts) and listed in the report. The entry point runs with the
    recorded argv and cwd, the recorded environment variables that are safe to replay
    (:func:`lineal.artifacts.replayable_env`; the others are listed in the report as skipped),
    and ``LINEAL_URI`` naming ``store``, so its run is recorded there; the new runs are those
    with the same project and name started after the reproduction began. The verdict is
    ``reproducible`` when every recorded output has a new version with the same digest (by
    artifact name), the params are equal and the program exited 0.
    """
    from .. import tracking

    store = store or default_store()
    run = plan if isinstance(plan, Execution) else prepare(plan, store=store, cwd=cwd, python=python)
    plan = run.plan
    say = warn or (lambda message: None)
    for message in run.warnings:
        say(message)
    checks = {**run.checks, "env_skipped": dict(run.skipped)}
    context = tracking.run(f"reproduce-{plan.run.name}"[:128], kind="reproduce",
                           project=plan.run.project, capture=False, store=store,
                           tags={OF_TAG: plan.run.id})
    with context as handle:
        started = now_us()
        # Inherit stdout and stderr: a long training run shows its progress as usual.
        returncode = subprocess.run(run.command, cwd=run.workdir, env=run.env,
                                    check=False).returncode
        new_runs = list(reversed(store.metadata.list_runs(RunFilter(
            project=plan.run.project, name=plan.run.name, started_after_us=started, limit=1000))))
        new_runs = [r for r in new_runs if r.id != plan.run.id]
        report, reproduced = _compare(store, plan, new_runs, returncode, checks)
        for _, version in plan.outputs:
            handle.use_version(version, role="expected")
        for version in reproduced:
            handle.use_version(version, role="reproduced")
        for other in new_runs:
            store.metadata.log_batch(other.id, default_actor(), tags={OF_TAG: plan.run.id})
        handle.set_tags({VERDICT_TAG: report["verdict"], REPORT_TAG: json.dumps(report, sort_keys=True)})
    return Verdict(report["verdict"] == "reproducible", store.metadata.get_run(handle.id),
                   plan.run, new_runs, report)


def _workdir(plan: Plan, current: Mapping[str, Any], here: Path) -> Path:
    recorded = plan.cwd
    if recorded is not None and posixpath.isabs(recorded):
        workdir = Path(recorded)
    elif plan.git.get("commit") or recorded is not None:
        if not current.get("root"):
            raise InvalidArgument(
                f"{here} is not in a git checkout; --run executes in a checkout of the recorded code",
                hint=f"clone {plan.git.get('remote_url') or 'the repository'} and run it there",
            )
        workdir = Path(current["root"]) / (recorded or ".")
    else:
        workdir = here
    if not workdir.is_dir():
        raise InvalidArgument(f"the recorded working directory {workdir} does not exist here")
    return workdir


def _checks(plan: Plan, current: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    git, entry = plan.git, plan.entry_point
    warnings = list(plan.warnings)
    code: dict[str, Any] = {
        "recorded_commit": git.get("commit"),
        "current_commit": current.get("commit"),
        "recorded_dirty": bool(git.get("dirty")),
        "current_dirty": bool(current.get("dirty")),
    }
    if git.get("commit") and current.get("commit") != git.get("commit"):
        warnings.append(f"the checkout is at {current.get('commit')}, not the recorded commit "
                        f"{git.get('commit')}")
    if current.get("dirty"):
        warnings.append(f"the checkout has uncommitted changes (diff digest {current.get('diff_digest')})")
    path = entry.get("path")
    if entry.get("sha256") and path and current.get("root"):
        local = Path(path) if posixpath.isabs(path) else Path(current["root"]) / path
        actual = _sha256_file(local)
        code["entry_point_matches"] = actual == entry["sha256"]
        if actual != entry["sha256"]:
            warnings.append(f"{path} is not the file the run executed (recorded {entry['sha256']}, "
                            f"here {actual or 'missing'})")
    recorded_python = (plan.environment.get("python") or {}).get("version")
    packages = package_differences(plan.packages, facts["packages"])
    environment = {"python": {"recorded": recorded_python, "current": facts["python"]},
                   "packages": packages}
    if recorded_python and recorded_python != facts["python"]:
        warnings.append(f"Python {facts['python']} here, {recorded_python} recorded")
    if packages["changed"] or packages["missing"]:
        listed = [f"{n} {a} -> {b}" for n, (a, b) in packages["changed"].items()]
        listed += [f"{n} {v} -> not installed" for n, v in packages["missing"].items()]
        warnings.append("installed packages differ from the recorded ones: " + ", ".join(listed))
    return {"code": code, "environment": environment, "warnings": warnings}


def _child_environment(plan: Plan, store: Store, applied: Mapping[str, str]) -> dict[str, str]:
    from ..artifacts import CAPTURED_ENV_VARS

    env = dict(os.environ)
    if plan.env_recorded:
        for name in CAPTURED_ENV_VARS:
            env.pop(name, None)  # unset then, unset now
    env.update(applied)
    env.setdefault("LINEAL_PROJECT", plan.run.project)
    env["LINEAL_URI"] = store.location
    env["LINEAL_ARTIFACTS"] = store.blobs.root_uri
    return env


def _sha256_file(path: Path) -> str | None:
    import hashlib

    try:
        with path.open("rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


Pair = tuple[str, ArtifactVersion]


def _latest_by_name(pairs: Sequence[Pair], project: str) -> dict[str, Pair]:
    """(role, version) by artifact name (``project/name`` outside ``project``); of several
    versions of one name, the highest."""
    found: dict[str, Pair] = {}
    for role, version in pairs:
        key = version.name if version.project == project else f"{version.project}/{version.name}"
        if key not in found or found[key][1].version < version.version:
            found[key] = (role, version)
    return found


def _compare(
    store: Store, plan: Plan, new_runs: list[Run], returncode: int, checks: dict[str, Any]
) -> tuple[dict[str, Any], list[ArtifactVersion]]:
    project = plan.run.project
    differences: list[str] = []
    if returncode != 0:
        differences.append(f"the entry point exited with code {returncode}")
    expected = _latest_by_name(plan.outputs, project)
    chosen = _pick_new_run(store, new_runs, expected.keys(), project)
    if chosen is None:
        differences.append(f"no new run named {plan.run.name!r} was recorded in project {project!r}")
    got = _latest_by_name(chosen.outputs, project) if chosen else {}
    outputs = []
    for name in sorted(expected.keys() | got.keys()):
        old, new = expected.get(name), got.get(name)
        entry = {
            "name": name,
            "role": (old or new)[0],  # type: ignore[index]
            "expected": _brief(old[1]) if old else None,
            "new": _brief(new[1]) if new else None,
        }
        if old is None:
            entry["status"] = "extra"
            differences.append(f"output {name}: not in the recorded run, produced {new[1].ref}")  # type: ignore[index]
        elif new is None:
            entry["status"] = "missing"
            differences.append(f"output {name}: expected {old[1].digest}, not produced")
        elif old[1].digest != new[1].digest:
            entry["status"] = "differs"
            differences.append(f"output {name}: expected {old[1].digest} ({old[1].ref}), "
                               f"got {new[1].digest} ({new[1].ref})")
        else:
            entry["status"] = "same"
        outputs.append(entry)
    params: dict[str, Any] = {}
    if chosen is not None:
        recorded, now = plan.run.params, chosen.run.params
        for key in sorted(recorded.keys() | now.keys()):
            if recorded.get(key) != now.get(key):
                params[key] = {"expected": recorded.get(key), "new": now.get(key)}
                differences.append(f"param {key}: expected {recorded.get(key)!r}, got {now.get(key)!r}")
    new_inputs = _latest_by_name(chosen.inputs, project) if chosen else {}
    inputs = []
    for name, (role, old_version) in sorted(_latest_by_name(plan.inputs, project).items()):
        new_version = new_inputs[name][1] if name in new_inputs else None
        inputs.append({
            "name": name,
            "role": role,
            "expected": old_version.digest,
            "new": new_version.digest if new_version else None,
            "same": new_version is not None and new_version.digest == old_version.digest,
        })
    return {
        "verdict": "differs" if differences else "reproducible",
        "ref": plan.ref,
        "original_run": plan.run.id,
        "new_run": chosen.run.id if chosen else None,
        "new_runs": [r.id for r in new_runs],
        "exit_code": returncode,
        "differences": differences,
        "outputs": outputs,
        "params": params,
        "inputs": inputs,
        "code": checks["code"],
        "environment": checks["environment"],
        "warnings": checks["warnings"],
        "env_skipped": checks.get("env_skipped", {}),
    }, [version for _, version in got.values()]


def _pick_new_run(
    store: Store, new_runs: list[Run], names: Any, project: str
) -> Plan | None:
    """Of the new runs, the one whose outputs cover most of the recorded output names (the
    earliest on a tie): a program may record several runs under one name."""
    best: Plan | None = None
    best_score = -1
    for candidate in new_runs:
        candidate_plan = read_plan(candidate.id, store=store)
        score = len(set(names) & _latest_by_name(candidate_plan.outputs, project).keys())
        if score > best_score:
            best, best_score = candidate_plan, score
    return best


def _brief(version: ArtifactVersion) -> dict[str, Any]:
    return {"ref": version.ref, "digest": version.digest}
