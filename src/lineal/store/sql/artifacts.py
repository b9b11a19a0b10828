"""Artifact versions, their tags and aliases, and lineage edges in the SQL store."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import ArtifactVersion, Edge, EdgeDirection, Purge, Storage, new_id, us_to_datetime
from ...errors import InvalidArgument, NotFound, Purged
from ...refs import ArtifactRef, SelectorKind, validate_alias, validate_name
from ..base import ArtifactFilter, NewArtifactVersion
from ..types import AliasRecord
from . import tables as t
from .database import Database, WriteTx

av = t.artifact_versions


class ArtifactsMixin:
    db: Database

    def _ensure_project(self, tx: WriteTx, project: str) -> None:  # provided by RunsMixin
        raise NotImplementedError

    def create_artifact_version(
        self, spec: NewArtifactVersion, actor: str
    ) -> tuple[ArtifactVersion, bool]:
        validate_name(spec.project, "project")
        validate_name(spec.name, "artifact name")
        validate_name(spec.producer_role, "role")
        for alias in spec.aliases:
            validate_alias(alias)
        with self.db.write(actor) as tx:
            self._ensure_project(tx, spec.project)
            if spec.producer_run_id is not None:
                self._require(tx.conn, t.runs, spec.producer_run_id, "run")
            artifact = tx.conn.execute(
                sa.select(t.artifacts)
                .where(t.artifacts.c.project == spec.project, t.artifacts.c.name == spec.name)
                .with_for_update()
            ).mappings().first()
            if artifact is None:
                artifact_id = new_id()
                tx.insert(
                    t.artifacts,
                    [
                        {
                            "id": artifact_id,
                            "project": spec.project,
                            "name": spec.name,
                            "kind": spec.kind,
                            "created_at": tx.ts,
                            "latest_version": 0,
                        }
                    ],
                    "artifact.create",
                    artifact_id,
                )
                latest = 0
            else:
                artifact_id, latest = artifact["id"], artifact["latest_version"]
                existing = tx.conn.execute(
                    sa.select(av.c.id).where(av.c.artifact_id == artifact_id, av.c.digest == spec.digest)
                ).first()
                if existing is not None:
                    # Same content under the same name: the existing version, nothing new.
                    found = self._version_by_id(tx.conn, existing[0])
                    if found.purged is not None:
                        # Content erased on request is not quietly recorded again.
                        raise Purged(
                            f"{found.ref} holds this content and was {found.purged}",
                            hint="log it under another name if it may be kept; the bytes just "
                            "stored are unreferenced (`lineal gc` removes them)",
                        )
                    return found, False
            version = latest + 1
            version_id = new_id()
            tx.update(t.artifacts, {"id": artifact_id}, {"latest_version": version}, "artifact.version")
            tx.insert(
                av,
                [
                    {
                        "id": version_id,
                        "artifact_id": artifact_id,
                        "project": spec.project,
                        "name": spec.name,
                        "version": version,
                        "kind": spec.kind,
                        "digest": spec.digest,
                        "uri": spec.uri,
                        "size": spec.size,
                        "storage": str(spec.storage),
                        "is_directory": int(spec.is_directory),
                        "metadata": _metadata_json(spec.metadata),
                        "created_at": tx.ts,
                        "created_by": actor,
                        "producer_run_id": spec.producer_run_id,
                    }
                ],
                "artifact.version.create",
                version_id,
            )
            for key, value in spec.tags.items():
                tx.insert(
                    t.artifact_tags,
                    [{"version_id": version_id, "key": key, "value": str(value)}],
                    "artifact.tag",
                    version_id,
                )
            for alias in spec.aliases:
                self._point_alias(tx, artifact_id, alias, version_id)
            if spec.producer_run_id is not None:
                tx.insert(
                    t.edges,
                    [
                        {
                            "run_id": spec.producer_run_id,
                            "version_id": version_id,
                            "direction": str(EdgeDirection.OUTPUT),
                            "role": spec.producer_role,
                            "created_at": tx.ts,
                        }
                    ],
                    "edge.create",
                    version_id,
                )
            return self._version_by_id(tx.conn, version_id), True

    def _point_alias(self, tx: WriteTx, artifact_id: str, alias: str, version_id: str) -> None:
        aa = t.artifact_aliases
        key = {"artifact_id": artifact_id, "alias": alias}
        present = tx.conn.execute(
            sa.select(aa.c.version_id).where(aa.c.artifact_id == artifact_id, aa.c.alias == alias)
        ).first()
        if present is None:
            tx.insert(aa, [{**key, "version_id": version_id, "updated_at": tx.ts}], "alias.set", "")
        elif present[0] != version_id:
            tx.update(aa, key, {"version_id": version_id, "updated_at": tx.ts}, "alias.move")

    def set_alias(self, project: str, name: str, alias: str, version: int, actor: str) -> None:
        validate_alias(alias)
        if alias == "latest":
            raise InvalidArgument("'latest' is maintained automatically and cannot be set")
        with self.db.write(actor) as tx:
            target = self._resolve(tx.conn, ArtifactRef(project, name, SelectorKind.VERSION, version))
            artifact_id = tx.conn.execute(
                sa.select(av.c.artifact_id).where(av.c.id == target.id)
            ).scalar_one()
            self._point_alias(tx, artifact_id, alias, target.id)

    def remove_alias(self, project: str, name: str, alias: str, actor: str) -> None:
        with self.db.write(actor) as tx:
            artifact_id = self._artifact_id(tx.conn, project, name)
            aa = t.artifact_aliases
            present = tx.conn.execute(
                sa.select(aa.c.alias).where(aa.c.artifact_id == artifact_id, aa.c.alias == alias)
            ).first()
            if present is None:
                raise NotFound(f"{project}/{name} has no alias {alias!r}")
            tx.delete(aa, {"artifact_id": artifact_id, "alias": alias}, "alias.remove")

    def artifact_aliases(self) -> list[AliasRecord]:
        aa = t.artifact_aliases
        query = (sa.select(aa.c.artifact_id, aa.c.alias, aa.c.version_id, av.c.artifact_id)
                 .outerjoin(av, av.c.id == aa.c.version_id).order_by(aa.c.artifact_id, aa.c.alias))
        with self.db.read() as conn:
            return [AliasRecord(*row) for row in conn.execute(query)]

    def set_artifact_tags(self, version_id: str, tags: Mapping[str, str], actor: str) -> None:
        with self.db.write(actor) as tx:
            self._require(tx.conn, av, version_id, "artifact version")
            for key, value in tags.items():
                row_key = {"version_id": version_id, "key": key}
                present = tx.conn.execute(
                    sa.select(t.artifact_tags.c.value).where(
                        t.artifact_tags.c.version_id == version_id, t.artifact_tags.c.key == key
                    )
                ).first()
                if present is None:
                    tx.insert(t.artifact_tags, [{**row_key, "value": str(value)}], "artifact.tag", "")
                elif present[0] != str(value):
                    tx.update(t.artifact_tags, row_key, {"value": str(value)}, "artifact.tag")

    def purge_artifact_version(
        self, version_id: str, reason: str, actor: str
    ) -> tuple[ArtifactVersion, bool]:
        reason = reason.strip()
        if not reason:
            raise InvalidArgument("a purge needs a reason", hint='pass --reason "..."')
        with self.db.write(actor) as tx:
            version = self._version_by_id(tx.conn, version_id)
            if version.purged is not None:
                return version, False
            if version.storage is not Storage.STORED:
                raise InvalidArgument(
                    f"{version.ref} is recorded by reference: lineal holds no bytes of it to purge",
                    hint=f"delete the content at {version.uri} where it lives",
                )
            tx.insert(
                t.purges,
                [{"version_id": version_id, "purged_at": tx.ts, "purged_by": actor,
                  "reason": reason}],
                "artifact.purge",
                version_id,
            )
            return self._version_by_id(tx.conn, version_id), True

    def add_edge(
        self, run_id: str, version_id: str, direction: EdgeDirection, role: str, actor: str
    ) -> None:
        validate_name(role, "role")
        with self.db.write(actor) as tx:
            self._require(tx.conn, t.runs, run_id, "run")
            self._require(tx.conn, av, version_id, "artifact version")
            e = t.edges
            present = tx.conn.execute(
                sa.select(e.c.run_id).where(
                    e.c.run_id == run_id,
                    e.c.version_id == version_id,
                    e.c.direction == str(direction),
                    e.c.role == role,
                )
            ).first()
            if present is None:
                tx.insert(
                    e,
                    [
                        {
                            "run_id": run_id,
                            "version_id": version_id,
                            "direction": str(direction),
                            "role": role,
                            "created_at": tx.ts,
                        }
                    ],
                    "edge.create",
                    version_id,
                )

    def list_edges(self, *, run_id: str | None = None, version_id: str | None = None) -> list[Edge]:
        e = t.edges
        query = sa.select(e)
        if run_id is not None:
            query = query.where(e.c.run_id == run_id)
        if version_id is not None:
            query = query.where(e.c.version_id == version_id)
        with self.db.read() as conn:
            return [
                Edge(
                    row.run_id,
                    row.version_id,
                    EdgeDirection(row.direction),
                    row.role,
                    us_to_datetime(row.created_at),  # type: ignore[arg-type]
                )
                for row in conn.execute(query.order_by(e.c.created_at))
            ]

    # -- reads -----------------------------------------------------------------------------------
    def resolve(self, ref: ArtifactRef) -> ArtifactVersion:
        with self.db.read() as conn:
            return self._resolve(conn, ref)

    def _resolve(self, conn: Connection, ref: ArtifactRef) -> ArtifactVersion:
        return self._version_by_id(conn, self._resolve_id(conn, ref))

    def _resolve_id(self, conn: Connection, ref: ArtifactRef) -> str:
        """The id of the version ``ref`` names (NotFound, or InvalidArgument if ambiguous)."""
        query = sa.select(av.c.id).where(av.c.project == ref.project, av.c.name == ref.name)
        if ref.kind is SelectorKind.VERSION:
            query = query.where(av.c.version == ref.value)
        elif ref.kind is SelectorKind.DIGEST:
            query = query.where(av.c.digest.startswith(f"sha256:{ref.value}"))
        elif ref.kind is SelectorKind.ALIAS:
            aa = t.artifact_aliases
            query = (
                sa.select(aa.c.version_id)
                .join(t.artifacts, t.artifacts.c.id == aa.c.artifact_id)
                .where(
                    t.artifacts.c.project == ref.project,
                    t.artifacts.c.name == ref.name,
                    aa.c.alias == ref.value,
                )
            )
        else:
            query = query.order_by(av.c.version.desc()).limit(1)
        # Only a digest prefix can match two versions; ask for two to notice.
        limit = 2 if ref.kind is SelectorKind.DIGEST else 1
        ids = [row[0] for row in conn.execute(query.limit(limit))]
        if not ids:
            self._artifact_id(conn, ref.project, ref.name)  # NotFound for an unknown name
            raise NotFound(
                f"no version {ref} ",
                hint=f"list versions with `lineal artifacts list --name {ref.name}`",
            )
        if len(ids) > 1:
            raise InvalidArgument(f"digest prefix in {ref} is ambiguous", hint="give more digits")
        return str(ids[0])

    def _artifact_id(self, conn: Connection, project: str, name: str) -> str:
        found = conn.execute(
            sa.select(t.artifacts.c.id).where(
                t.artifacts.c.project == project, t.artifacts.c.name == name
            )
        ).first()
        if found is None:
            raise NotFound(
                f"no artifact named {name!r} in project {project!r}",
                hint="list artifacts with `lineal artifacts list`",
            )
        return str(found[0])

    def get_artifact_version(self, version_id: str) -> ArtifactVersion:
        with self.db.read() as conn:
            return self._version_by_id(conn, version_id)

    def _version_by_id(self, conn: Connection, version_id: str) -> ArtifactVersion:
        row = conn.execute(sa.select(av).where(av.c.id == version_id)).mappings().first()
        if row is None:
            raise NotFound(f"no artifact version with id {version_id!r}")
        return self._hydrate_versions(conn, [row])[0]

    def list_artifact_versions(self, flt: ArtifactFilter) -> list[ArtifactVersion]:
        conditions = []
        for column, value in (
            (av.c.project, flt.project),
            (av.c.name, flt.name),
            (av.c.kind, flt.kind),
            (av.c.producer_run_id, flt.producer_run_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if flt.digest_prefix:
            prefix = flt.digest_prefix
            conditions.append(av.c.digest.startswith(prefix if ":" in prefix else f"sha256:{prefix}"))
        if flt.created_after_us is not None:
            conditions.append(av.c.created_at >= flt.created_after_us)
        if flt.created_before_us is not None:
            conditions.append(av.c.created_at < flt.created_before_us)
        for key, value in flt.tags.items():
            tag = t.artifact_tags.alias()
            conditions.append(
                sa.exists().where(tag.c.version_id == av.c.id, tag.c.key == key, tag.c.value == value)
            )
        query = (
            sa.select(av)
            .where(*conditions)
            .order_by(av.c.created_at.desc(), av.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        )
        with self.db.read() as conn:
            return self._hydrate_versions(conn, list(conn.execute(query).mappings()))

    def _hydrate_versions(self, conn: Connection, rows: list[Any]) -> list[ArtifactVersion]:
        ids = [row["id"] for row in rows]
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, list[str]] = defaultdict(list)
        latest: dict[str, int] = {}
        purges: dict[str, Purge] = {}
        if ids:
            p = t.purges
            for vid, at, by, why in conn.execute(
                sa.select(p.c.version_id, p.c.purged_at, p.c.purged_by, p.c.reason)
                .where(p.c.version_id.in_(ids))
            ):
                purges[vid] = Purge(us_to_datetime(at), by, why)  # type: ignore[arg-type]
            for vid, key, value in conn.execute(
                sa.select(t.artifact_tags.c.version_id, t.artifact_tags.c.key, t.artifact_tags.c.value)
                .where(t.artifact_tags.c.version_id.in_(ids))
            ):
                tags[vid][key] = value
            aa = t.artifact_aliases
            for vid, alias in conn.execute(
                sa.select(aa.c.version_id, aa.c.alias).where(aa.c.version_id.in_(ids))
            ):
                aliases[vid].append(alias)
            artifact_ids = {row["artifact_id"] for row in rows}
            for aid, version in conn.execute(
                sa.select(t.artifacts.c.id, t.artifacts.c.latest_version).where(
                    t.artifacts.c.id.in_(artifact_ids)
                )
            ):
                latest[aid] = version
        out = []
        for row in rows:
            names = sorted(aliases[row["id"]])
            if latest.get(row["artifact_id"]) == row["version"]:
                names.insert(0, "latest")
            out.append(
                ArtifactVersion(
                    id=row["id"],
                    project=row["project"],
                    name=row["name"],
                    version=row["version"],
                    kind=row["kind"],
                    digest=row["digest"],
                    uri=row["uri"],
                    size=row["size"],
                    storage=Storage(row["storage"]),
                    created_at=us_to_datetime(row["created_at"]),  # type: ignore[arg-type]
                    created_by=row["created_by"],
                    producer_run_id=row["producer_run_id"],
                    metadata=json.loads(row["metadata"]),
                    tags=tags[row["id"]],
                    aliases=tuple(names),
                    is_directory=bool(row["is_directory"]),
                    purged=purges.get(row["id"]),
                )
            )
        return out

    @staticmethod
    def _require(conn: Connection, table: sa.Table, key: str, what: str) -> None:
        if conn.execute(sa.select(table.c.id).where(table.c.id == key)).first() is None:
            raise NotFound(f"no {what} with id {key!r}")


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    try:
        return canonical_json(dict(metadata))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            "artifact metadata must be JSON-serialisable", hint=str(exc)
        ) from exc
