"""The REST API of the metadata contract, defined once: one route per contract method.

Each :class:`Route` names a :class:`~lineal.store.base.MetadataStore` method, its HTTP verb and
path under ``/api/v1``, and the role it needs. The server (:mod:`lineal.server.store_routes`)
and the HTTP client (:class:`lineal.store.http.client.HttpMetadataStore`) are both built from
this table and from the method's own signature and type hints, so adding a method to the
contract is one line here: no handler, no client method, no converter per operation (the trap
of a REST store written beside every other layer).

Arguments travel by name. Path parameters come from the path; the rest of a ``GET`` is in the
query string (plain values as they are, structured ones as JSON text); the rest of any other
verb is a JSON object body. ``actor`` never travels: the server passes the authenticated
principal. Values are encoded by :func:`encode` (entities by their ``to_dict``) and decoded by
the type hints with :func:`lineal.codec.decode`, so a malformed body is an InvalidArgument
naming the argument. Non-finite floats travel as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (JSON has no such numbers); metric points as ``[key, value, step, time_us]``,
or a batch of them in columns (:mod:`lineal.store.http.points`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import inspect
import json
import math
import operator
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from ...codec import decode
from ...entities import MetricPoint
from ...errors import InvalidArgument
from .points import decode_columns, encode_columns

__all__ = ["ROUTES", "Route", "decode_args", "decode_result", "encode", "route_for"]

API_PREFIX = "/api/v1"
READER, WRITER, ADMIN = "reader", "writer", "admin"
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True, slots=True)
class Route:
    """One contract method as an HTTP operation."""

    method: str
    """The MetadataStore method."""
    verb: str
    path: str
    """Under ``/api/v1``; ``{name}`` segments are the method's arguments of that name
    (``{key:path}`` may hold slashes)."""
    role: str = READER
    """reader, writer or admin: what the caller needs on the project the call touches."""

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(part[1:-1].split(":")[0] for part in self.path.split("/")
                     if part.startswith("{"))

    @property
    def url(self) -> str:
        return API_PREFIX + self.path


R = Route
ROUTES: tuple[Route, ...] = (
    # runs
    R("create_run", "POST", "/runs", WRITER),
    R("list_runs", "GET", "/runs"),
    R("search_runs", "POST", "/runs/search"),
    R("run_ids_with_prefix", "GET", "/run-ids"),
    R("runs_by_id", "POST", "/runs/by-id"),
    R("close_stale_runs", "POST", "/runs/close-stale", WRITER),
    R("get_run", "GET", "/runs/{run_id}"),
    R("finish_run", "POST", "/runs/{run_id}/finish", WRITER),
    R("log_batch", "POST", "/runs/{run_id}/batch", WRITER),
    R("heartbeat", "POST", "/runs/{run_id}/heartbeat", WRITER),
    R("metric_history", "GET", "/runs/{run_id}/metrics/{key:path}"),
    # artifact versions
    R("create_artifact_version", "POST", "/artifact-versions", WRITER),
    R("list_artifact_versions", "GET", "/artifact-versions"),
    R("resolve", "GET", "/artifact-versions/resolve"),
    R("artifact_versions_by_id", "POST", "/artifact-versions/by-id"),
    R("get_artifact_version", "GET", "/artifact-versions/{version_id}"),
    R("set_artifact_tags", "PATCH", "/artifact-versions/{version_id}/tags", WRITER),
    R("purge_artifact_version", "POST", "/artifact-versions/{version_id}/purge", ADMIN),
    R("artifact_aliases", "GET", "/artifact-aliases"),
    R("set_alias", "PUT", "/artifacts/{project}/{name}/aliases/{alias}", WRITER),
    R("remove_alias", "DELETE", "/artifacts/{project}/{name}/aliases/{alias}", WRITER),
    R("deployments_of_artifact", "GET", "/artifacts/{project}/{name}/deployments"),
    # edges
    R("add_edge", "POST", "/edges", WRITER),
    R("list_edges", "GET", "/edges"),
    R("edges_of", "POST", "/edges/of"),
    # audit
    R("ledger_entries", "GET", "/ledger"),
    R("verify_ledger", "POST", "/ledger/verify"),
    R("info", "GET", "/store"),
    # registry
    R("create_registered_model", "POST", "/models", WRITER),
    R("list_registered_models", "GET", "/models"),
    R("registry_admins", "GET", "/registry/admins"),
    R("set_registry_admins", "PUT", "/registry/admins", ADMIN),
    R("resolve_model_version", "GET", "/model-versions/resolve"),
    R("get_model_version_by_id", "GET", "/model-versions/{version_id}"),
    R("find_registered_model", "GET", "/models/{project}/{name}"),
    R("update_registered_model", "PATCH", "/models/{project}/{name}", WRITER),
    R("set_model_policy", "PUT", "/models/{project}/{name}/policy", ADMIN),
    R("create_model_version", "POST", "/models/{project}/{name}/versions", WRITER),
    R("list_model_versions", "GET", "/models/{project}/{name}/versions"),
    R("registry_events", "GET", "/models/{project}/{name}/events"),
    R("update_model_version", "PATCH", "/models/{project}/{name}/versions/{version}", WRITER),
    R("transition_model_stage", "POST", "/models/{project}/{name}/versions/{version}/stage",
      WRITER),
    R("add_model_approval", "POST", "/models/{project}/{name}/versions/{version}/approvals",
      ADMIN),
    R("set_model_alias", "PUT", "/models/{project}/{name}/aliases/{alias}", WRITER),
    R("remove_model_alias", "DELETE", "/models/{project}/{name}/aliases/{alias}", WRITER),
    # deployments
    R("check_deployable", "POST", "/deployments/check"),
    R("create_deployment", "POST", "/deployments", WRITER),
    R("list_deployments", "GET", "/deployments"),
    R("deployment_ids_with_prefix", "GET", "/deployment-ids"),
    R("get_deployment", "GET", "/deployments/{deployment_id}"),
    R("end_deployment", "POST", "/deployments/{deployment_id}/end", WRITER),
    # lineage
    R("lineage_node", "GET", "/lineage/nodes/{node_type}/{node_id}"),
    R("lineage_node_by_ref", "GET", "/lineage/node"),
    R("lineage_closure", "POST", "/lineage/closure"),
    R("lineage_walk", "POST", "/lineage/walk"),
    R("set_taint", "PUT", "/taints/{version_id}", WRITER),
    R("clear_taint", "DELETE", "/taints/{version_id}", WRITER),
    R("list_taints", "GET", "/taints"),
    R("import_lineage", "POST", "/lineage/import", WRITER),
    # API tokens (the server looks tokens up by hash itself: api_token_by_hash has no route)
    R("create_api_token", "POST", "/tokens", ADMIN),
    R("list_api_tokens", "GET", "/tokens", ADMIN),
    R("get_api_token", "GET", "/tokens/{token_id}", ADMIN),
    R("revoke_api_token", "POST", "/tokens/{token_id}/revoke", ADMIN),
    # webhooks (URLs often carry credentials: admin only)
    R("add_webhook", "POST", "/webhooks", ADMIN),
    R("list_webhooks", "GET", "/webhooks", ADMIN),
    R("webhook_deliveries", "GET", "/webhook-deliveries", ADMIN),
    R("get_webhook", "GET", "/webhooks/{webhook_id}", ADMIN),
    R("remove_webhook", "DELETE", "/webhooks/{webhook_id}", ADMIN),
    R("enqueue_webhook_ping", "POST", "/webhooks/{webhook_id}/ping", ADMIN),
)

SERVER_ONLY = frozenset({
    "api_token_by_hash", "request_response", "save_request_response",
    "enqueue_webhook_events", "claim_webhook_deliveries", "record_webhook_attempt",
})
"""Contract methods only the server itself calls: no route serves them, and the HTTP client
refuses them."""

SERVER_SUPPLIED = frozenset({"self", "actor", "progress"})
"""Arguments that never travel: the principal, and callbacks."""
ACTOR_IS_A_FILTER = frozenset({"ledger_entries"})
"""Methods whose ``actor`` argument selects entries (it travels) instead of naming the
principal (which the server supplies)."""


def takes_principal(method: str) -> bool:
    """Whether the server passes the caller as ``actor`` to ``method``."""
    sig, _ = signature(method)
    return "actor" in sig.parameters and method not in ACTOR_IS_A_FILTER


@functools.cache
def route_for(method: str) -> Route:
    """The route of a contract method."""
    for route in ROUTES:
        if route.method == method:
            return route
    raise KeyError(method)


@functools.cache
def signature(method: str) -> tuple[inspect.Signature, dict[str, Any]]:
    """The contract method's signature and resolved type hints."""
    from ..base import MetadataStore

    function = getattr(MetadataStore, method)
    return inspect.signature(function), _hints(function)


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    from ...entities import _core, _lineage, _registry, _webhooks
    from ...search import page
    from .. import base, lineage_base, registry_base, types, webhooks_base

    namespace: dict[str, Any] = {}
    for module in (_core, _lineage, _registry, _webhooks, page, types, lineage_base,
                   registry_base, webhooks_base, base, typing):
        namespace.update(vars(module))
    namespace.update({"Iterable": Iterable, "Mapping": Mapping, "Sequence": Sequence,
                      "Callable": Callable, "Any": Any, "datetime": datetime})
    return typing.get_type_hints(function, globalns=namespace)


