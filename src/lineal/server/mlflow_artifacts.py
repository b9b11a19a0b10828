"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``) and logged models
(``/api/2.0/mlflow/logged-models...``) over lineal's artifact versions.

lineal reports every artifact location as ``mlflow-artifacts:/...``, so the MLflow client sends
bytes here, and they become lineal artifact versions (content-addressed blobs):

- ``<experiment>/<run id>/artifacts/<path>``: each file uploaded is a version (kind ``file``)
  of the artifact named after its path, produced by the run, with the path kept as the tag
  ``lineal.mlflow.path`` and in its metadata as the importer keeps it. A path uploaded again
  gets a new version; the run's artifacts are the newest version of each path, plus whatever
  the run produced through lineal's own SDK, under its artifact name;
- ``<experiment>/models/<model id>/artifacts/<path>``: the files of a logged model. MLflow
  creates the model, uploads its files one by one, then finalizes it; until then the files are
  kept (as blobs) with the pending model's record in a staging folder of the server
  (``LINEAL_MLFLOW_STAGING``, else the temporary folder). Finalizing records them as one
  directory version of kind ``model``, tagged ``lineal.mlflow.model_id`` and produced by the
  model's source run: what ``lineal import mlflow`` makes of a logged model;
- ``_lineal/<version id>/...``: any lineal artifact version (the download URI of a registered
  version that was not logged through MLflow).

The staging folder is local to the server's host: several workers on one host share it;
servers on several hosts behind one address need a client to reach the same host between
creating and finalizing a model, else finalizing says that no file was uploaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ..content import manifest_bytes, read_manifest
from ..entities import ArtifactVersion, EdgeDirection, Run, Storage, new_id
from ..errors import InvalidArgument, NotFound
from ..interop.mlflow_import import MODEL_ID_TAG, lineal_name
from ..store.base import ArtifactFilter, NewArtifactVersion
from ..store.http.routes import READER, WRITER
from .blob_routes import CHUNK, _receive
from .mlflow_routes import Call, logged_model_version, mlflow_route, unsupported
from .mlflow_shapes import (
    PATH_TAG,
    equality_filter,
    experiment_name,
    logged_model_json,
    logged_model_record,
)

__all__ = ["add_mlflow_artifact_routes", "artifact_parts", "artifact_uri", "note_output", "run_tree"]

ARTIFACTS = "/api/2.0/mlflow-artifacts"
_MODEL_ID = re.compile(r"^m-[0-9a-z]{26}$")
_lock = threading.Lock()


def add_mlflow_artifact_routes(app: FastAPI) -> None:
    """The artifact proxy and the logged-model routes."""
    mlflow_route(app, "/artifacts", "GET", READER, list_artifacts, prefix=ARTIFACTS)
    mlflow_route(app, "/artifacts/{path:path}", "GET", READER, get_artifact, prefix=ARTIFACTS)
    mlflow_route(app, "/artifacts/{path:path}", "PUT", WRITER, put_artifact, prefix=ARTIFACTS)
    mlflow_route(app, "/logged-models", "POST", WRITER, create_logged_model)
    mlflow_route(app, "/logged-models/search", "POST", READER, search_logged_models)
    mlflow_route(app, "/logged-models/{model_id}", "GET", READER, get_logged_model)
    mlflow_route(app, "/logged-models/{model_id}", "PATCH", WRITER, finalize_logged_model)
    mlflow_route(app, "/logged-models/{model_id}/tags", "PATCH", WRITER, set_logged_model_tags)
    mlflow_route(app, "/logged-models/{model_id}/params", "POST", WRITER,
                 log_logged_model_params)


# -- where a path leads --------------------------------------------------------------------------
def artifact_parts(path: str) -> list[str]:
    parts = [p for p in str(path or "").strip("/").split("/") if p]
    if any(p in (".", "..") or "\\" in p for p in parts):
        raise InvalidArgument(f"invalid artifact path {path!r}")
    return parts


