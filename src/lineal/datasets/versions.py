"""Reading dataset versions back: descriptions, listings, diffs between versions, and the data.

    from lineal import datasets

    datasets.get_description("cleaned@v2").column("weight").mean
    change = datasets.diff_versions("cleaned@v1", "cleaned@v2")
    [(s.name, s.reason) for s in change.flagged]
    table = datasets.load_dataset("cleaned@v2")      # a pyarrow.Table, digest checked

Everything but :func:`load_dataset` reads only the metadata store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactVersion, Storage
from ..errors import IntegrityError, InvalidArgument
from ..resolve import resolve_artifact
from ..store.base import ArtifactFilter
from .compare import DEFAULT_THRESHOLD, DatasetDiff
from .description import DatasetDescription

if TYPE_CHECKING:
    import pyarrow as pa

    from ..store import Store

__all__ = [
    "DatasetVersion",
    "diff_versions",
    "get_dataset",
    "get_description",
    "list_datasets",
    "load_dataset",
]


@dataclass(frozen=True)
class DatasetVersion:
    """A dataset version as stored: the artifact version and what lineal recorded about it."""

    artifact: ArtifactVersion
    description: DatasetDescription
    source: str | None = None
    context: str | None = None
    targets: list[str] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    column_tags: dict[str, list[str]] = field(default_factory=dict)
    format: str | None = None
    digest_rules: str = ""

    def __repr__(self) -> str:
        return f"<DatasetVersion {self.artifact.ref} {self.description.num_rows} rows x {self.description.num_columns} columns>"

    @property
    def ref(self) -> str:
        """The canonical reference, e.g. ``default/cleaned@v2``."""
        return self.artifact.ref

    @property
    def digest(self) -> str:
        """The dataset digest (content fingerprint), not the digest of the stored bytes."""
        return self.description.digest

    @property
    def stored(self) -> bool:
        """True when lineal holds the data (as Parquet); False for a reference."""
        return self.artifact.storage is Storage.STORED

    @classmethod
    def from_artifact(cls, version: ArtifactVersion) -> DatasetVersion:
        """Read the dataset metadata of ``version``; InvalidArgument if it is not a dataset."""
        body = version.metadata.get("dataset")
        if not isinstance(body, dict):
            raise InvalidArgument(
                f"{version.ref} is a {version.kind} artifact, not a dataset",
                hint="datasets are recorded with run.log_dataset or run.use_dataset",
            )
        return cls(
            artifact=version,
            description=DatasetDescription.from_dict(body),
            source=body.get("source"),
            context=body.get("context"),
            targets=list(body.get("targets") or []),
            predictions=list(body.get("predictions") or []),
            column_tags={k: list(v) for k, v in (body.get("column_tags") or {}).items()},
            format=body.get("format"),
            digest_rules=str(body.get("digest_rules", "")),
        )

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: the artifact version plus the dataset fields."""
        return {
            "ref": self.ref,
            "name": self.artifact.name,
            "version": self.artifact.version,
            "kind": self.artifact.kind,
            "storage": str(self.artifact.storage),
            "uri": self.artifact.uri,
            "size": self.artifact.size,
            "artifact_digest": self.artifact.digest,
            "created_at": self.artifact.created_at.isoformat(),
            "producer_run_id": self.artifact.producer_run_id,
            "tags": {k: v for k, v in self.artifact.tags.items() if not k.startswith("lineal.")},
            "aliases": list(self.artifact.aliases),
            "purged": None if self.artifact.purged is None else self.artifact.purged.to_dict(),
            "source": self.source,
            "context": self.context,
            "targets": self.targets,
            "predictions": self.predictions,
            "column_tags": self.column_tags,
            "format": self.format,
            "digest_rules": self.digest_rules,
            **self.description.to_dict(),
        }


def _store(store: Store | None) -> Store:
    from ..store import default_store

    return store or default_store()


def get_dataset(ref: str | ArtifactVersion, *, project: str | None = None,
                store: Store | None = None) -> DatasetVersion:
    """The dataset version ``ref`` names (``cleaned``, ``cleaned@v2``, ``cleaned@prod``,
    ``cleaned@sha256:3f2a``; the digest selector matches the stored artifact's digest)."""
    if isinstance(ref, ArtifactVersion):
        return DatasetVersion.from_artifact(ref)
    version = resolve_artifact(ref, _store(store), project=project, want="artifact")
    return DatasetVersion.from_artifact(version)


def get_description(ref: str | ArtifactVersion, *, project: str | None = None,
                    store: Store | None = None) -> DatasetDescription:
    """The stored :class:`DatasetDescription` (digest, schema, profile) of a dataset version."""
    return get_dataset(ref, project=project, store=store).description


def list_datasets(
    *,
    project: str | None = None,
    name: str | None = None,
    kind: str = "dataset",
    limit: int = 100,
    offset: int = 0,
    store: Store | None = None,
) -> list[DatasetVersion]:
    """Dataset versions (artifacts of ``kind``), newest first."""
    flt = ArtifactFilter(project=project, name=name, kind=kind, limit=limit, offset=offset)
    versions = _store(store).metadata.list_artifact_versions(flt)
    from ..notebook import Records

    return Records(DatasetVersion.from_artifact(v) for v in versions
                   if isinstance(v.metadata.get("dataset"), dict))


def diff_versions(
    ref_a: str | ArtifactVersion,
    ref_b: str | ArtifactVersion,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    project: str | None = None,
    store: Store | None = None,
) -> DatasetDiff:
    """What changed from dataset version ``ref_a`` (old) to ``ref_b`` (new), from their stored
    descriptions alone (see :func:`lineal.datasets.diff`)."""
    from .compare import diff

    store = _store(store)
    old = get_description(ref_a, project=project, store=store)
    new = get_description(ref_b, project=project, store=store)
    return diff(old, new, threshold=threshold)


def load_dataset(ref: str | ArtifactVersion, *, project: str | None = None,
                 store: Store | None = None) -> pa.Table:
    """The data of a dataset version as a ``pyarrow.Table``, after checking its dataset digest.

    Stored versions are read from the blob store; versions recorded by reference to a local
    file or folder are read from there. IntegrityError when the content no longer has the
    recorded digest (a referenced file changed); InvalidArgument for in-memory data recorded
    by reference only, which lineal cannot read back.
    """
    from ..artifacts import local_path
    from .convert import read_file, to_arrow
    from .digest import fingerprint

    store = _store(store)
    dataset = get_dataset(ref, project=project, store=store)
    version = dataset.artifact
    if version.storage is Storage.REFERENCE and not version.uri.startswith("file://"):
        raise InvalidArgument(
            f"{version.ref} was recorded by reference only: lineal holds no copy of its data",
            hint=f"read it from its source ({dataset.source or version.uri})",
        )
    path = local_path(store, version)
    # Blobs are named by digest, without a suffix: the recorded format says how to read them.
    table = read_file(path, "parquet") if dataset.stored else to_arrow(path)
    if fingerprint(table) != dataset.digest:
        raise IntegrityError(
            f"{version.ref}: the data no longer has its recorded digest {dataset.digest}",
            hint="the referenced file changed since it was logged"
            if version.storage is Storage.REFERENCE else "run `lineal verify`",
        )
    return table