def travelling(method: str) -> list[inspect.Parameter]:
    """The parameters of ``method`` that the client sends."""
    sig, _ = signature(method)
    keep = {"actor"} if method in ACTOR_IS_A_FILTER else set()
    return [p for p in sig.parameters.values() if p.name not in SERVER_SUPPLIED - keep]


# -- encoding ------------------------------------------------------------------------------------
def encode(value: Any) -> Any:
    """``value`` as JSON-ready data (the inverse of decoding by type hint)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:  # the usual containers first, without the isinstance chain below
        return {k if type(k) is str else str(k): encode(v) for k, v in value.items()}
    if kind is list and not (value and _is_point(value[0])):
        return [encode(v) for v in value]
    if isinstance(value, (bool, str, int)):
        return value
    if type(value) is list and value and _is_point(value[0]):
        return _encode_points(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, MetricPoint):
        return [value.key, encode(value.value), value.step, value.timestamp_us]
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and not isinstance(value, type):
        return _finite(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                if repr(getattr(value, f.name)) != "NOT_SET"}  # NOT_SET: the default
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Iterable):
        return [encode(v) for v in value]
    raise InvalidArgument(f"a {type(value).__name__} value is not JSON: a lineal server cannot "
                          "take it", hint="use text, numbers, booleans, lists and mappings")


def _is_point(item: Any) -> bool:
    return isinstance(item, MetricPoint) or (type(item) is tuple and len(item) == 4
                                             and type(item[0]) is str)


def _encode_points(points: list[Any]) -> list[Any]:
    """A batch of metric points (MetricPoint or the tuples a run buffers) as
    ``[key, value, step, time_us]`` lists: the hot path of metric logging, so the usual point
    (text key, finite float, int step and time) skips the general :func:`encode`."""
    out: list[Any] = []
    append = out.append
    for item in points:
        if type(item) is tuple and len(item) == 4:
            key, value, step, at = item
        elif isinstance(item, MetricPoint):
            key, value, step, at = item.key, item.value, item.step, item.timestamp_us
        else:
            append(encode(item))
            continue
        if type(key) is str and type(value) is float and type(step) is int \
                and type(at) is int and math.isfinite(value):
            append([key, value, step, at])
        else:
            append([encode(key), encode(value), encode(step), encode(at)])
    return out


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return encode(data)
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data


def encode_args(method: str, args: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """``(path values, other arguments)`` of a call, encoded; arguments left at their default
    (or the NOT_SET sentinel) are not sent."""
    from ...entities import NOT_SET

    route = route_for(method)
    path: dict[str, str] = {}
    rest: dict[str, Any] = {}
    for param in travelling(method):
        if param.name not in args:
            continue
        value = args[param.name]
        if value is NOT_SET or (value is None and param.default is None):
            continue  # the default: a query string could not tell None from the text "null"
        if isinstance(value, Mapping) and _is_iterable_hint(param.name, method):
            value = list(value)  # an Iterable argument given a dict means its keys
        if isinstance(value, list) and _is_points(signature(method)[1].get(param.name)):
            columns = encode_columns(value)  # the hot path of metric logging (see .points)
            if columns is not None:
                rest[param.name] = columns
                continue
        if param.name in route.path_params:
            text = str(encode(value))
            if not text:
                raise InvalidArgument(f"{param.name} must not be empty")
            if "/" in text and ":path}" not in route.path:
                raise InvalidArgument(f"invalid {param.name} {text!r}: '/' is not allowed")
            path[param.name] = text
        else:
            rest[param.name] = encode(value)
    return path, rest


def _is_iterable_hint(name: str, method: str) -> bool:
    _, hints = signature(method)
    return typing.get_origin(hints.get(name)) in (Iterable, Sequence, list, tuple, set)


def query_string(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters of a ``GET``: text as it is, everything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


# -- decoding ------------------------------------------------------------------------------------
def decode_args(
    method: str, path: Mapping[str, str], values: Mapping[str, Any], *, from_query: bool = False
) -> dict[str, Any]:
    """The keyword arguments of a contract call from what a request carried; InvalidArgument
    naming the first argument that is unknown, missing or malformed."""
    sig, hints = signature(method)
    allowed = {p.name: p for p in travelling(method)}
    values = _gather_filter(allowed, hints, values) if from_query else values
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidArgument(f"unknown argument {unknown[0]!r} for {method}",
                              hint=f"accepted: {', '.join(sorted(allowed)) or 'none'}")
    kwargs: dict[str, Any] = {}
    for name, param in allowed.items():
        hint = hints.get(name, Any)
        if name in path:
            raw: Any = path[name]
            if hint is int or _is_optional_of(hint, int):
                raw = _int_text(name, raw)
        elif name in values:
            raw = values[name]
            if from_query and isinstance(raw, str) and not _accepts_text(hint):
                # Text that is not JSON: an enum's value, or a union with text; decoded below.
                with contextlib.suppress(ValueError):
                    raw = json.loads(raw)
        elif param.default is inspect.Parameter.empty:
            raise InvalidArgument(f"missing argument {name!r} for {method}")
        else:
            continue
        try:
            kwargs[name] = wire_points(raw) if _is_points(hint) else decode_value(hint, raw)
        except InvalidArgument as error:
            raise InvalidArgument(f"argument {name!r}: {error.message}", hint=error.hint) \
                from None
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise InvalidArgument(f"argument {name!r}: {error}") from None
    return kwargs


def _gather_filter(allowed: Mapping[str, inspect.Parameter], hints: Mapping[str, Any],
                   values: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``GET`` may spell a filter argument's fields as query parameters of their own
    (``/runs?project=churn&status=failed``): gather them into that argument."""
    for name in allowed:
        hint = hints.get(name)
        if name in values or not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            continue
        fields = {f.name for f in dataclasses.fields(hint)}
        if not all(f.default is not dataclasses.MISSING
                   or f.default_factory is not dataclasses.MISSING
                   for f in dataclasses.fields(hint)):
            continue
        mine = {k: v for k, v in values.items() if k in fields and k not in allowed}
        values = {k: v for k, v in values.items() if k not in mine}
        gathered: dict[str, Any] = {}
        for key, raw in mine.items():
            try:
                gathered[key] = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                gathered[key] = raw
            if isinstance(gathered[key], (int, float)) and key in ("name", "project", "kind"):
                gathered[key] = raw  # a name that looks like a number stays text
        values = {**values, name: gathered}
    return values


