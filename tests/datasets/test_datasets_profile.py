"""Schemas and column profiles, checked against numpy and pandas computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.datasets import load_diabetes, load_wine

from lineal.datasets import ColumnProfile, ColumnSchema, DatasetDescription, describe


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Wine, plus columns of every kind the profile treats differently."""
    wine = load_wine(as_frame=True).frame
    n = len(wine)
    rng = np.random.default_rng(3)
    wine["cultivar"] = pd.Series(
        np.array(["barolo", "grignolino", "barbera"])[wine["target"].to_numpy()], dtype="str"
    )
    wine.loc[wine.index % 10 == 0, "cultivar"] = None
    wine["noisy"] = rng.normal(5, 2, n)
    wine.loc[wine.index % 4 == 0, "noisy"] = np.nan
    wine["count"] = pd.array(rng.integers(0, 9, n), dtype="Int64")
    wine.loc[wine.index % 6 == 0, "count"] = pd.NA
    wine["small"] = wine["magnesium"].astype("int32")
    wine["bottled"] = pd.date_range("2021-03-01", periods=n, freq="h", tz="UTC")
    wine["strong"] = wine["alcohol"] > 13
    wine["grade"] = pd.Categorical(np.where(wine["alcohol"] > 13, "high", "low"))
    return wine


@pytest.fixture(scope="module")
def description(frame: pd.DataFrame) -> DatasetDescription:
    return describe(frame)


def test_shape_and_sizes(frame: pd.DataFrame, description: DatasetDescription) -> None:
    assert description.num_rows == len(frame)
    assert description.num_columns == frame.shape[1]
    assert description.nbytes == pa.Table.from_pandas(frame, preserve_index=False).nbytes
    assert [c.name for c in description.columns] == list(frame.columns)


def test_schema_types_and_nullability(description: DatasetDescription) -> None:
    schema = {c.name: c for c in description.schema}
    assert schema["alcohol"] == ColumnSchema("alcohol", "double", False)
    assert schema["target"] == ColumnSchema("target", "int64", False)
    assert schema["small"] == ColumnSchema("small", "int32", False)
    assert schema["cultivar"] == ColumnSchema("cultivar", "string", True)
    assert schema["noisy"] == ColumnSchema("noisy", "double", True)
    assert schema["count"] == ColumnSchema("count", "int64", True)
    assert schema["bottled"].type.startswith("timestamp[") and schema["bottled"].type.endswith("tz=UTC]")
    assert schema["strong"] == ColumnSchema("strong", "bool", False)
    # A categorical shows as its values' type.
    assert schema["grade"] == ColumnSchema("grade", "string", False)


def test_declared_non_nullable_field_and_nan_from_polars() -> None:
    table = pa.table(
        {"x": pa.array([1, 2, 3])},
        schema=pa.schema([pa.field("x", pa.int64(), nullable=False)]),
    )
    assert describe(table).schema == [ColumnSchema("x", "int64", False)]
    native_nan = pl.DataFrame({"f": [1.0, float("nan"), 2.0]})
    d = describe(native_nan)
    assert d.schema[0].nullable is True
    assert d.columns[0].null_count == 1
    assert d.columns[0].mean == pytest.approx(1.5)


def test_numeric_profiles_match_pandas(frame: pd.DataFrame, description: DatasetDescription) -> None:
    for name in ("alcohol", "magnesium", "proline", "noisy", "count", "small", "target"):
        series = frame[name].astype("float64")
        p = description.column(name)
        values = series.dropna().to_numpy()
        assert p.null_count == series.isna().sum(), name
        assert p.min == pytest.approx(values.min()) and p.max == pytest.approx(values.max())
        assert p.mean == pytest.approx(series.mean())
        assert p.std == pytest.approx(series.std())  # ddof=1, as pandas
        expected = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
        assert [p.p5, p.p25, p.p50, p.p75, p.p95] == pytest.approx(list(expected))
        assert p.distinct_count == series.nunique()
        assert p.distinct_is_estimate is False
        assert p.top_values == []
    assert isinstance(description.column("small").min, int)


def test_diabetes_profile_matches_numpy() -> None:
    data = load_diabetes(as_frame=True).frame
    d = describe(pl.from_pandas(data))
    for name in data.columns:
        values = data[name].to_numpy()
        p = d.column(name)
        assert p.mean == pytest.approx(values.mean())
        assert p.std == pytest.approx(values.std(ddof=1))
        assert p.p50 == pytest.approx(np.median(values))


def test_string_bool_and_categorical_top_values(frame: pd.DataFrame, description: DatasetDescription) -> None:
    p = description.column("cultivar")
    counts = frame["cultivar"].value_counts()
    assert p.top_values == [(value, int(count)) for value, count in counts.items()]
    assert p.distinct_count == 3
    assert p.null_count == frame["cultivar"].isna().sum()
    assert p.mean is None and p.min is None
    strong = description.column("strong")
    assert dict(strong.top_values) == {True: int(frame["strong"].sum()), False: int((~frame["strong"]).sum())}
    grade = description.column("grade")
    assert dict(grade.top_values) == frame["grade"].value_counts().to_dict()


