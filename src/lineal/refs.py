"""The one reference syntax, shared by the SDK, the CLI, the server and the UI.

    name                     the latest version of ``name`` in the default project
    name@v3                  version 3
    name@latest              the highest version (maintained automatically)
    name@champion            whatever version the alias ``champion`` points at
    name@sha256:3f2a9c       the version whose content digest starts with that prefix
    project/name@...         any of the above in another project

Names and aliases are validated here, once, so a bad one is rejected before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidArgument

__all__ = [
    "ArtifactRef",
    "SelectorKind",
    "parse_ref",
    "validate_alias",
    "validate_display_name",
    "validate_name",
]

DEFAULT_PROJECT = "default"
#: Versions are stored as 64-bit integers; a larger number cannot name any version.
MAX_VERSION = 2**63 - 1
#: Display names (run names) are free text up to this many characters, as in other trackers.
MAX_DISPLAY_NAME = 128

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_RE = re.compile(r"^v?([0-9]+)$")
_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{4,64})$")


class SelectorKind(StrEnum):
    LATEST = "latest"
    VERSION = "version"
    ALIAS = "alias"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    project: str
    name: str
    kind: SelectorKind
    value: str | int | None = None

    def __str__(self) -> str:
        base = f"{self.project}/{self.name}"
        if self.kind is SelectorKind.LATEST:
            return f"{base}@latest"
        if self.kind is SelectorKind.VERSION:
            return f"{base}@v{self.value}"
        if self.kind is SelectorKind.DIGEST:
            return f"{base}@sha256:{self.value}"
        return f"{base}@{self.value}"


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a valid artifact, run, model or project name, else raise."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidArgument(
            f"invalid {what} {name!r}",
            hint="use 1-128 characters: letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    return name


def validate_display_name(name: str, what: str = "run name") -> str:
    """Return ``name`` if it is a valid display name (a run name), else raise.

    Run names are labels people read ("baseline lr=0.1", "exp/1"), not parts of a reference,
    so any printable text is accepted; control characters (a newline would break every table
    and log line) and surrounding whitespace are not.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            f"invalid {what} {name!r}",
            hint=f"use 1-{MAX_DISPLAY_NAME} printable characters",
        )
    if not name.isprintable() or name != name.strip():
        raise InvalidArgument(
            f"invalid {what} {name!r}: it has control characters or surrounding whitespace",
            hint=f"use 1-{MAX_DISPLAY_NAME} printable characters, e.g. 'baseline lr=0.1'",
        )
    return name


def validate_alias(alias: str) -> str:
    """Aliases are names that cannot be mistaken for a version or a digest."""
    validate_name(alias, "alias")
    if _VERSION_RE.fullmatch(alias):
        raise InvalidArgument(
            f"alias {alias!r} looks like a version number",
            hint="aliases are names such as 'champion' or 'prod'; refer to versions as 'v3'",
        )
    if alias.startswith("sha256"):
        raise InvalidArgument(f"alias {alias!r} looks like a digest", hint="choose another name")
    return alias


def parse_ref(ref: str | ArtifactRef, project: str | None = None) -> ArtifactRef:
    """Parse a reference string; ``project`` is used when the reference names none.

    >>> parse_ref("churn@v3")
    ArtifactRef(project='default', name='churn', kind=<SelectorKind.VERSION: 'version'>, value=3)
    """
    if isinstance(ref, ArtifactRef):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument(f"empty or non-string reference {ref!r}", hint="e.g. 'churn@v3'")
    text = ref.strip()
    base, sep, selector = text.partition("@")
    if "/" in base:
        proj, _, name = base.partition("/")
        if "/" in name:
            raise InvalidArgument(
                f"reference {ref!r} has more than one '/'", hint="use project/name@selector"
            )
    else:
        proj, name = project or DEFAULT_PROJECT, base
    validate_name(proj, "project")
    validate_name(name, "artifact name")
    if not sep or selector == "latest":
        if sep and not selector:
            raise InvalidArgument(f"reference {ref!r} ends with '@'", hint="e.g. 'churn@v3'")
        return ArtifactRef(proj, name, SelectorKind.LATEST)
    if match := _VERSION_RE.fullmatch(selector):
        digits = match.group(1).lstrip("0")
        if len(digits) > 19 or int(digits or "0") > MAX_VERSION:
            # Checked before anything reaches the database, whose integers stop at 2**63 - 1.
            raise InvalidArgument(
                f"version {selector!r} in {ref!r} is too large",
                hint=f"version numbers go from 1 to {MAX_VERSION}",
            )
        version = int(digits or "0")
        if version < 1:
            raise InvalidArgument(f"version numbers start at 1, got {selector!r}")
        return ArtifactRef(proj, name, SelectorKind.VERSION, version)
    if match := _DIGEST_RE.fullmatch(selector.lower()):
        return ArtifactRef(proj, name, SelectorKind.DIGEST, match.group(1))
    if selector.startswith("sha256:"):
        raise InvalidArgument(
            f"bad digest selector in {ref!r}",
            hint="use sha256: followed by at least 4 lowercase hex characters",
        )
    validate_name(selector, "alias")
    return ArtifactRef(proj, name, SelectorKind.ALIAS, selector)
