"""Reading model versions whole, in two statements: the version with its model and artifact
(one join), then its tags, aliases and approvals (one ``UNION ALL``).

Resolving a reference (``churn@prod``) is the registry's hottest read: a serving fleet asks it
on every start and a deployment on every poll. It runs as two :class:`Prepared` statements on
the driver's cursor: the first finds the model and the version the selector names together
(a left join, so that a missing version still tells the model's state for the error), the second
the version's tags, aliases and approvals. Reading several versions at once
(:func:`hydrate_versions`) takes the same two statements, through Core with ``IN`` lists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import Approval, Decision, ModelVersion, Stage, us_to_datetime
from ...errors import InvalidArgument, NotFound
from ...refs import ArtifactRef, SelectorKind
from . import tables as t
from . import tables_registry as tr
from .prepared import DriverReads, Prepared

__all__ = ["check_version_number", "hydrate_versions", "model_not_found", "resolve_version"]

rm, mv, ma, av = tr.registered_models, tr.model_versions, tr.model_aliases, t.artifact_versions
vt, ap = tr.model_version_tags, tr.model_approvals

#: The model version row's columns (``model_versions``), in table order.
VERSION_COLUMNS = [c for c in mv.columns if c.name != "ledger_seq"]
#: What a version takes from its model and its artifact version.
_JOINED = [rm.c.project.label("m_project"), rm.c.name.label("m_name"),
           av.c.project.label("a_project"), av.c.name.label("a_name"),
           av.c.version.label("a_version"), av.c.digest.label("a_digest"),
           av.c.producer_run_id.label("a_run")]
_N_VERSION = len(VERSION_COLUMNS)


def _resolve_statement(kind: SelectorKind) -> Prepared:
    """The model ``(project, name)`` left-joined to the version ``kind`` selects: one row
    with the version's columns NULL when there is none (two at most for a digest prefix)."""
    version = mv.join(av, av.c.id == mv.c.artifact_version_id)
    on = mv.c.model_id == rm.c.id
    if kind is SelectorKind.ALIAS:
        version = ma.join(version, mv.c.id == ma.c.version_id)
        on = sa.and_(ma.c.model_id == rm.c.id, ma.c.alias == sa.bindparam("alias"))
    elif kind is SelectorKind.VERSION:
        on = sa.and_(on, mv.c.version == sa.bindparam("version"))
    elif kind is SelectorKind.DIGEST:
        on = sa.and_(on, av.c.digest.startswith(sa.bindparam("digest_prefix")))
    else:
        on = sa.and_(on, mv.c.version == rm.c.latest_version)
    query = (
        sa.select(rm.c.latest_version, *VERSION_COLUMNS, *_JOINED)
        .select_from(rm.outerjoin(version, on))
        .where(rm.c.project == sa.bindparam("project"), rm.c.name == sa.bindparam("name"))
    )
    return Prepared(query.limit(2) if kind is SelectorKind.DIGEST else query)


_RESOLVE = {kind: _resolve_statement(kind) for kind in SelectorKind}


def _extras(match: Any) -> sa.CompoundSelect[Any]:
    """Tags (``t``), aliases (``a``) and approvals (``p``) of the versions ``match`` selects,
    as one result: ``(kind, version_id, text, text, text, text, text, created_at, seq)``."""
    none, number = sa.null(), sa.cast(sa.null(), sa.BigInteger)  # PostgreSQL types each
    return sa.union_all(
        sa.select(sa.literal_column("'t'"), vt.c.version_id, vt.c.key, vt.c.value,
                  none, none, none, number, number).where(match(vt.c.version_id)),
        sa.select(sa.literal_column("'a'"), ma.c.version_id, ma.c.alias,
                  none, none, none, none, number, number).where(match(ma.c.version_id)),
        sa.select(sa.literal_column("'p'"), ap.c.version_id, ap.c.id, ap.c.decision, ap.c.stage,
                  ap.c.actor, ap.c.comment, ap.c.created_at, ap.c.ledger_seq)
        .where(match(ap.c.version_id)),
    )


