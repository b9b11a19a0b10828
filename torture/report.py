"""Render the campaigns' results as ``docs/reliability.md`` (Markdown tables).

The page says what was measured, on what machine, with which command, and labels a ``--quick``
run as such: a quick run checks that the harness works; it is not a published figure.
"""

from __future__ import annotations

from typing import Any

from torture.common import NOT_AVAILABLE


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "**NO**"


def headline(results: dict[str, Any]) -> list[list[Any]]:
    """The figures with their targets: ``[figure, value, target]`` rows."""
    rows: list[list[Any]] = []
    kills = [k for k in results.get("kill", []) if not k.get("skipped")]
    if kills:
        rows.append(["acknowledged writes lost after SIGKILL",
                     sum(k["lost"] for k in kills), 0])
        rows.append(["acknowledged writes missing when all are rechecked after the last kill",
                     sum(k.get("lost_at_end", 0) for k in kills), 0])
        rows.append(["corrupt stores after SIGKILL (integrity_check, verify, audit verify)",
                     sum(k["corrupt"] for k in kills), 0])
        rows.append(["stores that failed to reopen after SIGKILL",
                     sum(k["reopen_failures"] for k in kills), 0])
        rows.append(["killed children that had already failed on an error of their own",
                     sum(k.get("child_errors", 0) for k in kills), 0])
        rows.append(["runs left `running` by killed processes", sum(k["stale_runs"] for k in kills),
                     "closed by `close_stale_runs`"])
        after = [k["stale_after_close"] for k in kills]
        rows.append(["... still `running` after `close_stale_runs`",
                     sum(after) if all(isinstance(a, int) for a in after) else _first_text(after), 0])
        rows.append(["leftover temp files in blob folders", sum(k["leftover"] for k in kills),
                     "removed by `lineal gc`"])
        after = [k["leftover_after_gc"] for k in kills]
        rows.append(["... left after `lineal gc`",
                     sum(after) if all(isinstance(a, int) for a in after) else _first_text(after), 0])
    writers = [w for w in results.get("writers", []) if not w.get("skipped")]
    if writers:
        rows.append(["concurrent writers: errors other than the documented Conflict",
                     sum(w["errors"] for w in writers), 0])
        rows.append(["concurrent writers: acknowledged writes lost", sum(w["lost"] for w in writers), 0])
        rows.append(["concurrent writers: stores failing verify or audit verify",
                     sum(not (w["verify_ok"] and w["audit_ok"]) for w in writers), 0])
    bad = results.get("badinput")
    if bad:
        rows.append([f"raw tracebacks for user input ({len(bad['outcomes'])} cases)",
                     bad["tracebacks"], 0])
        rows.append(["bad input accepted silently", bad["accepted_silently"], 0])
        rows.append(["valid input refused", bad["refused_valid"], 0])
    tamper = results.get("tamper")
    if tamper:
        applied = [o for o in tamper["outcomes"] if o["applied"] == "yes"]
        rows.append([f"tamper cases caught ({len(applied)} applied)",
                     sum(o["caught"] for o in applied),
                     sum(o["expected"] == "caught" for o in applied)])
        rows.append(["tamper cases missed that the design should catch", tamper["missed"], 0])
    return rows


def _first_text(values: list[Any]) -> str:
    texts = [v for v in values if not isinstance(v, int)]
    return str(texts[0]) if texts else NOT_AVAILABLE


def render(results: dict[str, Any], command: str, machine: dict[str, str], quick: bool) -> str:
    parts = ["# Reliability: published figures", ""]
    if quick:
        parts += ["> **QUICK RUN.** Produced by `--quick` (a handful of iterations per campaign, as "
                  "the test suite runs it). It shows that the harness works and what it measures; "
                  "it is **not** the published figure. Regenerate with `make torture`.", ""]
    parts += [
        "Written by `make torture` (`torture/run.py`). Each campaign runs lineal in child "
        "processes against real databases; see the docstrings in `torture/` for exactly what is "
        "checked. A check this build cannot run yet says so instead of failing.",
        "",
        f"Command: `{command}`",
        "",
        "## Machine",
        "",
        _table(["", ""], [[k, v] for k, v in machine.items()]),
        "",
        "## Headline figures",
        "",
        _table(["figure", "value", "target"], headline(results)),
        "",
    ]
    parts += _kill_section(results.get("kill", []))
    parts += _writers_section(results.get("writers", []))
    parts += _badinput_section(results.get("badinput"))
    parts += _tamper_section(results.get("tamper"))
    return "\n".join(parts).rstrip() + "\n"