class _Tree:
    """The files under one artifact root: relative path -> (digest, size)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, int]] = {}

    def add_version(self, call: Call, version: ArtifactVersion, prefix: str) -> None:
        if version.storage is not Storage.STORED or version.purged is not None:
            return
        if not version.is_directory:
            self.files[prefix or version.name] = (version.digest, version.size)
            return
        for entry in read_manifest(call.context.store.blobs, version.digest):
            path = f"{prefix}/{entry['path']}" if prefix else entry["path"]
            self.files[path] = (entry["digest"], int(entry["size"]))

    def listing(self, under: str) -> list[dict[str, Any]] | None:
        """The entries directly under ``under``; None when ``under`` is a file."""
        if under in self.files:
            return None
        base = f"{under}/" if under else ""
        entries: dict[str, dict[str, Any]] = {}
        for path, (_, size) in self.files.items():
            if not path.startswith(base):
                continue
            head, _, rest = path[len(base):].partition("/")
            if rest:
                entries.setdefault(head, {"path": head, "is_dir": True})
            else:
                entries[head] = {"path": head, "is_dir": False, "file_size": size}
        return [entries[k] for k in sorted(entries)]


def run_tree(call: Call, run: Run) -> _Tree:
    """A run's artifacts: the newest version of each path it produced."""
    tree = _Tree()
    meta = call.metadata
    versions = [meta.get_artifact_version(e.artifact_id)
                for e in meta.list_edges(run_id=run.id) if e.direction is EdgeDirection.OUTPUT]
    for version in sorted(versions, key=lambda v: (v.created_at, v.version)):
        if MODEL_ID_TAG in version.tags:
            continue  # a logged model: served under its own path
        kept = version.metadata.get("mlflow") if isinstance(version.metadata, dict) else None
        path = version.tags.get(PATH_TAG) or (kept.get("path") if isinstance(kept, dict)
                                              else None) or version.name
        tree.add_version(call, version, str(path).strip("/"))
    return tree


def _resolve(call: Call, parts: list[str], role: str) -> tuple[_Tree, str]:
    """The tree an artifact path is in (once the caller may read it) and the path within."""
    if len(parts) >= 2 and parts[0] == "_lineal":
        version = call.metadata.get_artifact_version(parts[1])
        call.allow(role, version.project)
        tree = _Tree()
        tree.add_version(call, version, "")
        return tree, "/".join(parts[2:])
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        return _model_tree(call, parts[2], role), "/".join(parts[4:])
    if len(parts) >= 3 and parts[2] == "artifacts":
        experiment_name(parts[0])
        run = call.run(role, parts[1])
        return run_tree(call, run), "/".join(parts[3:])
    raise NotFound(f"no artifact at {'/'.join(parts)!r}: lineal serves the artifacts of runs "
                   "(<experiment>/<run id>/artifacts/...) and logged models "
                   "(<experiment>/models/<model id>/artifacts/...)")


def _model_tree(call: Call, model_id: str, role: str) -> _Tree:
    tree = _Tree()
    version, record = _find_model(call, model_id, role)
    if version is not None:
        tree.add_version(call, version, "")
        return tree
    for path, digest, size in _staged_files(model_id):
        tree.files[path] = (digest, size)
    return tree


def _find_model(call: Call, model_id: str, role: str
                ) -> tuple[ArtifactVersion | None, dict[str, Any] | None]:
    """The version of a finished logged model, or the record of a pending one (once the caller
    may act on it with ``role``); NotFound for neither."""
    found = call.metadata.list_artifact_versions(ArtifactFilter(tags={MODEL_ID_TAG: model_id},
                                                                limit=1))
    if found:
        call.allow(role, found[0].project)
        return found[0], None
    record = _pending(model_id)
    if record is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found")
    if record.get("version_id"):  # finished as a version that another model id holds
        version = call.metadata.get_artifact_version(record["version_id"])
        call.allow(role, version.project)
        return version, record
    call.allow(role)
    return None, record


def list_artifacts(call: Call) -> dict[str, Any]:
    tree, under = _resolve(call, artifact_parts(call.args.get("path") or ""), READER)
    listing = tree.listing(under)
    return {} if listing is None else {"files": listing}


def get_artifact(call: Call) -> Response:
    tree, path = _resolve(call, artifact_parts(call.path["path"]), READER)
    if path not in tree.files:
        raise NotFound(f"no artifact file {call.path['path']!r}")
    digest, size = tree.files[path]
    stream = call.context.store.blobs.open(digest)
    return StreamingResponse(iterate_in_threadpool(_chunks(stream)),
                             headers={"content-length": str(size)},
                             media_type="application/octet-stream")