def test_top_values_keep_ten_most_frequent_ties_by_value() -> None:
    values = [f"v{i:02d}" for i in range(15) for _ in range(20 - i)] + ["v14"]
    p = describe(pd.DataFrame({"s": values})).columns[0]
    assert len(p.top_values) == 10
    assert p.top_values[0] == ("v00", 20)
    assert [v for v, _ in p.top_values] == [f"v{i:02d}" for i in range(10)]
    ties = describe(pd.DataFrame({"s": ["b", "a", "c", "a", "b", "c"]})).columns[0]
    assert ties.top_values == [("a", 2), ("b", 2), ("c", 2)]


def test_timestamp_min_max_are_iso(frame: pd.DataFrame, description: DatasetDescription) -> None:
    p = description.column("bottled")
    assert pd.Timestamp(p.min) == frame["bottled"].min()
    assert pd.Timestamp(p.max) == frame["bottled"].max()
    assert p.mean is None
    nanos = describe(pa.table({"t": pa.array([5, 1_000_000_001], pa.timestamp("ns"))})).columns[0]
    assert nanos.min == "1970-01-01T00:00:00.000000005"


def test_distinct_exact_then_estimated() -> None:
    n = 400_000
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "unique": np.arange(n),
            "few": rng.integers(0, 1000, n),
            "ids": pd.Series([f"user-{i}" for i in range(n)], dtype="str"),
            "floats": rng.normal(size=n),
        }
    )
    d = describe(frame)
    few = d.column("few")
    assert (few.distinct_count, few.distinct_is_estimate) == (frame["few"].nunique(), False)
    for name in ("unique", "ids", "floats"):
        p = d.column(name)
        assert p.distinct_is_estimate is True, name
        # KMV with k = 16384: relative standard error about 0.8%; 5% is > 6 sigma.
        assert p.distinct_count == pytest.approx(frame[name].nunique(), rel=0.05), name
    assert d.column("ids").top_values == []


def test_to_dict_is_json_and_round_trips(description: DatasetDescription) -> None:
    d = description.to_dict()
    text = json.dumps(d, allow_nan=False)
    again = DatasetDescription.from_dict(json.loads(text))
    assert again == description


def test_to_dict_makes_non_finite_values_json_safe() -> None:
    d = describe(pa.table({"x": [1.0, float("inf")], "all_missing": pa.array([None, None], pa.float64())}))
    payload = d.to_dict()
    json.dumps(payload, allow_nan=False)
    x = payload["columns"][0]
    assert x["max"] is None and x["mean"] is None
    missing = ColumnProfile.from_dict(payload["columns"][1])
    assert missing.null_count == 2 and missing.mean is None and missing.distinct_count == 0


def test_profile_false_keeps_schema_and_digest(frame: pd.DataFrame, description: DatasetDescription) -> None:
    light = describe(frame, profile=False)
    assert light.columns == []
    assert light.digest == description.digest
    assert light.schema == description.schema


def test_nested_columns_get_basic_profile() -> None:
    table = pa.table({"l": pa.array([[1, 2], None, [3]]), "s": pa.array([{"a": 1}, {"a": None}, None])})
    d = describe(table)
    assert d.schema[0] == ColumnSchema("l", "list<int64>", True)
    assert d.schema[1].type == "struct<a: int64>"
    assert d.column("l").null_count == 1
    assert d.column("l").distinct_count is None


def test_distinct_sketch_with_duplicates_and_mid_cardinality() -> None:
    # Each value repeated (the sketch's pre-selection must not count a duplicate twice), a
    # column that outgrows exact counting after its first pieces, and a categorical.
    n = 700_000
    rng = np.random.default_rng(3)
    repeated = np.repeat(np.arange(n // 4), 4)
    rng.shuffle(repeated)
    growing = np.concatenate([rng.integers(0, 5_000, 300_000), rng.integers(0, 60_000, n - 300_000)])
    frame = pd.DataFrame({
        "repeated": repeated,
        "growing": growing,
        "plan": pd.Categorical.from_codes(rng.integers(0, 30, n), [f"plan_{i}" for i in range(30)]),
    })
    d = describe(frame)
    for name in ("repeated", "growing"):
        p = d.column(name)
        assert p.distinct_is_estimate is True, name
        assert p.distinct_count == pytest.approx(frame[name].nunique(), rel=0.05), name
    plan = d.column("plan")
    assert (plan.distinct_count, plan.distinct_is_estimate) == (30, False)
    counts = frame["plan"].value_counts()
    assert plan.top_values[0] == (str(counts.index[0]), int(counts.iloc[0]))


def test_quantiles_of_long_columns_come_from_a_fixed_sample() -> None:
    from lineal.datasets.profile import QUANTILE_EXACT_ROWS

    rng = np.random.default_rng(8)
    n = QUANTILE_EXACT_ROWS + 200_000
    values = rng.lognormal(3, 1, n)
    long = describe(pd.DataFrame({"x": values})).column("x")
    assert long.quantiles_estimated is True
    exact = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    for got, want in zip((long.p5, long.p25, long.p50, long.p75, long.p95), exact, strict=True):
        assert got == pytest.approx(want, abs=0.01 * values.std())
    # min, max, mean and std stay exact, and the sample is the same in every call.
    assert (long.min, long.max) == (values.min(), values.max())
    assert long.mean == pytest.approx(values.mean(), rel=1e-12)
    assert describe(pd.DataFrame({"x": values})).column("x") == long
    short = describe(pd.DataFrame({"x": values[:1000]})).column("x")
    assert short.quantiles_estimated is False
    assert short.p50 == pytest.approx(np.quantile(values[:1000], 0.5), rel=1e-12)
