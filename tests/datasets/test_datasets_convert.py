"""to_arrow: every accepted input, real files and folders, and clear errors for the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_iris

from lineal.datasets import (
    DatasetReadError,
    EmptyDatasetError,
    UnsupportedDataError,
    describe,
    fingerprint,
    to_arrow,
)
from lineal.errors import InvalidArgument


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["species"] = pd.Series(
        np.array(["setosa", "versicolor", "virginica"])[frame["target"].to_numpy()], dtype="str"
    )
    return frame


def test_arrow_table_and_record_batch(iris: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(iris, preserve_index=False)
    assert to_arrow(table) is table
    assert to_arrow(table.to_batches()[0]).equals(table)


def test_pandas_drops_the_index(iris: pd.DataFrame) -> None:
    table = to_arrow(iris.set_index("species"))
    assert "species" not in table.column_names
    assert table.num_rows == len(iris)


def test_polars(iris: pd.DataFrame) -> None:
    frame = pl.from_pandas(iris)
    assert to_arrow(frame).column_names == list(iris.columns)
    with pytest.raises(UnsupportedDataError, match="collect"):
        to_arrow(frame.lazy())


def test_numpy_arrays() -> None:
    two_d = np.arange(12, dtype=np.float64).reshape(4, 3)
    table = to_arrow(two_d)
    assert table.column_names == ["col_0", "col_1", "col_2"]
    assert table.column("col_1").to_pylist() == [1.0, 4.0, 7.0, 10.0]
    one_d = to_arrow(np.array([3, 1, 2]))
    assert one_d.column_names == ["col_0"] and one_d.num_rows == 3
    # The same numbers through pandas give the same digest.
    assert fingerprint(table) == fingerprint(to_arrow(pd.DataFrame(two_d).add_prefix("col_")))
    with pytest.raises(UnsupportedDataError, match="3 dimension"):
        to_arrow(np.zeros((2, 2, 2)))


def test_arrow_c_stream_objects(iris: pd.DataFrame) -> None:
    class Stream:
        def __init__(self, table: pa.Table) -> None:
            self.table = table

        def __arrow_c_stream__(self, requested_schema: object = None) -> object:
            return self.table.__arrow_c_stream__(requested_schema)

    table = pa.Table.from_pandas(iris, preserve_index=False)
    assert to_arrow(Stream(table)).equals(table)


@pytest.mark.parametrize("obj", [[1, 2, 3], {"a": [1]}, 42, None, b"bytes"])
def test_unsupported_objects_name_their_type(obj: object) -> None:
    with pytest.raises(TypeError) as excinfo:
        to_arrow(obj)
    message = str(excinfo.value)
    assert type(obj).__name__ in message
    assert "pandas.DataFrame" in message and "pyarrow.Table" in message
    assert isinstance(excinfo.value, InvalidArgument)


def test_pandas_series_is_refused_with_a_hint(iris: pd.DataFrame) -> None:
    with pytest.raises(UnsupportedDataError, match="to_frame"):
        to_arrow(iris["sepal length (cm)"])


def test_mixed_object_column_is_a_clear_error() -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "two", 3.0], dtype=object)})
    with pytest.raises(UnsupportedDataError, match="cannot convert the pandas DataFrame"):
        to_arrow(frame)


def test_empty_frames_are_refused() -> None:
    for empty in (pd.DataFrame(), pl.DataFrame(), pa.table({})):
        with pytest.raises(EmptyDatasetError, match="no columns"):
            to_arrow(empty)
        with pytest.raises(ValueError):
            describe(empty)
    # Columns without rows are a valid (empty) dataset.
    assert to_arrow(pd.DataFrame({"x": pd.Series([], dtype="int64")})).num_rows == 0


def test_csv_parquet_and_json_lines_files_agree(iris: pd.DataFrame, tmp_path: Path) -> None:
    iris.to_csv(tmp_path / "iris.csv", index=False)
    iris.to_csv(tmp_path / "iris.csv.gz", index=False)
    iris.to_parquet(tmp_path / "iris.parquet", index=False)
    iris.to_json(tmp_path / "iris.jsonl", orient="records", lines=True)
    expected = fingerprint(to_arrow(iris))
    for name in ("iris.csv", "iris.csv.gz", "iris.parquet", "iris.jsonl"):
        table = to_arrow(tmp_path / name)
        assert table.num_rows == len(iris), name
        assert fingerprint(table) == expected, name
    assert describe(str(tmp_path / "iris.parquet")).digest == expected


def test_folder_of_parquet_parts(iris: pd.DataFrame, tmp_path: Path) -> None:
    table = to_arrow(iris)
    folder = tmp_path / "parts"
    folder.mkdir()
    # Written out of name order, with a marker file Spark would leave.
    for i, start in reversed(list(enumerate(range(0, len(iris), 40)))):
        pq.write_table(table.slice(start, 40), folder / f"part-{i:05d}.parquet")
    (folder / "_SUCCESS").write_text("")
    loaded = to_arrow(folder)
    assert loaded.num_rows == len(iris)
    assert loaded.column("sepal length (cm)").num_chunks > 1
    assert fingerprint(loaded) == fingerprint(table)


def test_folder_errors(iris: pd.DataFrame, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyDatasetError, match="no data files"):
        to_arrow(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    iris.to_csv(mixed / "a.csv", index=False)
    iris.to_parquet(mixed / "b.parquet", index=False)
    with pytest.raises(UnsupportedDataError, match="mixes formats"):
        to_arrow(mixed)
    drift = tmp_path / "drift"
    drift.mkdir()
    iris.to_parquet(drift / "a.parquet", index=False)
    iris.drop(columns=["species"]).to_parquet(drift / "b.parquet", index=False)
    with pytest.raises(DatasetReadError, match="b.parquet"):
        to_arrow(drift)


def test_corrupt_parquet_names_the_file(iris: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    iris.to_parquet(path, index=False)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # truncated: the footer is gone
    with pytest.raises(DatasetReadError, match="broken.parquet") as excinfo:
        to_arrow(path)
    assert "as Parquet" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    with pytest.raises(DatasetReadError, match="garbage.parquet"):
        to_arrow(garbage)


def test_corrupt_csv_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DatasetReadError, match=r"ragged\.csv.*as CSV"):
        to_arrow(path)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DatasetReadError, match=r"bad\.jsonl.*as JSON lines"):
        to_arrow(bad_json)


def test_missing_path_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        to_arrow(tmp_path / "nope.parquet")
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(UnsupportedDataError, match="format"):
        to_arrow(odd)
