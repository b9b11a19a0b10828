"""Package requirements as people type them (``torch``, ``torch==2.3.1``, ``'torch>=2.3,<3'``,
``torch==2.3.*``) and the versions they match. Used by :func:`lineal.lineage.runs_using` and by
the run search's ``env.PACKAGE`` terms, so both read a version the same way.

    parse_requirement("torch==2.3.1")         # ("torch", "==2.3.1")
    version_matcher("2.3.*")("2.3.1")         # True
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .errors import InvalidArgument

__all__ = ["parse_requirement", "version_matcher"]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")
_OPERATOR = re.compile(r"^(===|==|!=|~=|>=|<=|>|<)")


def parse_requirement(text: str) -> tuple[str, str | None]:
    """``torch==2.3.1`` -> ``("torch", "==2.3.1")``; ``torch`` -> ``("torch", None)``."""
    match = _REQUIREMENT.match(text or "")
    if match is None:
        raise InvalidArgument(f"bad package requirement {text!r}",
                              hint="e.g. torch, torch==2.3.1, 'torch>=2.3', 'torch==2.3.*'")
    return match[1], match[2] or None


def version_matcher(spec: str | None) -> Any:
    """A predicate on version strings: None matches all; ``2.3.1`` or ``==2.3.1`` exactly;
    ``2.3.*`` as a glob; other PEP 440 specifiers (``>=2.3,<3``) through ``packaging``."""
    if not spec or not spec.strip():
        return lambda _v: True
    text = spec.strip()
    if not _OPERATOR.match(text):
        text = "==" + text
    if text.startswith("==") and not text.startswith("===") and "," not in text:
        pattern = text[2:].strip()
        if pattern.endswith(".*"):
            # PEP 440 prefix match: 2.3.* covers 2.3 and 2.3.1, not 2.30
            base = pattern[:-2]
            return lambda v: v == base or v.startswith((base + ".", base + "+"))
        if any(c in pattern for c in "*?["):
            return lambda v: fnmatch.fnmatchcase(v, pattern)
        return lambda v: v == pattern or v.split("+", 1)[0] == pattern
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with virtually every environment
        raise InvalidArgument(f"version range {spec!r} needs the 'packaging' library",
                              hint="pip install packaging, or give an exact version or a glob") from None
    try:
        specifier = SpecifierSet(text)
    except InvalidSpecifier:
        raise InvalidArgument(f"bad version specifier {spec!r}", hint="e.g. '>=2.3,<3'") from None

    def matches(version: str) -> bool:
        try:
            return Version(version) in specifier
        except InvalidVersion:
            return False

    return matches