def decode_result(method: str, data: Any) -> Any:
    """The return value of ``method`` from its JSON."""
    _, hints = signature(method)
    return decode_value(hints.get("return", Any), data)


def decode_value(hint: Any, raw: Any) -> Any:
    """``decode`` with the wire's own forms: metric points as lists, non-finite floats as
    text, the NOT_SET sentinel's type never expected."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is float and isinstance(raw, str) and raw in NONFINITE:
        return NONFINITE[raw]
    if hint is MetricPoint:
        return _metric_point(raw)
    if origin in (Sequence, list, tuple) and args and args[0] is MetricPoint:
        if not isinstance(raw, list):
            raise TypeError(f"expected a list of metric points, got {type(raw).__name__}")
        return [_fast_point(item) for item in raw]
    if origin in (typing.Union, types.UnionType):
        # _NotSet never travels: drop it from the union.
        kept = tuple(a for a in args if getattr(a, "__name__", "") != "_NotSet")
        if len(kept) != len(args):
            hint = typing.Union[kept] if len(kept) > 1 else kept[0]  # noqa: UP007
    if origin is Iterable:
        hint = list[args[0]] if args else list  # type: ignore[valid-type]
    return decode(hint, raw)


def _is_points(hint: Any) -> bool:
    args = typing.get_args(hint)
    return typing.get_origin(hint) in (Sequence, list, tuple) and bool(args) \
        and args[0] is MetricPoint


_POINT_FIELD = [operator.itemgetter(i) for i in range(4)]
_NUMBER_TYPES = ({float}, {int}, {int})


def wire_points(raw: Any) -> list[Any]:
    """A batch of metric points argument, as the :data:`~lineal.entities.MetricTuple` tuples
    every store takes (a server passes them on as they are). Columns (a mapping) are decoded by
    :func:`~lineal.store.http.points.decode_columns`. The usual batch of lists, every point
    ``[text, float, int, int]``, is checked a column at a time in C and zipped into tuples: no
    object per point and no Python call per point. Anything else is decoded point by point
    (:func:`_metric_point`: ints, spelled-out non-finite values, mappings, or the error)."""
    if isinstance(raw, Mapping):
        return decode_columns(raw)
    if not isinstance(raw, list):
        raise TypeError(f"expected a list of metric points, got {type(raw).__name__}")
    if raw and set(map(type, raw)) == {list} and set(map(len, raw)) == {4}:
        keys, values, steps, stamps = [list(map(field, raw)) for field in _POINT_FIELD]
        if set(map(type, keys)) == {str} and all(
                set(map(type, column)) == kinds
                for column, kinds in zip((values, steps, stamps), _NUMBER_TYPES, strict=True)):
            return list(zip(keys, values, steps, stamps, strict=True))
    return [_fast_point(item) for item in raw]


def _fast_point(raw: Any) -> MetricPoint:
    """:func:`_metric_point` with the usual point (``[text, float, int, int]``) checked by
    exact type first: a batch holds thousands."""
    if type(raw) is list and len(raw) == 4:
        key, value, step, at = raw
        if type(key) is str and type(value) is float and type(step) is int \
                and type(at) is int:
            return MetricPoint(key, value, step, at)
    return _metric_point(raw)


def _metric_point(raw: Any) -> MetricPoint:
    if isinstance(raw, Mapping):
        raw = [raw.get("key"), raw.get("value"), raw.get("step"), raw.get("timestamp_us")]
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        raise TypeError("a metric point is [key, value, step, timestamp_us]")
    key, value, step, at = raw
    if not isinstance(key, str):
        raise TypeError(f"metric key must be text, got {key!r}")
    if isinstance(value, str) and value in NONFINITE:
        value = NONFINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric {key!r}: value must be a number, got {value!r}")
    for what, number in (("step", step), ("timestamp_us", at)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"metric {key!r}: {what} must be an integer, got {number!r}")
    return MetricPoint(key, float(value), step, at)


def _is_optional_of(hint: Any, tp: type) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and tp in typing.get_args(hint)


def _accepts_text(hint: Any) -> bool:
    if hint is str:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return str in typing.get_args(hint) and not any(
            typing.get_origin(a) is not None for a in typing.get_args(hint))
    return False


def _int_text(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"argument {name!r} must be an integer, got {raw!r}") from None
