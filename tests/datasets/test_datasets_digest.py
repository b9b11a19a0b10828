"""The digest contract: same data from any library and layout agrees; any real change differs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.datasets import load_wine

from lineal.datasets import describe, fingerprint, to_arrow

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    """The wine data plus a string column with nulls, a timestamp and a boolean."""
    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = pd.Series(
        np.array(["barolo", "grignolino", "barbera"])[frame["target"].to_numpy()], dtype="str"
    )
    frame.loc[frame.index % 9 == 0, "cultivar"] = None
    frame["bottled"] = pd.date_range("2021-03-01", periods=len(frame), freq="37min")
    frame["strong"] = frame["alcohol"] > 13
    return frame


def digest(data: object) -> str:
    return fingerprint(to_arrow(data))


def replace_column(table: pa.Table, name: str, column: pa.ChunkedArray | pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def test_digest_format(wine: pd.DataFrame) -> None:
    value = digest(wine)
    assert value.startswith("sha256:")
    assert len(value) == len("sha256:") + 64
    assert describe(wine, profile=False).digest == value


def test_pandas_polars_arrow_agree(wine: pd.DataFrame) -> None:
    expected = digest(wine)
    table = pa.Table.from_pandas(wine, preserve_index=False)
    assert digest(pl.from_pandas(wine)) == expected
    assert digest(table) == expected
    assert digest(table.to_batches()[0]) == expected
    assert digest(pl.from_arrow(table)) == expected


def test_chunking_does_not_matter(wine: pd.DataFrame) -> None:
    table = to_arrow(wine)
    expected = fingerprint(table)
    for size in (1, 7, 64, 100):
        rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=size))
        assert rechunked.column(0).num_chunks > 1
        assert fingerprint(rechunked) == expected
    # Slices with non-zero offsets (bit offsets in validity bitmaps included).
    pieces = [table.slice(0, 3), table.slice(3, 50), table.slice(53)]
    assert fingerprint(pa.concat_tables(pieces)) == expected


def test_string_encodings_do_not_matter(wine: pd.DataFrame) -> None:
    table = to_arrow(wine)
    expected = fingerprint(table)
    column = table.column("cultivar")
    for variant in (
        column.cast(pa.string()),
        column.cast(pa.large_string()),
        column.cast(pa.string_view()),
        column.dictionary_encode(),
        pa.chunked_array([c.dictionary_encode() for c in table.slice(0, 10).column("cultivar").chunks]
                         + [c.dictionary_encode() for c in table.slice(10).column("cultivar").chunks]),
    ):
        assert fingerprint(replace_column(table, "cultivar", variant)) == expected


def test_pandas_categorical_equals_its_values(wine: pd.DataFrame) -> None:
    as_category = wine.assign(cultivar=wine["cultivar"].astype("category"))
    assert digest(as_category) == digest(wine)
    assert digest(pl.from_pandas(as_category)) == digest(wine)


def test_widths_and_time_units_are_one_family(wine: pd.DataFrame) -> None:
    table = to_arrow(wine)
    expected = fingerprint(table)
    assert fingerprint(replace_column(table, "target", table.column("target").cast(pa.int32()))) == expected
    assert fingerprint(replace_column(table, "target", table.column("target").cast(pa.int8()))) == expected
    for unit in ("s", "ms", "us", "ns"):
        retimed = replace_column(table, "bottled", table.column("bottled").cast(pa.timestamp(unit)))
        assert fingerprint(retimed) == expected
    floats = pa.table({"x": pa.array([0.5, 1.25, None, -3.0], pa.float32())})
    assert fingerprint(floats) == fingerprint(floats.cast(pa.schema([("x", pa.float64())])))


def test_timestamps_beyond_nanoseconds_hash_exactly() -> None:
    # 9999-12-31 does not fit in int64 nanoseconds; s, ms and us columns still agree.
    seconds = pa.array([0, 253402214400], pa.timestamp("s"))
    digests = {fingerprint(pa.table({"t": seconds.cast(pa.timestamp(u))})) for u in ("s", "ms", "us")}
    assert len(digests) == 1
    later = pa.array([0, 253402214401], pa.timestamp("s"))
    assert fingerprint(pa.table({"t": later})) not in digests


def test_index_is_dropped(wine: pd.DataFrame) -> None:
    assert digest(wine.set_axis(wine.index * 10 + 5)) == digest(wine)


def test_identical_in_another_process(wine: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "wine.parquet"
    wine.to_parquet(path)
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(SRC)!r})
        from lineal.datasets import describe
        print(describe({str(path)!r}).digest)
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {digest(wine)}


def test_changing_one_value_changes_digest(wine: pd.DataFrame) -> None:
    expected = digest(wine)
    changed = wine.copy()
    changed.loc[100, "magnesium"] += 1
    assert digest(changed) != expected
    changed = wine.copy()
    changed.loc[5, "cultivar"] = "barbera!"
    assert digest(changed) != expected
    changed = wine.copy()
    changed.loc[0, "strong"] = not changed.loc[0, "strong"]
    assert digest(changed) != expected


def test_changing_a_name_changes_digest(wine: pd.DataFrame) -> None:
    assert digest(wine.rename(columns={"ash": "Ash"})) != digest(wine)


def test_row_and_column_order_change_digest(wine: pd.DataFrame) -> None:
    expected = digest(wine)
    assert digest(wine.iloc[::-1]) != expected
    swapped = wine.iloc[[1, 0, *range(2, len(wine))]]
    assert digest(swapped) != expected
    columns = list(wine.columns)
    columns[0], columns[1] = columns[1], columns[0]
    assert digest(wine[columns]) != expected


def test_changing_a_type_family_changes_digest(wine: pd.DataFrame) -> None:
    expected = digest(wine)
    assert digest(wine.assign(target=wine["target"].astype("float64"))) != expected
    assert digest(wine.assign(target=wine["target"].astype("str"))) != expected
    assert digest(wine.assign(bottled=wine["bottled"].dt.tz_localize("UTC"))) != expected
    table = to_arrow(wine)
    unsigned = replace_column(table, "target", table.column("target").cast(pa.uint64()))
    assert fingerprint(unsigned) != expected


def test_null_is_not_zero_empty_or_false() -> None:
    base = {
        "i": pa.array([1, None, 3]),
        "f": pa.array([1.5, None, 3.5]),
        "s": pa.array(["a", None, "c"]),
        "b": pa.array([True, None, False]),
    }
    fills = {"i": 0, "f": 0.0, "s": "", "b": False}
    with_nulls = fingerprint(pa.table(base))
    for name, fill in fills.items():
        filled = dict(base, **{name: pc.fill_null(base[name], fill)})
        assert fingerprint(pa.table(filled)) != with_nulls, name


def test_bytes_under_nulls_are_ignored() -> None:
    clean = pa.array([1, None, 3], pa.int64())
    # Same validity bitmap, different garbage in the null slot's value bytes.
    data = pa.py_buffer(np.array([1, 999, 3], dtype=np.int64).tobytes())
    dirty = pa.Array.from_buffers(pa.int64(), 3, [clean.buffers()[0], data])
    assert dirty.to_pylist() == clean.to_pylist()
    assert fingerprint(pa.table({"x": dirty})) == fingerprint(pa.table({"x": clean}))
    # A null string whose offsets still cover bytes.
    offsets = pa.py_buffer(np.array([0, 1, 4, 5], dtype=np.int32).tobytes())
    strings = pa.Array.from_buffers(
        pa.string(), 3, [pa.array([True, False, True]).buffers()[1], offsets, pa.py_buffer(b"axyzc")]
    )
    assert fingerprint(pa.table({"s": strings})) == fingerprint(pa.table({"s": ["a", None, "c"]}))


def test_nan_counts_as_missing() -> None:
    # pandas turns NaN into null on the way to Arrow; polars keeps it. Both must agree.
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    native = pl.DataFrame({"x": [1.0, float("nan"), 3.0]})
    assert native.to_arrow().column("x").null_count == 0
    assert digest(frame) == digest(native) == digest(pa.table({"x": [1.0, None, 3.0]}))


def test_string_boundaries_matter() -> None:
    assert fingerprint(pa.table({"s": ["ab", "c"]})) != fingerprint(pa.table({"s": ["a", "bc"]}))


def test_nested_types() -> None:
    lists = pa.array([[1, 2], None, [], [3]], pa.list_(pa.int32()))
    expected = fingerprint(pa.table({"l": lists}))
    assert fingerprint(pa.table({"l": lists.cast(pa.large_list(pa.int64()))})) == expected
    assert fingerprint(pa.table({"l": pa.array([[1, 2], [], [], [3]])})) != expected
    assert fingerprint(pa.table({"l": pa.array([[1], [2], None, [3]])})) != expected
    structs = pa.array([{"a": 1, "b": "x"}, None, {"a": 2, "b": None}])
    polars_structs = pl.DataFrame({"s": structs.to_pylist()})
    assert fingerprint(pa.table({"s": structs})) == digest(polars_structs)
    embeddings = pa.array([[0.1, 0.2], [0.3, 0.4]], pa.list_(pa.float32(), 2))
    assert fingerprint(pa.table({"e": embeddings})) == fingerprint(
        pa.table({"e": pa.array([[0.1, 0.2], [0.3, 0.4]], pa.list_(pa.float32(), 2)).cast(pa.list_(pa.float64()))})
    )


def test_empty_rows_are_fine_and_counted() -> None:
    empty = pa.table({"x": pa.array([], pa.int64())})
    assert fingerprint(empty) != fingerprint(pa.table({"x": [0]}))
    assert describe(empty).num_rows == 0


def test_large_table_many_pieces() -> None:
    # Big enough for several pieces per column, and for the distinct sketch to engage.
    rng = np.random.default_rng(7)
    n = 600_000
    frame = pd.DataFrame(
        {"id": np.arange(n), "x": rng.normal(size=n), "s": pd.Series(rng.integers(0, 50, n).astype(str), dtype="str")}
    )
    expected = digest(frame)
    table = to_arrow(frame)
    assert fingerprint(pa.Table.from_batches(table.to_batches(max_chunksize=100_003))) == expected
    assert digest(pl.from_pandas(frame)) == expected
    assert fingerprint(table, threads=1) == expected


def test_file_and_folder_views_agree(wine: pd.DataFrame, tmp_path: Path) -> None:
    # The frame as pandas, polars and Arrow, and as files written by pandas and polars: a CSV
    # file (string nulls written as empty fields), JSON lines, and folders of Parquet and CSV
    # parts. Same rows and columns, so one digest.
    expected = digest(wine)
    wine.to_csv(tmp_path / "wine.csv", index=False)
    pl.from_pandas(wine).write_csv(tmp_path / "wine-polars.csv")
    parquet_parts, csv_parts = tmp_path / "parquet-parts", tmp_path / "csv-parts"
    parquet_parts.mkdir()
    csv_parts.mkdir()
    for i, start in enumerate(range(0, len(wine), 50)):
        part = wine.iloc[start:start + 50]
        part.to_parquet(parquet_parts / f"part-{i:03d}.parquet")
        part.to_csv(csv_parts / f"part-{i:03d}.csv", index=False)
    (parquet_parts / "_SUCCESS").write_bytes(b"")
    views = {
        "csv": tmp_path / "wine.csv",
        "csv (polars)": tmp_path / "wine-polars.csv",
        "parquet folder": parquet_parts,
        "csv folder": csv_parts,
        "pandas from csv": pd.read_csv(tmp_path / "wine.csv", parse_dates=["bottled"]),
        "polars from csv": pl.read_csv(tmp_path / "wine.csv", try_parse_dates=True),
    }
    for label, view in views.items():
        assert digest(view) == expected, label


def test_views_agree_in_other_processes(wine: pd.DataFrame, tmp_path: Path) -> None:
    # Each process reads the data its own way: polars from CSV, pandas from a Parquet folder.
    wine.to_csv(tmp_path / "wine.csv", index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    wine.iloc[:100].to_parquet(folder / "a.parquet")
    wine.iloc[100:].to_parquet(folder / "b.parquet")
    readers = {
        "polars": f"import polars as pl; data = pl.read_csv({str(tmp_path / 'wine.csv')!r}, try_parse_dates=True)",
        "pandas": f"import pandas as pd; data = pd.read_parquet({str(folder)!r})",
        "path": f"data = {str(tmp_path / 'wine.csv')!r}",
    }
    outputs = {}
    for label, reader in readers.items():
        code = f"import sys; sys.path.insert(0, {str(SRC)!r})\n{reader}\n" \
               "from lineal.datasets import describe\nprint(describe(data).digest)\n"
        outputs[label] = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True,
            env={"PYTHONHASHSEED": "random", "PATH": "/usr/bin:/bin"},
        ).stdout.strip()
    assert outputs == dict.fromkeys(readers, digest(wine))


def test_decimal_precision_is_a_width() -> None:
    from decimal import Decimal

    values = [Decimal("1.50"), None, Decimal("-2.25")]
    narrow = pa.table({"d": pa.array(values, pa.decimal128(5, 2))})
    assert fingerprint(narrow) == fingerprint(pa.table({"d": pa.array(values, pa.decimal128(38, 2))}))
    assert fingerprint(narrow) == fingerprint(pa.table({"d": pa.array(values, pa.decimal256(40, 2))}))
    assert fingerprint(narrow) == digest(pl.DataFrame({"d": values}, schema={"d": pl.Decimal(38, 2)}))
    # The scale says what the digits mean: 1.50 at scale 2 and 1.5 at scale 1 differ.
    assert fingerprint(narrow) != fingerprint(pa.table({"d": pa.array(values, pa.decimal128(5, 3))}))
