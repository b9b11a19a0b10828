"""The domain model: each entity is defined once here and used by the store, the SDK, the CLI and
the server alike (no ORM rows, no protobufs, no converters).

    from lineal.entities import Run, ArtifactVersion, Node, ModelVersion

Entities are frozen dataclasses: a value read from the store is a snapshot. The live handle on a
run being recorded is :class:`lineal.tracking.ActiveRun`, which writes through the store.

This package is the bottom layer: the store imports its entities from here, never from
:mod:`lineal.lineage` or :mod:`lineal.registry` (which re-export theirs). The definitions are in
private modules: ``_core`` (ids, times, runs, artifact versions, edges, the ledger, tokens),
``_lineage`` (graph nodes, closures, paths, taints), ``_registry`` (registered models,
versions, approvals, registry events, deployments) and ``_webhooks`` (webhooks, their deliveries
and event types, which :mod:`lineal.webhooks` re-exports; the store imports nothing of that
package, which signs and delivers).
"""

from __future__ import annotations

from ._core import (
    ULID_ALPHABET,
    ApiToken,
    ArtifactVersion,
    Edge,
    EdgeDirection,
    LedgerEntry,
    MetricPoint,
    MetricTuple,
    Purge,
    Run,
    RunError,
    RunStatus,
    Storage,
    datetime_to_us,
    default_actor,
    new_id,
    now_us,
    us_to_datetime,
)
from ._lineage import (
    Closure,
    Direction,
    Graph,
    GraphEdge,
    Node,
    NodeType,
    Path,
    Taint,
    node_builder,
)
from ._registry import (
    NOT_SET,
    Approval,
    Decision,
    Deployment,
    DeploymentStatus,
    ModelPolicy,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
)
from ._registry import _NotSet as _NotSet  # the sentinel's type, for annotations; not public
from ._webhooks import EVENT_TYPES, DeliveryJob, DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "EVENT_TYPES",
    "NOT_SET",
    "ApiToken",
    "Approval",
    "ArtifactVersion",
    "Closure",
    "Decision",
    "DeliveryJob",
    "DeliveryStatus",
    "Deployment",
    "DeploymentStatus",
    "Direction",
    "Edge",
    "EdgeDirection",
    "Graph",
    "GraphEdge",
    "LedgerEntry",
    "MetricPoint",
    "MetricTuple",
    "ModelPolicy",
    "ModelVersion",
    "Node",
    "NodeType",
    "Path",
    "Purge",
    "RegisteredModel",
    "RegistryEvent",
    "Run",
    "RunError",
    "RunStatus",
    "Stage",
    "Storage",
    "Taint",
    "ULID_ALPHABET",
    "Webhook",
    "WebhookDelivery",
    "datetime_to_us",
    "default_actor",
    "new_id",
    "node_builder",
    "now_us",
    "us_to_datetime",
]