def _chunks(stream: Any) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


async def put_artifact(call: Call) -> dict[str, Any]:
    """Store the uploaded bytes, then record them where their path says."""
    parts = artifact_parts(call.path["path"])

    def where() -> tuple[str, Any, str]:
        if len(parts) >= 5 and parts[1] == "models" and parts[3] == "artifacts":
            record = _pending(parts[2])
            if record is None or record.get("version_id"):
                logged_model_version(call, parts[2])  # NotFound, else it is finished:
                raise InvalidArgument(f"logged model {parts[2]} is finalized; its files "
                                      "cannot change")
            call.allow(WRITER)
            return "model", parts[2], "/".join(parts[4:])
        if len(parts) >= 4 and parts[2] == "artifacts":
            experiment_name(parts[0])
            return "run", call.run(WRITER, parts[1]), "/".join(parts[3:])
        raise InvalidArgument(f"cannot store an artifact at {'/'.join(parts)!r}: upload under "
                              "a run's or a logged model's artifact location")

    kind, owner, path = await run_in_threadpool(where)
    assert call.request is not None
    info = await _receive(call.request, call.context, None)
    if kind == "model":
        await run_in_threadpool(_stage_file, owner, path, info.digest, info.size)
    else:
        await run_in_threadpool(_record_run_file, call, owner, path, info)
    return {}


def _record_run_file(call: Call, run: Run, path: str, info: Any) -> None:
    from ..auth.principal import acting_as

    spec = NewArtifactVersion(
        project=run.project, name=lineal_name(path, "artifact"), kind="file",
        digest=info.digest, uri=info.uri, size=info.size, storage=Storage.STORED,
        metadata={"mlflow": {"run_id": run.id, "path": path}}, tags={PATH_TAG: path},
        producer_run_id=run.id)
    with acting_as(call.caller):
        version, created = call.metadata.create_artifact_version(spec, call.actor)
        if not created:
            call.metadata.add_edge(run.id, version.id, EdgeDirection.OUTPUT, "output",
                                   call.actor)
            if version.tags.get(PATH_TAG) != path:
                call.metadata.set_artifact_tags(version.id, {PATH_TAG: path}, call.actor)


def artifact_uri(version: ArtifactVersion) -> str:
    """Where the MLflow client downloads a lineal artifact version from."""
    model_id = version.tags.get(MODEL_ID_TAG)
    kept = version.metadata.get("mlflow") if isinstance(version.metadata, dict) else None
    if model_id:
        experiment = (kept or {}).get("experiment_id") or "0"
        return f"mlflow-artifacts:/{experiment}/models/{model_id}/artifacts"
    return f"mlflow-artifacts:/_lineal/{version.id}"


# -- the staging folder of pending logged models -------------------------------------------------
def _staging() -> Path:
    root = os.environ.get("LINEAL_MLFLOW_STAGING") or os.path.join(
        tempfile.gettempdir(), f"lineal-mlflow-staging-{os.getuid()}")
    return Path(root)


def _folder(model_id: str) -> Path | None:
    return _staging() / model_id if _MODEL_ID.fullmatch(model_id or "") else None


def _pending(model_id: str) -> dict[str, Any] | None:
    folder = _folder(model_id)
    if folder is None:
        return None
    try:
        record: dict[str, Any] = json.loads((folder / "model.json").read_text())
    except FileNotFoundError:
        return None
    return record


def _write_record(record: dict[str, Any]) -> None:
    folder = _folder(record["model_id"])
    assert folder is not None
    (folder / "files").mkdir(parents=True, exist_ok=True)
    tmp = folder / f".model.{os.getpid()}.{threading.get_ident()}.json"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, folder / "model.json")


def _stage_file(model_id: str, path: str, digest: str, size: int) -> None:
    """One file per uploaded path (named by the path's hash): concurrent uploads never
    rewrite each other's entries."""
    folder = _folder(model_id)
    assert folder is not None
    key = hashlib.sha256(path.encode()).hexdigest()
    tmp = folder / "files" / f".{key}.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(json.dumps({"path": path, "digest": digest, "size": size}))
    os.replace(tmp, folder / "files" / f"{key}.json")