_EXTRAS_ONE = Prepared(_extras(lambda column: column == sa.bindparam("version_id")))
_EXTRAS_MANY = _extras(lambda column: column.in_(sa.bindparam("ids", expanding=True)))
_JOINED_MANY = (
    sa.select(mv.c.id, *_JOINED)
    .select_from(mv.join(rm, rm.c.id == mv.c.model_id)
                 .join(av, av.c.id == mv.c.artifact_version_id))
    .where(mv.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def resolve_version(reads: DriverReads, ref: ArtifactRef) -> ModelVersion:
    """The model version ``ref`` names; NotFound (or InvalidArgument) as the registry words
    it: no such model, no such version, alias or digest, an ambiguous digest prefix."""
    params: dict[str, Any] = {"project": ref.project, "name": ref.name}
    number: int | None = None
    if ref.kind is SelectorKind.ALIAS:
        params["alias"] = ref.value
    elif ref.kind is SelectorKind.DIGEST:
        params["digest_prefix"] = f"sha256:{ref.value}"
    elif ref.kind is SelectorKind.VERSION:
        number = _number(ref.value)
        params["version"] = number if number is not None else -1  # checked once found
    rows = reads.all(_RESOLVE[ref.kind], params)
    if not rows:
        raise model_not_found(ref.project, ref.name)
    base = f"{ref.project}/{ref.name}"
    latest = rows[0][0]
    found = [row[1:] for row in rows if row[1] is not None]
    if ref.kind is SelectorKind.VERSION:
        check_version_number(ref.value if number is None else number)
        if not found:
            raise version_not_found(ref.project, ref.name, latest,
                                    ref.value if number is None else number)
    elif ref.kind is SelectorKind.ALIAS and not found:
        raise NotFound(f"{base} has no alias {ref.value!r}",
                       hint=f"see its aliases with `lineal registry show {ref.name}`")
    elif ref.kind is SelectorKind.DIGEST:
        if len(found) > 1:
            raise InvalidArgument(f"digest prefix in {ref} is ambiguous", hint="give more digits")
        if not found:
            raise NotFound(f"no version of {base} has a digest starting with sha256:{ref.value}")
    elif ref.kind is SelectorKind.LATEST and not found:
        if latest == 0:
            raise NotFound(f"{base} has no versions yet")
        raise version_not_found(ref.project, ref.name, latest, latest)
    row = found[0]
    extras = reads.all(_EXTRAS_ONE, {"version_id": row[0]})
    return _assemble([row[:_N_VERSION]], {row[0]: row[_N_VERSION:]}, extras)[0]


def hydrate_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """``ModelVersion`` objects of ``model_versions`` rows (mappings), in their order."""
    if not rows:
        return []
    ids = list({row["id"]: None for row in rows})
    joined: dict[str, Sequence[Any]] = {
        r[0]: tuple(r[1:]) for r in conn.execute(_JOINED_MANY, {"ids": ids})}
    extras = list(conn.execute(_EXTRAS_MANY, {"ids": ids}))
    plain = [tuple(row[c.name] for c in VERSION_COLUMNS) for row in rows]
    return _assemble(plain, joined, extras)


def _assemble(rows: Sequence[Sequence[Any]], joined: dict[str, Sequence[Any]],
              extras: Sequence[Sequence[Any]]) -> list[ModelVersion]:
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    aliases: dict[str, list[str]] = defaultdict(list)
    reviews: dict[str, list[Sequence[Any]]] = defaultdict(list)
    for kind, version_id, *rest in extras:
        if kind == "t":
            tags[version_id][rest[0]] = rest[1]
        elif kind == "a":
            aliases[version_id].append(rest[0])
        else:
            reviews[version_id].append(rest)
    out = []
    for (vid, _model_id, number, artifact_version_id, description, stage, status, created_at,
         updated_at, created_by) in rows:
        project, model, a_project, a_name, a_version, a_digest, a_run = joined[vid]
        approvals = sorted(reviews[vid], key=lambda r: (r[5], -1 if r[6] is None else r[6]))
        out.append(ModelVersion(
            id=vid,
            project=project,
            model=model,
            version=number,
            artifact_version_id=artifact_version_id,
            artifact_ref=f"{a_project}/{a_name}@v{a_version}",
            artifact_digest=a_digest,
            stage=Stage(stage),
            status=status,
            created_at=us_to_datetime(created_at),  # type: ignore[arg-type]
            updated_at=us_to_datetime(updated_at),  # type: ignore[arg-type]
            created_by=created_by,
            description=description,
            tags=tags[vid],
            aliases=tuple(sorted(aliases[vid])),
            run_id=a_run,
            approvals=tuple(
                Approval(id=a_id, version_id=vid, decision=Decision(decision), stage=a_stage,
                         actor=actor, created_at=us_to_datetime(at),  # type: ignore[arg-type]
                         comment=comment)
                for a_id, decision, a_stage, actor, comment, at, _seq in approvals),
        ))
    return out


def _number(value: Any) -> int | None:
    """The version number a ``@vN`` selector holds, or None if it holds none."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 2**63 - 1 else None


def check_version_number(version: Any) -> None:
    """InvalidArgument unless ``version`` is a version number (an int from 1)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgument(f"version numbers start at 1, got {version!r}")


def model_not_found(project: str, name: str) -> NotFound:
    return NotFound(
        f"no registered model {name!r} in project {project!r}",
        hint="list models with `lineal registry models`; register one with "
        f"`lineal registry register {name} --from ARTIFACT_REF`",
    )


def version_not_found(project: str, name: str, latest: int, version: Any) -> NotFound:
    known = f"versions are v1..v{latest}" if latest else "it has no versions yet"
    return NotFound(f"{project}/{name} has no version {version} ({known})")
