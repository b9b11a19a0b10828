"""run.log_dataset / run.use_dataset and the reading API, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import lineal
from lineal.datasets import (
    DatasetVersion,
    describe,
    diff_versions,
    get_dataset,
    get_description,
    list_datasets,
    load_dataset,
)
from lineal.datasets import tracking as dataset_tracking
from lineal.entities import EdgeDirection, Storage
from lineal.errors import IntegrityError, InvalidArgument, LinealError, NotFound
from lineal.store import Store
from lineal.store.base import ArtifactFilter


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2_000
    return pd.DataFrame(
        {
            "email": [f"p{i}@example.org" for i in range(n)],
            "weight": rng.normal(72, 14, n).round(1),
            "height": rng.normal(170, 9, n).round(1),
            "smoker": rng.random(n) < 0.2,
            "sex": pd.Series(rng.choice(["f", "m"], n), dtype="str"),
            "churned": rng.integers(0, 2, n),
        }
    )


def edges_of(store: Store, version_id: str) -> set[tuple[str, str, str]]:
    return {(e.run_id, str(e.direction), e.role) for e in store.metadata.list_edges(version_id=version_id)}


def counts(store: Store) -> tuple[int, int, int]:
    """Artifact versions, blobs and ledger entries: what any write would change."""
    versions = len(store.metadata.list_artifact_versions(ArtifactFilter(limit=10_000)))
    blobs = sum(1 for _ in store.blobs.iter_digests())
    ledger = len(store.metadata.ledger_entries(limit=100_000))
    return versions, blobs, ledger


def test_log_stores_parquet_with_description(backend_store: Store, patients: pd.DataFrame) -> None:
    with lineal.run("ingest", capture=False, store=backend_store) as run:
        version = run.log_dataset(
            patients, name="patients", source="s3://hospital/raw/patients.csv",
            context="training", targets="churned", tags={"team": "care"},
            column_tags={"email": ["pii", "contact"]},
        )
    assert version.kind == "dataset" and version.storage is Storage.STORED
    assert version.ref == "default/patients@v1" and version.producer_run_id == run.id
    assert backend_store.blobs.exists(version.digest)
    expected = describe(patients)
    body = version.metadata["dataset"]
    assert body["digest"] == expected.digest and body["digest_rules"] == "lineal-dataset-digest/1"
    assert body["source"] == "s3://hospital/raw/patients.csv" and body["context"] == "training"
    assert body["targets"] == ["churned"] and body["predictions"] == []
    assert body["column_tags"] == {"email": ["contact", "pii"]}
    assert version.tags["team"] == "care"
    assert version.tags[dataset_tracking.DIGEST_TAG] == expected.digest
    assert version.tags["lineal.column_tag.pii"] == "email"
    # One output edge, whose role is the context (not an "output" edge beside it).
    assert edges_of(backend_store, version.id) == {(run.id, "output", "training")}
    # What comes back is what was described, and the stored bytes are the data.
    assert get_description("patients@v1", store=backend_store) == expected
    table = load_dataset("patients", store=backend_store)
    pd.testing.assert_frame_equal(table.to_pandas(), patients, check_dtype=False)


def test_identical_content_is_one_version_and_no_new_bytes(
    backend_store: Store, patients: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "patients.csv"
    patients.to_csv(csv, index=False)
    with lineal.run("first", capture=False, store=backend_store) as first:
        version = first.log_dataset(patients, name="patients")
    before = counts(backend_store)
    with lineal.run("second", capture=False, store=backend_store) as second:
        # The same rows from polars, from Arrow and from a CSV file: one content, one version.
        again = [
            second.log_dataset(pl.from_pandas(patients), name="patients", context="validation"),
            second.log_dataset(pa.Table.from_pandas(patients, preserve_index=False), name="patients"),
            second.log_dataset(csv, name="patients"),
        ]
    assert {v.id for v in again} == {version.id}
    versions, blobs, _ = counts(backend_store)
    assert (versions, blobs) == before[:2]
    assert edges_of(backend_store, version.id) == {
        (first.id, "output", "output"), (second.id, "output", "output"),
        (second.id, "output", "validation"),
    }
    # Different content under the same name is the next version.
    with lineal.run("third", capture=False, store=backend_store) as third:
        changed = third.log_dataset(patients.head(100), name="patients")
    assert changed.version == 2


def test_storage_default_by_size_and_forced(
    store: Store, patients: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset_tracking, "STORE_LIMIT_BYTES", 10_000)
    parquet = tmp_path / "big.parquet"
    patients.to_parquet(parquet)
    with lineal.run("sizes", capture=False, store=store) as run:
        small = run.log_dataset(patients.head(20), name="small")
        # In-memory data above the limit is stored all the same: nothing else could give it
        # back (a 232 MiB frame recorded by reference to memory could never be fetched).
        large = run.log_dataset(patients, name="large", source="warehouse://crm/patients")
        with pytest.warns(UserWarning, match="big: in-memory data recorded by reference only"):
            big = run.log_dataset(patients, name="big", source="warehouse://crm/patients",
                                  store_bytes=False)
        forced = run.log_dataset(patients, name="forced", store_bytes=True)
        by_path = run.log_dataset(parquet, name="by-path")
        with pytest.warns(UserWarning, match="cannot be fetched or loaded later"):
            refused = run.log_dataset(patients.head(20), name="refused", store_bytes=False)
    assert small.storage is Storage.STORED
    assert large.storage is Storage.STORED and store.blobs.exists(large.digest)
    assert load_dataset("large", store=store).num_rows == len(patients)
    assert forced.storage is Storage.STORED and store.blobs.exists(forced.digest)
    # In-memory data by reference: only its digest and description, the remote source as URI,
    # and the record says that no copy was kept.
    assert big.storage is Storage.REFERENCE and big.uri == "warehouse://crm/patients"
    assert big.digest == big.metadata["dataset"]["digest"] and not store.blobs.exists(big.digest)
    assert refused.storage is Storage.REFERENCE and refused.uri.startswith("dataset:sha256:")
    assert "no copy" in refused.metadata["dataset"]["not_stored"]
    assert "not_stored" not in small.metadata["dataset"]
    # A file above the limit by reference: the file's own digest, so `lineal verify` can
    # re-check it and lineal can read it back while the file is there.
    assert by_path.storage is Storage.REFERENCE and by_path.uri == parquet.as_uri()
    assert by_path.metadata["dataset"]["format"] == "parquet"
    assert load_dataset("by-path", store=store).num_rows == len(patients)
    with pytest.raises(InvalidArgument, match="by reference only"):
        load_dataset("big", store=store)
    # Nor can a run fetch them: a clear error, and the run records no input it never had.
    with lineal.run("reader", capture=False, store=store) as reader:
        with pytest.raises(NotFound, match="in-memory data.*store_bytes=True"):
            reader.use_artifact("refused")
        with pytest.raises(InvalidArgument, match="unknown storage protocol 'warehouse'"):
            reader.use_artifact("big")
    assert store.metadata.list_edges(run_id=reader.id) == []
    # Asking to store what exists only as a reference makes a stored version of it.
    with lineal.run("store-it", capture=False, store=store) as run:
        stored = run.log_dataset(patients, name="big", store_bytes=True)
    assert stored.version == 2 and stored.storage is Storage.STORED
    # The referenced file changes: reading it back says so instead of returning other data.
    patients.head(10).to_parquet(parquet)
    with pytest.raises(IntegrityError, match="no longer has its recorded digest"):
        load_dataset("by-path", store=store)


def test_folder_of_parts_by_reference(store: Store, patients: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, len(patients), 700)):
        patients.iloc[start:start + 700].to_parquet(folder / f"part-{i}.parquet")
    with lineal.run("parts", capture=False, store=store) as run:
        version = run.log_dataset(folder, name="parts", store_bytes=False)
        same = run.log_dataset(patients, name="parts")
    assert version.is_directory and version.metadata["files"] == 3
    assert same.id == version.id
    assert version.metadata["dataset"]["digest"] == describe(patients).digest


def test_use_dataset_by_reference_and_by_data(backend_store: Store, patients: pd.DataFrame) -> None:
    with lineal.run("ingest", capture=False, store=backend_store) as ingest:
        raw = ingest.log_dataset(patients, name="raw")
    with lineal.run("train", capture=False, store=backend_store) as train:
        by_ref = train.use_dataset("raw@v1", context="training")
        # The same content as data, without a name: found by its digest.
        by_data = train.use_dataset(pl.from_pandas(patients), context="validation")
        holdout = train.use_dataset(patients.tail(300), name="holdout", context="test",
                                    source="s3://hospital/holdout.parquet")
        default_role = train.use_dataset(raw)
    assert by_ref.id == by_data.id == default_role.id == raw.id
    assert edges_of(backend_store, raw.id) == {
        (ingest.id, "output", "output"), (train.id, "input", "training"),
        (train.id, "input", "validation"), (train.id, "input", "input"),
    }
    # Data nobody logged: recorded by reference, produced by no run, consumed by this one.
    assert holdout.storage is Storage.REFERENCE and holdout.producer_run_id is None
    assert holdout.uri == "s3://hospital/holdout.parquet"
    assert edges_of(backend_store, holdout.id) == {(train.id, "input", "test")}
    assert [v.id for v in train.inputs] == [raw.id, raw.id, holdout.id, raw.id]
    # Using it again by data links the same version.
    with lineal.run("score", capture=False, store=backend_store) as score:
        assert score.use_dataset(patients.tail(300), name="holdout").id == holdout.id


def test_transformation_lineage_reads_raw_cleaned_features(store: Store, patients: pd.DataFrame) -> None:
    with lineal.run("ingest", capture=False, store=store) as run:
        run.log_dataset(patients, name="raw")
    with lineal.run("clean", kind="transform", params={"drop": "email"}, capture=False,
                    store=store) as clean:
        raw = clean.use_dataset("raw")
        cleaned = clean.log_dataset(patients.drop(columns=["email"]), name="cleaned")
    with lineal.run("featurize", kind="transform", params={"bmi": True}, capture=False,
                    store=store) as featurize:
        featurize.use_dataset("cleaned")
        bmi = patients["weight"] / (patients["height"] / 100) ** 2
        features = featurize.log_dataset(patients.drop(columns=["email"]).assign(bmi=bmi),
                                         name="features", context="training", targets="churned")

    def upstream(version_id: str) -> list[str]:
        producer = store.metadata.get_artifact_version(version_id).producer_run_id
        assert producer is not None
        inputs = [e for e in store.metadata.list_edges(run_id=producer)
                  if e.direction is EdgeDirection.INPUT]
        return [store.metadata.get_artifact_version(e.artifact_id).name for e in inputs]

    assert upstream(features.id) == ["cleaned"] and upstream(cleaned.id) == ["raw"]
    assert store.metadata.get_run(clean.id).params == {"drop": "email"}
    assert raw.name == "raw"
    change = diff_versions("cleaned", "features", store=store)
    assert change.added_columns == ["bmi"]


def test_diff_versions_flags_a_silent_unit_change(store: Store, patients: pd.DataFrame) -> None:
    rng = np.random.default_rng(11)
    later = patients.sample(n=1_500, random_state=3).reset_index(drop=True)
    later = later.assign(weight=(later["weight"] * 2.20462).round(1),
                         height=later["height"] + rng.normal(0, 0.5, len(later)))
    with lineal.run("monthly", capture=False, store=store) as run:
        run.log_dataset(patients, name="visits")
        run.log_dataset(later, name="visits")
    change = diff_versions("visits@v1", "visits@v2", store=store)
    assert change.row_count == (2_000, 1_500)
    (weight,) = change.flagged
    assert weight.name == "weight"
    assert "unit or scale change" in weight.reason and "kg -> lb" in weight.reason


def test_listing_and_reading(store: Store, patients: pd.DataFrame) -> None:
    with lineal.run("many", capture=False, store=store) as run:
        run.log_dataset(patients, name="a", context="training")
        run.log_dataset(patients.head(50), name="b")
        run.log_artifact(__file__, name="not-a-dataset", kind="file")
    found = list_datasets(store=store)
    assert [d.ref for d in found] == ["default/b@v1", "default/a@v1"]
    assert all(isinstance(d, DatasetVersion) for d in found)
    assert list_datasets(name="a", store=store)[0].context == "training"
    dataset = get_dataset("a@latest", store=store)
    assert dataset.digest == describe(patients).digest and dataset.stored
    payload = dataset.to_dict()
    assert payload["num_rows"] == 2_000 and payload["storage"] == "stored"
    with pytest.raises(InvalidArgument, match="not a dataset"):
        get_dataset("not-a-dataset", store=store)
    with pytest.raises(NotFound):
        get_dataset("a@v7", store=store)


class Unsupported:
    pass


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda tmp: Unsupported(), InvalidArgument, "cannot describe an object of type"),
        (lambda tmp: pd.DataFrame(), InvalidArgument, "no columns"),
        (lambda tmp: pd.DataFrame({"x": pd.Series([], dtype="int64")}), InvalidArgument, "no rows"),
        (lambda tmp: np.zeros((2, 2, 2)), InvalidArgument, "3 dimension"),
        (lambda tmp: _corrupt(tmp / "bad.parquet", b"PAR1 this is not parquet"), InvalidArgument,
         "cannot read"),
        (lambda tmp: _corrupt(tmp / "bad.csv", b"a,b\n1,2\n3,4,5\n"),
         InvalidArgument, "cannot read"),
        (lambda tmp: tmp / "missing.csv", NotFound, "no such file"),
    ],
    ids=["object", "no-columns", "no-rows", "3d-array", "corrupt-parquet", "corrupt-csv", "missing-file"],
)
def test_bad_data_writes_nothing(
    backend_store: Store, tmp_path: Path, make: object, error: type[LinealError], message: str
) -> None:
    data = make(tmp_path)  # type: ignore[operator]
    with lineal.run("bad", capture=False, store=backend_store) as run:
        before = counts(backend_store)
        for call in (lambda: run.log_dataset(data, name="bad"),
                     lambda: run.use_dataset(data, name="bad")):
            with pytest.raises(error, match=message) as caught:
                call()
            assert caught.value.hint  # says how to fix it, not only what is wrong
        assert counts(backend_store) == before


def _corrupt(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_bad_arguments_and_digest_mismatch_write_nothing(store: Store, patients: pd.DataFrame) -> None:
    with lineal.run("ok", capture=False, store=store) as run:
        run.log_dataset(patients, name="raw")
    expected = describe(patients).digest
    with lineal.run("bad", capture=False, store=store) as run:
        before = counts(store)
        attempts = [
            (lambda: run.log_dataset(patients, name="raw", targets="nope"), "not in the data"),
            (lambda: run.log_dataset(patients, name="raw", predictions=["churned", "score"]),
             "'score'"),
            (lambda: run.log_dataset(patients, name="raw", column_tags={"phone": ["pii"]}),
             "not in the data"),
            (lambda: run.log_dataset(patients, name="raw", column_tags={"email": ["p i i"]}),
             "invalid column tag"),
            (lambda: run.log_dataset(patients, name="bad name!"), "invalid dataset name"),
            (lambda: run.log_dataset(patients, name="raw", context="train ing"), "invalid dataset context"),
            (lambda: run.log_dataset(patients, name="raw", tags={"lineal.x": "1"}), "reserved"),
            (lambda: run.log_dataset(patients, name="raw", store_bytes="yes"), "store_bytes"),
            (lambda: run.use_dataset(patients.head(5)), "pass name="),
            (lambda: run.use_dataset(patients, targets="churn"), "not in the data"),
            (lambda: run.use_dataset("raw@v1", digest="sha256:" + "0" * 64), "expected"),
            (lambda: run.use_dataset(patients.head(5), name="raw", digest=expected), "expected"),
            (lambda: run.use_dataset("raw@v9"), "no version"),
        ]
        for call, message in attempts:
            with pytest.raises(LinealError, match=message) as caught:
                call()
            assert caught.value.hint, message
        assert counts(store) == before
        assert run.inputs == [] and [v.name for v in run.outputs] == []


def test_non_dataset_artifact_is_refused_by_use_dataset(store: Store) -> None:
    with lineal.run("files", capture=False, store=store) as run:
        run.log_artifact(__file__, name="script", kind="file")
        with pytest.raises(InvalidArgument, match="not a dataset"):
            run.use_dataset("script")


def test_numpy_and_json_lines(store: Store, tmp_path: Path) -> None:
    matrix = np.arange(30, dtype=np.float64).reshape(10, 3)
    lines = tmp_path / "rows.jsonl"
    pd.DataFrame(matrix, columns=["col_0", "col_1", "col_2"]).to_json(lines, orient="records", lines=True)
    with lineal.run("arrays", capture=False, store=store) as run:
        from_numpy = run.log_dataset(matrix, name="matrix")
        from_json = run.log_dataset(lines, name="matrix")
    assert from_json.id == from_numpy.id
    assert [c.name for c in get_description("matrix", store=store).schema] == ["col_0", "col_1", "col_2"]
