"""The model registry in the SQL store: registered models, versions, aliases, stages, approvals,
the registry event history and the admin setting. Deployments are in ``deployments.py``.

Every method that changes something runs in one ``Database.write`` transaction, which holds the
ledger head lock from its first statement: checks (policy, compare-and-set) and the change they
guard see the same committed state and no other writer can interleave, on every backend. The
change and its registry event are written in that transaction, each as an audit ledger entry.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import (
    NOT_SET,
    Approval,
    Decision,
    ModelPolicy,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
    _NotSet,
    new_id,
    now_us,
    us_to_datetime,
)
from ...errors import AlreadyExists, InvalidArgument, NotFound
from ...refs import ArtifactRef, validate_name
from . import tables as t
from . import tables_registry as tr
from .database import Database, WriteTx
from .deployments import DeploymentsMixin
from .registry_events import event_ts, record_event
from .registry_policy import (
    check_alias,
    check_reviewer,
    checked_policy,
    compare_alias,
    guard_protected,
    loosened,
    require_admin,
    require_approval,
    stored_admins,
    write_admins,
)
from .registry_reads import (
    check_version_number,
    hydrate_versions,
    model_not_found,
    resolve_version,
    version_not_found,
)

rm, mv, ma, ev = tr.registered_models, tr.model_versions, tr.model_aliases, tr.registry_events
av = t.artifact_versions
UNREVIEWED = "unreviewed"


class RegistryMixin(DeploymentsMixin):
    db: Database

    def _ensure_project(self, tx: WriteTx, project: str) -> None:  # provided by RunsMixin
        raise NotImplementedError

    # -- registered models -----------------------------------------------------------------------
    def create_registered_model(
        self,
        project: str,
        name: str,
        *,
        actor: str,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        policy: ModelPolicy | None = None,
    ) -> RegisteredModel:
        validate_name(project, "project")
        validate_name(name, "model name")
        policy = checked_policy(policy or ModelPolicy())
        tags = _checked_tags(tags)
        with self.db.write(actor) as tx:
            if _find_model(tx.conn, project, name) is not None:
                raise AlreadyExists(
                    f"model {project}/{name} is already registered",
                    hint=f"add a version with `lineal registry register {name} --from REF`",
                )
            row = self._insert_model(tx, project, name, description, owner, tags, policy)
            return self._models(tx.conn, [row])[0]

    def _insert_model(
        self, tx: WriteTx, project: str, name: str, description: str = "", owner: str = "",
        tags: dict[str, str] | None = None, policy: ModelPolicy | None = None,
    ) -> dict[str, Any]:
        """Insert a registered model row, its tags and its ``model.create`` event inside ``tx``
        (also used by :meth:`create_model_version` creating the model with its first version)."""
        self._ensure_project(tx, project)
        tags = tags or {}
        policy = policy or ModelPolicy()
        model_id, ts = new_id(), now_us()
        row = {
            "id": model_id,
            "project": project,
            "name": name,
            "description": description or "",
            "owner": owner or tx.actor,
            "policy": canonical_json(policy.to_dict()),
            "latest_version": 0,
            "created_at": ts,
            "updated_at": ts,
            "created_by": tx.actor,
        }
        tx.insert(rm, [row], "registry.model.create", model_id)
        for key, value in tags.items():
            tx.insert(
                tr.registered_model_tags,
                [{"model_id": model_id, "key": key, "value": value}],
                "registry.model.tag",
                model_id,
            )
        after = {
            "description": row["description"],
            "owner": row["owner"],
            "tags": tags,
            "policy": policy.to_dict(),
        }
        record_event(tx, model_id, "model.create", ts, after=after)
        return row

    def find_registered_model(self, project: str, name: str) -> RegisteredModel | None:
        with self.db.read() as conn:
            row = _find_model(conn, project, name)
            return None if row is None else self._models(conn, [row])[0]

    def list_registered_models(
        self, project: str | None = None, *, limit: int = 1000, offset: int = 0
    ) -> list[RegisteredModel]:
        query = sa.select(rm).order_by(rm.c.project, rm.c.name).limit(limit).offset(offset)
        if project is not None:
            query = query.where(rm.c.project == project)
        with self.db.read() as conn:
            return self._models(conn, list(conn.execute(query).mappings()))

    def update_registered_model(
        self,
        project: str,
        name: str,
        *,
        actor: str,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        tags = _checked_tags(tags)
        with self.db.write(actor) as tx:
            row = _model_row(tx.conn, project, name)
            ts = event_ts(tx, row["id"])
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            values: dict[str, Any] = {}
            for field, value in (("description", description), ("owner", owner)):
                if value is not None and value != row[field]:
                    before[field], after[field] = row[field], value
                    values[field] = value
            changed_tags = _write_tags(
                tx, tr.registered_model_tags, "model_id", row["id"], tags, "registry.model.tag"
            )
            if changed_tags:
                before["tags"] = {k: old for k, (old, _new) in changed_tags.items()}
                after["tags"] = {k: new for k, (_old, new) in changed_tags.items()}
            if not after:
                return self._models(tx.conn, [row])[0]
            row = tx.update(rm, {"id": row["id"]}, {**values, "updated_at": ts}, "registry.model.update")
            record_event(tx, row["id"], "model.update", ts, before=before, after=after)
            return self._models(tx.conn, [row])[0]

    def set_model_policy(
        self, project: str, name: str, policy: ModelPolicy, *, actor: str
    ) -> RegisteredModel:
        policy = checked_policy(policy)
        with self.db.write(actor) as tx:
            row = _model_row(tx.conn, project, name)
            current = ModelPolicy.from_dict(json.loads(row["policy"]))
            if current == policy:
                return self._models(tx.conn, [row])[0]
            what = loosened(current, policy)
            if what is not None:
                require_admin(tx.conn, actor, f"{what} on {project}/{name}", project)
            ts = event_ts(tx, row["id"])
            row = tx.update(
                rm,
                {"id": row["id"]},
                {"policy": canonical_json(policy.to_dict()), "updated_at": ts},
                "registry.policy.update",
            )
            record_event(
                tx, row["id"], "policy.update", ts, before=current.to_dict(), after=policy.to_dict()
            )
            return self._models(tx.conn, [row])[0]

    def _models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        ids = [row["id"] for row in rows]
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        if ids:
            mt = tr.registered_model_tags
            for model_id, key, value in conn.execute(
                sa.select(mt.c.model_id, mt.c.key, mt.c.value).where(mt.c.model_id.in_(ids))
            ):
                tags[model_id][key] = value
            for model_id, alias, version in conn.execute(
                sa.select(ma.c.model_id, ma.c.alias, mv.c.version)
                .join(mv, mv.c.id == ma.c.version_id)
                .where(ma.c.model_id.in_(ids))
            ):
                aliases[model_id][alias] = version
        return [
            RegisteredModel(
                id=row["id"],
                project=row["project"],
                name=row["name"],
                created_at=us_to_datetime(row["created_at"]),  # type: ignore[arg-type]
                updated_at=us_to_datetime(row["updated_at"]),  # type: ignore[arg-type]
                created_by=row["created_by"],
                description=row["description"],
                owner=row["owner"],
                tags=tags[row["id"]],
                policy=ModelPolicy.from_dict(json.loads(row["policy"])),
                latest_version=row["latest_version"],
                aliases=dict(sorted(aliases[row["id"]].items())),
            )
            for row in rows
        ]

    # -- versions --------------------------------------------------------------------------------
    def create_model_version(
        self,
        project: str,
        name: str,
        artifact_version_id: str,
        *,
        actor: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        aliases: Sequence[str] = (),
        create_model: bool = False,
    ) -> ModelVersion:
        tags = _checked_tags(tags)
        for alias in aliases:
            check_alias(alias)
        if create_model:
            validate_name(project, "project")
            validate_name(name, "model name")
        with self.db.write(actor) as tx:
            # One transaction: a version that cannot be created (wrong kind, already registered,
            # a protected alias) leaves no registered model behind, and no version without its
            # aliases.
            model = _find_model(tx.conn, project, name)
            if model is None and create_model:
                model = self._insert_model(tx, project, name)
            elif model is None:
                model = _model_row(tx.conn, project, name)  # NotFound
            artifact = tx.conn.execute(
                sa.select(av.c.project, av.c.name, av.c.version, av.c.kind, av.c.digest).where(
                    av.c.id == artifact_version_id
                )
            ).first()
            if artifact is None:
                raise NotFound(f"no artifact version with id {artifact_version_id!r}")
            artifact_ref = f"{artifact.project}/{artifact.name}@v{artifact.version}"
            if artifact.kind != "model":
                raise InvalidArgument(
                    f"{artifact_ref} is a {artifact.kind!r} artifact, not a model",
                    hint="register artifacts logged with kind='model' (run.log_model or "
                    "run.log_artifact(..., kind='model'))",
                )
            taken = tx.conn.execute(
                sa.select(mv.c.version).where(
                    mv.c.model_id == model["id"], mv.c.artifact_version_id == artifact_version_id
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(
                    f"{artifact_ref} is already registered as {project}/{name}@v{taken[0]}"
                )
            number = model["latest_version"] + 1
            ts = event_ts(tx, model["id"])
            tx.update(
                rm, {"id": model["id"]}, {"latest_version": number, "updated_at": ts},
                "registry.version.number",
            )
            version_id = new_id()
            row = {
                "id": version_id,
                "model_id": model["id"],
                "version": number,
                "artifact_version_id": artifact_version_id,
                "description": description or "",
                "stage": str(Stage.NONE),
                "status": UNREVIEWED,
                "created_at": ts,
                "updated_at": ts,
                "created_by": actor,
            }
            tx.insert(mv, [row], "registry.version.create", version_id)
            for key, value in tags.items():
                tx.insert(
                    tr.model_version_tags,
                    [{"version_id": version_id, "key": key, "value": value}],
                    "registry.version.tag",
                    version_id,
                )
            after = {
                "artifact": artifact_ref,
                "digest": artifact.digest,
                "stage": str(Stage.NONE),
                "description": row["description"],
                "tags": tags,
            }
            record_event(tx, model["id"], "version.create", ts, version=(version_id, number), after=after)
            model = {**model, "latest_version": number}
            for alias in aliases:
                self._move_alias(tx, model, row, alias, actor)
            return self._versions(tx.conn, [row])[0]

    def get_model_version_by_id(self, version_id: str) -> ModelVersion:
        with self.db.read() as conn:
            row = conn.execute(sa.select(mv).where(mv.c.id == version_id)).mappings().first()
            if row is None:
                raise NotFound(f"no model version with id {version_id!r}")
            return self._versions(conn, [row])[0]

    def resolve_model_version(self, ref: ArtifactRef) -> ModelVersion:
        with self.db.read_prepared() as reads:
            return resolve_version(reads, ref)

    def list_model_versions(
        self, project: str, name: str, *, stage: Stage | None = None
    ) -> list[ModelVersion]:
        with self.db.read() as conn:
            model = _model_row(conn, project, name)
            query = sa.select(mv).where(mv.c.model_id == model["id"])
            if stage is not None:
                query = query.where(mv.c.stage == str(stage))
            rows = list(conn.execute(query.order_by(mv.c.version.desc())).mappings())
            return self._versions(conn, rows)

    def update_model_version(
        self,
        project: str,
        name: str,
        version: int,
        *,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        tags = _checked_tags(tags)
        with self.db.write(actor) as tx:
            model = _model_row(tx.conn, project, name)
            row = _version_row(tx.conn, model, version)
            ts = event_ts(tx, model["id"])
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            changed_tags = _write_tags(
                tx, tr.model_version_tags, "version_id", row["id"], tags, "registry.version.tag"
            )
            if changed_tags:
                before["tags"] = {k: old for k, (old, _new) in changed_tags.items()}
                after["tags"] = {k: new for k, (_old, new) in changed_tags.items()}
            values: dict[str, Any] = {"updated_at": ts}
            if description is not None and description != row["description"]:
                before["description"], after["description"] = row["description"], description
                values["description"] = description
            if not after:
                return self._versions(tx.conn, [row])[0]
            row = tx.update(mv, {"id": row["id"]}, values, "registry.version.update")
            record_event(
                tx, model["id"], "version.update", ts, version=(row["id"], version),
                before=before, after=after,
            )
            return self._versions(tx.conn, [row])[0]

    def _versions(self, conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
        return hydrate_versions(conn, rows)

    # -- aliases ---------------------------------------------------------------------------------
    def set_model_alias(
        self,
        project: str,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        expected: int | None | _NotSet = NOT_SET,
    ) -> ModelVersion:
        check_alias(alias)
        with self.db.write(actor) as tx:
            model = _model_row(tx.conn, project, name)
            target = _version_row(tx.conn, model, version)
            self._move_alias(tx, model, target, alias, actor, expected)
            return self._versions(tx.conn, [target])[0]

    def _move_alias(
        self, tx: WriteTx, model: Any, target: Any, alias: str, actor: str,
        expected: int | None | _NotSet = NOT_SET,
    ) -> None:
        """Point ``alias`` of ``model`` at version row ``target`` inside ``tx`` (also used by
        a deployment that moves an alias with it)."""
        version = int(target["version"])
        current = _alias_version(tx.conn, model["id"], alias)
        compare_alias(model["project"], model["name"], alias, current, expected)
        if current == version:
            return
        guard_protected(tx.conn, model, alias, actor)
        ts = event_ts(tx, model["id"])
        key = {"model_id": model["id"], "alias": alias}
        values = {"version_id": target["id"], "updated_at": ts}
        if current is None:
            tx.insert(ma, [{**key, **values}], "registry.alias.set", model["id"])
            action, before = "alias.set", None
        else:
            tx.update(ma, key, values, "registry.alias.move")
            action, before = "alias.move", {"version": current}
        record_event(
            tx, model["id"], action, ts, version=(target["id"], version), alias=alias,
            before=before, after={"version": version},
        )

    def remove_model_alias(
        self,
        project: str,
        name: str,
        alias: str,
        *,
        actor: str,
        expected: int | _NotSet = NOT_SET,
    ) -> None:
        with self.db.write(actor) as tx:
            model = _model_row(tx.conn, project, name)
            current = _alias_version(tx.conn, model["id"], alias)
            if current is None:
                raise NotFound(f"{project}/{name} has no alias {alias!r}")
            compare_alias(project, name, alias, current, expected)
            guard_protected(tx.conn, model, alias, actor)
            ts = event_ts(tx, model["id"])
            version_id = tx.conn.execute(
                sa.select(ma.c.version_id).where(ma.c.model_id == model["id"], ma.c.alias == alias)
            ).scalar_one()
            tx.delete(ma, {"model_id": model["id"], "alias": alias}, "registry.alias.remove")
            record_event(
                tx, model["id"], "alias.remove", ts, version=(version_id, current), alias=alias,
                before={"version": current}, after=None,
            )

    # -- stages and approvals --------------------------------------------------------------------
    def transition_model_stage(
        self,
        project: str,
        name: str,
        version: int,
        stage: Stage,
        *,
        actor: str,
        archive_others: bool = False,
        comment: str = "",
    ) -> ModelVersion:
        stage = Stage.parse(stage)
        with self.db.write(actor) as tx:
            model = _model_row(tx.conn, project, name)
            row = _version_row(tx.conn, model, version)
            policy = ModelPolicy.from_dict(json.loads(model["policy"]))
            if (
                stage is Stage.PRODUCTION
                and row["stage"] != stage
                and policy.require_approval_for_production
            ):
                require_approval(tx.conn, project, name, row, policy)
            ts = event_ts(tx, model["id"])
            if row["stage"] != stage:
                row = self._move_stage(tx, model["id"], row, stage, ts, comment)
            if archive_others and stage is not Stage.ARCHIVED:
                others = tx.conn.execute(
                    sa.select(mv)
                    .where(mv.c.model_id == model["id"], mv.c.stage == str(stage), mv.c.id != row["id"])
                    .order_by(mv.c.version)
                ).mappings()
                for other in list(others):
                    self._move_stage(
                        tx, model["id"], other, Stage.ARCHIVED, ts,
                        comment or f"archived when v{version} entered {stage}",
                    )
            return self._versions(tx.conn, [row])[0]

    @staticmethod
    def _move_stage(
        tx: WriteTx, model_id: str, row: Any, stage: Stage, ts: int, comment: str
    ) -> dict[str, Any]:
        before = row["stage"]
        new = tx.update(
            mv, {"id": row["id"]}, {"stage": str(stage), "updated_at": ts}, "registry.stage"
        )
        record_event(
            tx, model_id, "stage.transition", ts, version=(row["id"], row["version"]),
            before={"stage": before}, after={"stage": str(stage)}, comment=comment,
        )
        return new

    def add_model_approval(
        self,
        project: str,
        name: str,
        version: int,
        decision: Decision,
        *,
        actor: str,
        stage: Stage = Stage.PRODUCTION,
        comment: str = "",
    ) -> Approval:
        try:
            decision = Decision(str(decision).lower())
        except ValueError:
            raise InvalidArgument(
                f"unknown decision {decision!r}", hint="use 'approved' or 'rejected'"
            ) from None
        stage = Stage.parse(stage)
        with self.db.write(actor) as tx:
            model = _model_row(tx.conn, project, name)
            row = _version_row(tx.conn, model, version)
            policy = ModelPolicy.from_dict(json.loads(model["policy"]))
            check_reviewer(project, name, row, policy, actor, decision)
            ts = event_ts(tx, model["id"])
            approval_id = new_id()
            tx.insert(
                tr.model_approvals,
                [
                    {
                        "id": approval_id,
                        "version_id": row["id"],
                        "decision": str(decision),
                        "stage": str(stage),
                        "actor": actor,
                        "comment": comment or "",
                        "created_at": ts,
                    }
                ],
                "registry.approval",
                row["id"],
            )
            if stage is Stage.PRODUCTION and row["status"] != str(decision):
                tx.update(
                    mv, {"id": row["id"]}, {"status": str(decision), "updated_at": ts},
                    "registry.version.status",
                )
            record_event(
                tx, model["id"], "approval", ts, version=(row["id"], version),
                before={"status": row["status"]},
                after={"status": str(decision), "decision": str(decision), "stage": str(stage),
                       "approval_id": approval_id},
                comment=comment,
            )
            return Approval(
                approval_id, row["id"], decision, str(stage), actor,
                us_to_datetime(ts), comment or "",  # type: ignore[arg-type]
            )

    # -- history ---------------------------------------------------------------------------------
    def registry_events(
        self,
        project: str,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        actions: Sequence[str] | None = None,
        until_us: int | None = None,
        since_us: int | None = None,
        limit: int | None = None,
    ) -> list[RegistryEvent]:
        with self.db.read() as conn:
            model = _model_row(conn, project, name)
            query = sa.select(ev).where(ev.c.model_id == model["id"])
            if version is not None:
                query = query.where(ev.c.version == version)
            if alias is not None:
                query = query.where(ev.c.alias == alias)
            if actions:
                query = query.where(ev.c.action.in_(list(actions)))
            if until_us is not None:
                query = query.where(ev.c.ts <= until_us)
            if since_us is not None:
                query = query.where(ev.c.ts >= since_us)
            query = query.order_by(ev.c.ledger_seq)
            if limit is not None:
                query = query.limit(limit)
            return [
                RegistryEvent(
                    id=row.id,
                    seq=row.ledger_seq,
                    timestamp=us_to_datetime(row.ts),  # type: ignore[arg-type]
                    actor=row.actor,
                    action=row.action,
                    project=project,
                    model=name,
                    version=row.version,
                    alias=row.alias,
                    before=None if row.before_state is None else json.loads(row.before_state),
                    after=None if row.after_state is None else json.loads(row.after_state),
                    comment=row.comment,
                )
                for row in conn.execute(query)
            ]

    # -- settings --------------------------------------------------------------------------------
    def registry_admins(self) -> list[str] | None:
        with self.db.read() as conn:
            return stored_admins(conn)

    def set_registry_admins(self, admins: Sequence[str] | None, *, actor: str) -> None:
        names = sorted({a.strip() for a in admins or () if a and a.strip()})
        with self.db.write(actor) as tx:
            write_admins(tx, names)

def _find_model(conn: Connection, project: str, name: str) -> Any:
    return conn.execute(
        sa.select(rm).where(rm.c.project == project, rm.c.name == name)
    ).mappings().first()


def _model_row(conn: Connection, project: str, name: str) -> Any:
    row = _find_model(conn, project, name)
    if row is None:
        raise model_not_found(project, name)
    return row


def _version_row(conn: Connection, model: Any, version: int) -> Any:
    check_version_number(version)
    row = conn.execute(
        sa.select(mv).where(mv.c.model_id == model["id"], mv.c.version == version)
    ).mappings().first()
    if row is None:
        raise version_not_found(model["project"], model["name"], model["latest_version"], version)
    return row


def _alias_version(conn: Connection, model_id: str, alias: str) -> int | None:
    return conn.execute(
        sa.select(mv.c.version)
        .join(ma, ma.c.version_id == mv.c.id)
        .where(ma.c.model_id == model_id, ma.c.alias == alias)
    ).scalar()


def _checked_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or len(key) > t.KEY:
            raise InvalidArgument(f"invalid tag key {key!r}", hint=f"use 1-{t.KEY} characters")
        out[key] = str(value)
    return out


def _write_tags(
    tx: WriteTx, table: sa.Table, owner: str, owner_id: str, tags: dict[str, str], action: str
) -> dict[str, tuple[str | None, str]]:
    """Upsert tags; returns ``{key: (old, new)}`` for those that changed."""
    changed: dict[str, tuple[str | None, str]] = {}
    for key, value in tags.items():
        present = tx.conn.execute(
            sa.select(table.c.value).where(table.c[owner] == owner_id, table.c.key == key)
        ).first()
        if present is None:
            tx.insert(table, [{owner: owner_id, "key": key, "value": value}], action, owner_id)
            changed[key] = (None, value)
        elif present[0] != value:
            tx.update(table, {owner: owner_id, "key": key}, {"value": value}, action)
            changed[key] = (present[0], value)
    return changed