def _kill_section(kills: list[dict[str, Any]]) -> list[str]:
    if not kills:
        return []
    rows = []
    for k in kills:
        if k.get("skipped"):
            rows.append([k["backend"], f"skipped: {k['skipped']}"] + [""] * 12)
            continue
        rows.append([k["backend"], k["iterations"], k["killed_while_opening"],
                     k["finished_before_kill"], k.get("child_errors", 0), k["acknowledged"],
                     k["lost"],
                     k.get("lost_at_end", 0), k["corrupt"],
                     k["stale_runs"], k["stale_after_close"], k["leftover"], k["leftover_after_gc"],
                     k["seconds"]])
    out = [
        "## 1. SIGKILL at random points", "",
        "Each iteration a child process opens the store and works like a training script (runs, "
        "params, metric loops, `flush()`, small artifacts, model registration, alias moves); "
        "after each call lineal acknowledged it appends the fact to an fsynced journal. The "
        "parent SIGKILLs it at a random moment (one in ten while it is still opening the store), "
        "reopens the store and checks every journaled fact, `PRAGMA integrity_check`, "
        "`lineal verify` and `lineal audit verify`. One store per backend for all iterations. "
        "SIGKILL ends the process, not the machine: this shows that lineal acknowledges nothing "
        "before it is committed and that a store survives any interrupted writer; a power loss, "
        "which the durability settings above are about, is not simulated.", "",
        _table(["backend", "kills", "killed before the store was open",
                "exited before the kill", "failed on their own", "acknowledged facts checked",
                "lost", "lost by the end", "corrupt", "runs left running",
                "running after close_stale_runs", "leftover temp files", "left after gc",
                "seconds"], rows), "",
    ]
    notes = [f"- {k['backend']}: {e}" for k in kills for e in k.get("examples", [])]
    if notes:
        out += ["Findings (first few):", "", *notes, ""]
    return out


def _writers_section(writers: list[dict[str, Any]]) -> list[str]:
    if not writers:
        return []
    rows = []
    for w in writers:
        if w.get("skipped"):
            rows.append([w["backend"], f"skipped: {w['skipped']}"] + [""] * 8)
            continue
        rows.append([w["backend"], f"{w['writers']} x {w['per_writer']}", w["runs"], w["versions"],
                     w["alias_moves"], w["conflicts"], w["errors"], w["lost"],
                     f"{_yes(w['verify_ok'])} / {_yes(w['audit_ok'])}", w["seconds"]])
    out = [
        "## 2. Concurrent writers", "",
        "Writer processes start together on one store; each logs runs with metrics, a version of "
        "an artifact all share, a model version of one shared registered model, and moves the "
        "model's one alias with compare-and-set (`Conflict` when another writer moved it first "
        "is the documented outcome). Then every acknowledged run, point, version and alias move "
        "is counted in the store.", "",
        _table(["backend", "writers x items", "runs", "versions", "alias moves won",
                "Conflict (documented)", "other errors", "lost", "verify / audit verify",
                "seconds"], rows), "",
    ]
    notes = [f"- {w['backend']}: {e}" for w in writers for e in w.get("examples", [])]
    if notes:
        out += ["Findings (first few):", "", *notes, ""]
    return out


def _badinput_section(bad: dict[str, Any] | None) -> list[str]:
    if not bad:
        return []
    rows = [[o["case"], o["kind"], o["expect"], o["exit_code"], "yes" if o["traceback"] else "no",
             o["verdict"], f"`{o['first_line'][:120]}`" if o["first_line"] else ""]
            for o in bad["outcomes"]]
    return [
        "## 3. Bad input", "",
        f"Each case runs in its own process. Raw tracebacks: **{bad['tracebacks']}** of "
        f"{len(bad['outcomes'])} (target 0); accepted silently: {bad['accepted_silently']}; "
        f"valid input refused: {bad['refused_valid']}. SDK cases run under a wrapper that prints "
        "a `LinealError` as one line, as a script author sees it; `expect` says whether the "
        "input must be refused (`error`), must work (`ok`) or may do either (`any`).", "",
        _table(["case", "via", "expect", "exit", "traceback", "verdict", "first stderr line"], rows),
        "",
    ]


def _tamper_section(tamper: dict[str, Any] | None) -> list[str]:
    if not tamper:
        return []
    rows = []
    for o in tamper["outcomes"]:
        audit = "-" if o["audit_exit"] is None else (
            f"caught ({', '.join(o['audit_kinds'])})" if o["audit_exit"] else "not caught")
        verify = "-" if o["verify_exit"] is None else (
            f"caught ({', '.join(o['verify_kinds'])})" if o["verify_exit"] else "not caught")
        verdict = o["applied"] if o["applied"] != "yes" else (
            "caught" if o["caught"] else "not caught (by design)" if o["expected"] == "by design"
            else "**MISSED**")
        rows.append([o["case"], audit, verify, verdict])
    out = [
        "## 4. Tampering", "",
        "A small SQLite store (runs, params, metrics, artifact versions, a registered model with "
        "an alias) is copied for each case, changed with raw SQL or a file edit, and checked "
        "with `lineal audit verify` and `lineal verify`. Control (untampered copy): "
        f"{'both pass' if tamper['control_ok'] else '**FAILED** ' + tamper['control_detail']}.", "",
        _table(["tampering", "lineal audit verify", "lineal verify", "verdict"], rows), "",
    ]
    by_design = [o for o in tamper["outcomes"] if o["expected"] == "by design"]
    if by_design:
        out += ["What the ledger's design cannot catch, and why:", ""]
        out += [f"- **{o['case']}**: {o['why']}." for o in by_design]
        out += ["", "`lineal audit verify` prints the head hash; recording it outside the database "
                "(a ticket, a commit, a notary) and comparing it later closes this gap.", ""]
    return out