def _staged_files(model_id: str) -> list[tuple[str, str, int]]:
    folder = _folder(model_id)
    if folder is None or not (folder / "files").is_dir():
        return []
    out = []
    for entry in sorted((folder / "files").glob("*.json")):
        data = json.loads(entry.read_text())
        out.append((data["path"], data["digest"], int(data["size"])))
    return out


def _sweep(max_age_s: float = 7 * 86_400) -> None:
    """Forget pending models nobody finalized for a week (a client that died mid-upload);
    their blobs, named by no version, are then ``lineal gc``'s."""
    root = _staging()
    if not root.is_dir():
        return
    cutoff = time.time() - max_age_s
    for folder in root.iterdir():
        record = folder / "model.json"
        try:
            if _MODEL_ID.fullmatch(folder.name) and record.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def _update(model_id: str, change: Any) -> dict[str, Any]:
    with _lock:
        record = _pending(model_id)
        if record is None:
            raise NotFound(f"Logged model with ID '{model_id}' not found or already finalized")
        change(record)
        record["updated_ms"] = int(time.time() * 1000)
        _write_record(record)
        return record


# -- logged models -------------------------------------------------------------------------------
def _pairs(items: Any) -> dict[str, str]:
    return {str(i.get("key")): "" if i.get("value") is None else str(i.get("value"))
            for i in items or () if i.get("key")}


def create_logged_model(call: Call) -> dict[str, Any]:
    call.allow(WRITER)
    experiment = str(call.arg("experiment_id", required=False) or "0")
    experiment_name(experiment)
    source = call.arg("source_run_id", required=False)
    if source:
        call.run(WRITER, str(source))
    _sweep()
    model_id = "m-" + new_id().lower()
    now = int(time.time() * 1000)
    record: dict[str, Any] = {"model_id": model_id, "experiment_id": experiment,
              "name": call.arg("name", required=False) or model_id,
              "model_type": call.arg("model_type", required=False) or "",
              "source_run_id": source or "", "created_ms": now, "updated_ms": now,
              "status": "LOGGED_MODEL_PENDING", "params": _pairs(call.args.get("params")),
              "tags": _pairs(call.args.get("tags")), "outputs": [], "creator": call.actor}
    _write_record(record)
    return {"model": logged_model_json(record)}


def _model_record(call: Call, model_id: str) -> dict[str, Any]:
    version, record = _find_model(call, model_id, READER)
    if version is None:
        assert record is not None
        return record
    finished = logged_model_record(version)
    if record is not None:  # the same files as another model: this model's own record
        finished.update({k: record[k] for k in ("model_id", "name", "experiment_id",
                                                 "source_run_id", "params", "tags")})
    return finished


def get_logged_model(call: Call) -> dict[str, Any]:
    return {"model": logged_model_json(_model_record(call, call.path["model_id"]))}


def finalize_logged_model(call: Call) -> dict[str, Any]:
    """READY: the uploaded files become one ``model`` version produced by the source run."""
    model_id = call.path["model_id"]
    status = str(call.arg("status"))
    record = _model_record(call, model_id)
    if record.get("version_id"):  # finalized before (a retry)
        return {"model": logged_model_json(record)}
    call.allow(WRITER)
    if status in ("LOGGED_MODEL_UPLOAD_FAILED", "3"):
        record = _update(model_id, lambda r: r.update(status="LOGGED_MODEL_UPLOAD_FAILED"))
        return {"model": logged_model_json(record)}
    if status not in ("LOGGED_MODEL_READY", "2"):
        raise InvalidArgument(f"cannot finalize a logged model as {status}")
    files = _staged_files(model_id)
    if not files:
        raise InvalidArgument(f"no file of logged model {model_id} was uploaded to this server",
                              hint="upload the model's files before finalizing it")
    version = _record_model(call, record, files)
    if version.tags.get(MODEL_ID_TAG) == model_id:
        shutil.rmtree(_folder(model_id) or "", ignore_errors=True)
    else:  # these files were logged before as another model: this id keeps pointing at them
        _update(model_id, lambda r: r.update(status="LOGGED_MODEL_READY",
                                             version_id=version.id))
    return {"model": logged_model_json(_model_record(call, model_id))}


