"""Write the Python API reference (``docs/api.md``) from the public modules themselves.

    python -m lineal.apidoc -o docs/api.md          # regenerate
    python -m lineal.apidoc --check docs/api.md     # exit 1 if it is stale

Each public module's ``__all__`` is documented: signatures and docstrings as the code has them,
so the reference cannot drift from the code (``tests/core/test_api_docs.py`` fails until the
file is regenerated).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

__all__ = ["MODULES", "REGENERATE", "render_markdown"]

REGENERATE = ".venv/bin/python -m lineal.apidoc -o docs/api.md"

MODULES: dict[str, str] = {
    "lineal": "Recording runs, artifacts and models; reading them back.",
    "lineal.datasets": "Dataset fingerprints, schemas, profiles and diffs.",
    "lineal.models": "Saving and loading models in their frameworks' formats.",
    "lineal.registry": "The model registry: versions, stages, aliases, approvals, history.",
    "lineal.deployments": "Deployment records: what is live where, since when; recover, rollback.",
    "lineal.lineage": "Graph queries, the questions users ask, taint and impact, diff, export.",
    "lineal.audit": "The tamper-evident audit ledger.",
    "lineal.reproduce": "Recreating an artifact from what its run recorded.",
    "lineal.auth": "Authentication and roles for `lineal server`: API tokens, OIDC, a trusted proxy.",
    "lineal.server": "The server application: `create_app(settings)` and its settings.",
    "lineal.server.testing": "Test helpers: a server in this process or in a child process.",
    "lineal.webhooks": "Registry, deployment and taint events POSTed to registered URLs.",
}
# Submodules exported as attributes of ``lineal`` are documented in their own section.
_SUBMODULES = {name.rsplit(".", 1)[1] for name in MODULES if "." in name}


def _signature(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""
    return text.replace("'", "")


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip()


def _entry(module: str, name: str, obj: Any) -> list[str]:
    lines: list[str] = []
    if inspect.isclass(obj):
        lines.append(f"### `{module}.{name}`\n")
        lines.append(f"```python\nclass {name}{_signature(obj)}\n```\n")
        if _doc(obj):
            lines.append(_doc(obj) + "\n")
        methods = [
            (m, member) for m, member in vars(obj).items()
            if not m.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
        ]
        for method, member in sorted(methods):
            if isinstance(member, property):
                lines.append(f"- `.{method}` (property): {_first_line(member)}")
            else:
                lines.append(f"- `.{method}{_signature(member)}`: {_first_line(member)}")
        if methods:
            lines.append("")
    elif callable(obj):
        lines.append(f"### `{module}.{name}()`\n")
        lines.append(f"```python\n{name}{_signature(obj)}\n```\n")
        if _doc(obj):
            lines.append(_doc(obj) + "\n")
    else:
        lines.append(f"### `{module}.{name}`\n")
        lines.append(f"`{obj!r}`\n")
    return lines


def _first_line(obj: Any) -> str:
    doc = _doc(obj)
    return doc.split("\n\n", 1)[0].replace("\n", " ") if doc else ""


def render_markdown() -> str:
    out = [
        "# lineal Python API reference\n",
        f"<!-- Generated from the code by `{REGENERATE}`. Do not edit by hand:\n"
        "     tests/core/test_api_docs.py fails when this file and the code disagree. -->\n",
        "Every name below is importable as written; heavy modules load on first use.\n",
    ]
    out += [f"- [`{m}`](#{m.replace('.', '')}): {what}" for m, what in MODULES.items()]
    out.append("")
    for module_name, what in MODULES.items():
        module = importlib.import_module(module_name)
        out.append(f"## {module_name}\n")
        out.append(f"{what}\n")
        doc = _doc(module)
        if doc:
            out.append(doc + "\n")
        names = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
        for name in names:
            if module_name == "lineal" and name in _SUBMODULES:
                out.append(f"### `lineal.{name}`\n\nThe module; see [lineal.{name}](#lineal{name}).\n")
                continue
            if name == "__version__":
                continue
            out += _entry(module_name, name, getattr(module, name))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Python API reference.")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--check", type=Path, help="exit 1 if this file is not up to date")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.check:
        current = args.check.read_text() if args.check.exists() else ""
        if current != text:
            print(f"{args.check} is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
