"""Deployments in the SQL store: records of model versions serving under a name in an
environment, chained by ``replaces_id``, each live on ``[started_at, ended_at)``.

Under one name and environment at most one record is live. The write transaction holds the
ledger head lock, so reading the live record, ending it and inserting its successor cannot
interleave with another writer doing the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import (
    NOT_SET,
    Deployment,
    DeploymentStatus,
    ModelPolicy,
    _NotSet,
    new_id,
    now_us,
    us_to_datetime,
)
from ...errors import Conflict, InvalidArgument, NotFound
from ...refs import validate_name
from ..registry_base import DeploymentFilter, NewDeployment
from . import tables as t
from . import tables_registry as tr
from .database import Database, WriteTx
from .registry_events import event_ts, record_event
from .registry_policy import check_alias, guard_protected, require_approval

dp, rm, mv = tr.deployments, tr.registered_models, tr.model_versions
ENDINGS = (DeploymentStatus.STOPPED, DeploymentStatus.FAILED)


def check_deployable(conn: Connection, version: Any, environment: str) -> None:
    """PermissionDenied when the model's policy gates ``environment`` and ``version`` (a row
    with id, model_id, version, created_by) is not approved."""
    model = conn.execute(
        sa.select(rm.c.project, rm.c.name, rm.c.policy).where(rm.c.id == version.model_id)
    ).first()
    if model is None:
        return
    policy = ModelPolicy.from_dict(json.loads(model.policy))
    if environment in policy.approval_environments:
        require_approval(conn, model.project, model.name,
                         {"id": version.id, "version": version.version,
                          "created_by": version.created_by},
                         policy, purpose=f"be deployed to {environment}")


class DeploymentsMixin:
    db: Database

    def check_deployable(
        self, model_version_id: str, environment: str, *, actor: str, alias: str | None = None,
    ) -> None:
        with self.db.read() as conn:
            version = conn.execute(
                sa.select(mv.c.id, mv.c.model_id, mv.c.version, mv.c.created_by)
                .where(mv.c.id == model_version_id)
            ).first()
            if version is None:
                raise NotFound(f"no model version with id {model_version_id!r}")
            check_deployable(conn, version, environment)
            if alias is not None:
                check_alias(alias)
                model = conn.execute(sa.select(rm).where(rm.c.id == version.model_id)).mappings().one()
                guard_protected(conn, model, alias, actor)

    def _move_alias(
        self, tx: WriteTx, model: Any, target: Any, alias: str, actor: str,
        expected: int | None | _NotSet = NOT_SET,
    ) -> None:
        raise NotImplementedError  # RegistryMixin's; declared here for create_deployment

    def create_deployment(self, spec: NewDeployment, *, actor: str) -> Deployment:
        validate_name(spec.name, "deployment name")
        validate_name(spec.environment, "environment")
        config = _config_json(spec.config)
        with self.db.write(actor) as tx:
            version = tx.conn.execute(
                sa.select(mv.c.id, mv.c.model_id, mv.c.version, mv.c.artifact_version_id,
                          mv.c.created_by)
                .where(mv.c.id == spec.model_version_id)
            ).first()
            if version is None:
                raise NotFound(f"no model version with id {spec.model_version_id!r}")
            # Checked again here, under the write lock: an approval withdrawn since the check
            # in record_deployment still stops the deployment.
            check_deployable(tx.conn, version, spec.environment)
            if tx.conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == spec.run_id)).first() is None:
                raise NotFound(f"no run with id {spec.run_id!r}")
            slot = (dp.c.project == spec.project, dp.c.name == spec.name,
                    dp.c.environment == spec.environment)
            live = tx.conn.execute(sa.select(dp).where(*slot, dp.c.ended_at.is_(None))).mappings().first()
            _compare_live(spec, live)
            ts = event_ts(tx, version.model_id)
            started = ts if spec.started_at_us is None else int(spec.started_at_us)
            if started > now_us():
                raise InvalidArgument("a deployment cannot start in the future")
            last_end = tx.conn.execute(
                sa.select(sa.func.max(dp.c.ended_at)).where(*slot)
            ).scalar()
            floor = max(int(last_end or 0), int(live["started_at"]) if live is not None else 0)
            if started < floor:
                raise InvalidArgument(
                    f"{spec.name} in {spec.environment} already has a record covering "
                    f"{us_to_datetime(started).isoformat()}",  # type: ignore[union-attr]
                    hint="a deployment's start must be after the records of the same name and "
                    "environment before it",
                )
            if spec.restores_id is not None:
                restored = tx.conn.execute(sa.select(dp.c.id).where(
                    dp.c.id == spec.restores_id, *slot)).first()
                if restored is None:
                    raise NotFound(f"no deployment {spec.restores_id!r} of {spec.name} in "
                                   f"{spec.environment} to restore")
            deployment_id = new_id()
            if live is not None:
                status = DeploymentStatus.ROLLED_BACK if spec.restores_id else DeploymentStatus.REPLACED
                end_ts = ts if live["model_id"] == version.model_id else event_ts(tx, live["model_id"])
                why = (f"rolled back by deployment {deployment_id}" if spec.restores_id
                       else f"replaced by deployment {deployment_id}")
                self._end(tx, live, status, started, end_ts, why)
            row = {
                "id": deployment_id,
                "project": spec.project,
                "name": spec.name,
                "environment": spec.environment,
                "target": spec.target or "",
                "config": config,
                "status": str(DeploymentStatus.LIVE),
                "model_id": version.model_id,
                "version_id": version.id,
                "artifact_version_id": version.artifact_version_id,
                "run_id": spec.run_id,
                "started_at": started,
                "ended_at": None,
                "replaces_id": live["id"] if live is not None else None,
                "restores_id": spec.restores_id,
                "comment": spec.comment or "",
                "created_by": actor,
            }
            tx.insert(dp, [row], "deployment.create", deployment_id)
            if spec.alias is not None:
                model = tx.conn.execute(sa.select(rm).where(rm.c.id == version.model_id)).mappings().one()
                target = tx.conn.execute(sa.select(mv).where(mv.c.id == version.id)).mappings().one()
                self._move_alias(tx, model, target, spec.alias, actor)
            record_event(
                tx, version.model_id, "deployment.start", ts,
                version=(version.id, version.version),
                after={"deployment": deployment_id, "name": spec.name,
                       "environment": spec.environment, "target": row["target"],
                       "started_at": started, "replaces": row["replaces_id"],
                       "restores": spec.restores_id},
                comment=spec.comment,
            )
            return _hydrate(tx.conn, [row])[0]

    def end_deployment(
        self,
        deployment_id: str,
        status: DeploymentStatus,
        *,
        actor: str,
        ended_at_us: int | None = None,
        comment: str = "",
    ) -> Deployment:
        try:
            status = DeploymentStatus(str(status).lower())
        except ValueError:
            status = None  # type: ignore[assignment]
        if status not in ENDINGS:
            raise InvalidArgument(
                "a deployment ends as 'stopped' or 'failed'",
                hint="'replaced' and 'rolled_back' are set by recording the next deployment",
            )
        with self.db.write(actor) as tx:
            row = _row_by_prefix(tx.conn, deployment_id)
            if row["ended_at"] is not None:
                raise Conflict(
                    f"deployment {row['id']} already ended ({row['status']} at "
                    f"{us_to_datetime(row['ended_at']).isoformat()})"  # type: ignore[union-attr]
                )
            ts = event_ts(tx, row["model_id"])
            ended = ts if ended_at_us is None else int(ended_at_us)
            if ended < row["started_at"] or ended > now_us():
                raise InvalidArgument("a deployment ends after it started and not in the future")
            new = self._end(tx, row, status, ended, ts, comment)
            return _hydrate(tx.conn, [new])[0]

    @staticmethod
    def _end(
        tx: WriteTx, row: Any, status: DeploymentStatus, ended: int, ts: int, comment: str
    ) -> dict[str, Any]:
        new = tx.update(
            dp, {"id": row["id"]}, {"status": str(status), "ended_at": ended},
            f"deployment.{status}",
        )
        number = tx.conn.execute(
            sa.select(mv.c.version).where(mv.c.id == row["version_id"])).scalar_one()
        record_event(
            tx, row["model_id"], "deployment.end", ts,
            version=(row["version_id"], int(number)),
            before={"deployment": row["id"], "status": str(DeploymentStatus.LIVE)},
            after={"deployment": row["id"], "status": str(status), "ended_at": ended},
            comment=comment,
        )
        return new

    def get_deployment(self, deployment_id: str) -> Deployment:
        with self.db.read() as conn:
            return _hydrate(conn, [_row_by_prefix(conn, deployment_id)])[0]

    def deployment_ids_with_prefix(self, prefix: str, limit: int = 5) -> list[str]:
        query = (sa.select(dp.c.id).where(dp.c.id.startswith(prefix, autoescape=True))
                 .order_by(dp.c.id).limit(limit))
        with self.db.read() as conn:
            return [row[0] for row in conn.execute(query)]

    def list_deployments(self, flt: DeploymentFilter) -> list[Deployment]:
        query = sa.select(dp)
        conditions = []
        for column, value in ((dp.c.project, flt.project), (dp.c.name, flt.name),
                              (dp.c.environment, flt.environment),
                              (dp.c.version_id, flt.model_version_id)):
            if value is not None:
                conditions.append(column == value)
        if flt.model is not None:
            models = sa.select(rm.c.id).where(rm.c.name == flt.model)
            if flt.project is not None:
                models = models.where(rm.c.project == flt.project)
            conditions.append(dp.c.model_id.in_(models))
        if flt.live_now:
            conditions.append(dp.c.ended_at.is_(None))
        if flt.live_from_us is not None:
            # Overlap of [started_at, ended_at) with [from, to); an instant is [t, t + 1us).
            until = flt.live_to_us if flt.live_to_us is not None else flt.live_from_us + 1
            conditions.append(dp.c.started_at < until)
            conditions.append(sa.or_(dp.c.ended_at.is_(None), dp.c.ended_at > flt.live_from_us))
        if flt.started_after_us is not None:
            conditions.append(dp.c.started_at >= flt.started_after_us)
        if flt.started_before_us is not None:
            conditions.append(dp.c.started_at < flt.started_before_us)
        order = (dp.c.started_at.desc(), dp.c.id.desc()) if flt.newest_first else (
            dp.c.started_at, dp.c.id)
        query = query.where(*conditions).order_by(*order).limit(flt.limit)
        with self.db.read() as conn:
            return _hydrate(conn, list(conn.execute(query).mappings()))


def _compare_live(spec: NewDeployment, live: Any) -> None:
    if isinstance(spec.expected_live, _NotSet):
        return
    current = None if live is None else live["id"]
    if current != spec.expected_live:
        now = "nothing is live" if current is None else f"{current} is live"
        raise Conflict(
            f"{spec.name} in {spec.environment}: {now}, expected "
            f"{spec.expected_live or 'nothing live'}: someone else deployed meanwhile",
            hint="check `lineal deploy current` and try again",
        )


def _row_by_prefix(conn: Connection, deployment_id: str) -> Any:
    text = (deployment_id or "").strip().upper()
    if len(text) < 6:
        raise InvalidArgument(f"deployment id {deployment_id!r} is too short; give 6+ characters")
    rows = list(conn.execute(sa.select(dp).where(dp.c.id.startswith(text, autoescape=True)).limit(2)).mappings())
    if not rows:
        raise NotFound(f"no deployment with id {deployment_id!r}",
                       hint="list deployments with `lineal deploy list`")
    if len(rows) > 1:
        raise InvalidArgument(f"deployment id prefix {deployment_id!r} is ambiguous")
    return rows[0]


def _hydrate(conn: Connection, rows: Sequence[Any]) -> list[Deployment]:
    if not rows:
        return []
    versions = {
        r.id: (r.name, r.version)
        for r in conn.execute(
            sa.select(mv.c.id, mv.c.version, rm.c.name)
            .join(rm, rm.c.id == mv.c.model_id)
            .where(mv.c.id.in_({row["version_id"] for row in rows}))
        )
    }
    return [
        Deployment(
            id=row["id"],
            project=row["project"],
            name=row["name"],
            environment=row["environment"],
            target=row["target"],
            config=json.loads(row["config"]),
            status=DeploymentStatus(row["status"]),
            model=versions[row["version_id"]][0],
            model_version=versions[row["version_id"]][1],
            model_version_id=row["version_id"],
            artifact_version_id=row["artifact_version_id"],
            run_id=row["run_id"],
            started_at=us_to_datetime(row["started_at"]),  # type: ignore[arg-type]
            ended_at=us_to_datetime(row["ended_at"]),
            replaces_id=row["replaces_id"],
            restores_id=row["restores_id"],
            comment=row["comment"],
            created_by=row["created_by"],
        )
        for row in rows
    ]


def _config_json(config: Any) -> str:
    try:
        return canonical_json(dict(config or {}))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument("deployment config must be a JSON object", hint=str(exc)) from exc