def _record_model(call: Call, record: dict[str, Any],
                  files: list[tuple[str, str, int]]) -> ArtifactVersion:
    blobs, meta = call.context.store.blobs, call.metadata
    for _, digest, _ in files:
        if not blobs.exists(digest):
            raise NotFound(f"a file of logged model {record['model_id']} is missing from the "
                           f"blob store ({digest})", hint="log the model again")
    entries = [{"path": p, "digest": d, "size": s} for p, d, s in files]
    info = blobs.put_bytes(manifest_bytes(entries))
    source = record.get("source_run_id") or None
    metadata = {"files": len(entries), "mlflow": {
        "model_id": record["model_id"], "name": record.get("name"), "source_run_id": source,
        "created_at_ms": record.get("created_ms"), "model_type": record.get("model_type"),
        "params": record.get("params") or {}, "tags": record.get("tags") or {},
        "experiment_id": record.get("experiment_id")}}
    project = meta.get_run(source).project if source else call.project
    spec = NewArtifactVersion(
        project=project, name=lineal_name(str(record.get("name") or ""), "model"), kind="model",
        digest=info.digest, uri=info.uri, size=sum(s for _, _, s in files),
        storage=Storage.STORED, is_directory=True, metadata=metadata,
        tags={MODEL_ID_TAG: record["model_id"]}, producer_run_id=source)
    version, created = meta.create_artifact_version(spec, call.actor)
    if not created and source:  # the same files were logged before: one version holds them
        meta.add_edge(source, version.id, EdgeDirection.OUTPUT, "output", call.actor)
    for run_id in record.get("outputs") or ():
        if run_id != source:
            meta.add_edge(run_id, version.id, EdgeDirection.OUTPUT, "output", call.actor)
    return version


def note_output(call: Call, run: Run, model_id: str) -> None:
    """``run`` produced the logged model ``model_id`` (MLflow's ``log_outputs``)."""
    if _pending(model_id) is not None:
        if run.id != _pending(model_id).get("source_run_id"):  # type: ignore[union-attr]
            _update(model_id, lambda r: r["outputs"].append(run.id))
        return
    version = logged_model_version(call, model_id)
    call.metadata.add_edge(run.id, version.id, EdgeDirection.OUTPUT, "output", call.actor)


def set_logged_model_tags(call: Call) -> dict[str, Any]:
    model_id = call.path["model_id"]
    tags = _pairs(call.args.get("tags"))
    record = _model_record(call, model_id)
    call.allow(WRITER)
    if record.get("version_id"):
        call.metadata.set_artifact_tags(record["version_id"], tags, call.actor)
    else:
        _update(model_id, lambda r: r["tags"].update(tags))
    return {}


def log_logged_model_params(call: Call) -> dict[str, Any]:
    model_id = call.path["model_id"]
    params = _pairs(call.args.get("params"))
    record = _model_record(call, model_id)
    if record.get("version_id"):
        raise unsupported("params on a finalized logged model (its version is immutable)")
    call.allow(WRITER)
    _update(model_id, lambda r: r["params"].update(params))
    return {}


def search_logged_models(call: Call) -> dict[str, Any]:
    """The finished logged models of the experiments (no filter language here)."""
    call.allow(READER)
    terms = equality_filter(call.args.get("filter"), ("name", "source_run_id", "model_id"))
    if terms is None or call.args.get("datasets") or call.args.get("order_by"):
        raise unsupported("this logged model search (lineal answers filters of name, "
                          "source_run_id and model_id equalities)")
    wanted = {experiment_name(str(i)) for i in call.args.get("experiment_ids") or ()}
    limit = int(call.args.get("max_results") or 100)
    offset = int(call.args.get("page_token") or 0)
    versions = call.metadata.list_artifact_versions(ArtifactFilter(
        project=call.project, kind="model", limit=10_000))
    records = [logged_model_record(v) for v in versions if MODEL_ID_TAG in v.tags]
    if wanted:
        records = [r for r in records if experiment_name(str(r["experiment_id"])) in wanted]
    records = [r for r in records if all(str(r.get(k)) == v for k, v in terms.items())]
    page = records[offset:offset + limit]
    body: dict[str, Any] = {"models": [logged_model_json(r) for r in page]}
    if offset + limit < len(records):
        body["next_page_token"] = str(offset + limit)
    return body
