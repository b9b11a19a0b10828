"""diff(): schema changes, and distribution shifts flagged with a reason a person can act on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from lineal.datasets import DatasetDescription, DatasetDiff, describe, diff


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    """Generated health records: the kg -> lb story from the seeds."""
    rng = np.random.default_rng(42)
    n = 5_000
    return pd.DataFrame(
        {
            "weight": rng.normal(72, 14, n).round(1),
            "height": rng.normal(170, 9, n).round(1),
            "body_fat": rng.uniform(8, 40, n),
            "age": rng.integers(18, 90, n),
            "smoker": rng.random(n) < 0.2,
            "sex": pd.Series(rng.choice(["f", "m"], n), dtype="str"),
        }
    )


@pytest.fixture(scope="module")
def before(patients: pd.DataFrame) -> DatasetDescription:
    return describe(patients)


def test_identical_data_has_no_differences(patients: pd.DataFrame, before: DatasetDescription) -> None:
    result = diff(before, describe(patients.copy()))
    assert result.same_content is True
    assert result.column_shifts == []
    assert (result.added_columns, result.removed_columns, result.retyped_columns) == ([], [], [])
    assert result.row_count == (len(patients), len(patients))


def test_kg_to_lb_flags_only_weight(patients: pd.DataFrame, before: DatasetDescription) -> None:
    after = describe(patients.assign(weight=patients["weight"] * 2.20462))
    result = diff(before, after)
    assert result.same_content is False
    assert [s.name for s in result.flagged] == ["weight"]
    (shift,) = result.flagged
    assert "mean x2.20, std x2.20" in shift.reason
    assert "unit or scale change" in shift.reason
    assert "kg -> lb" in shift.reason
    assert shift.changes["mean"][1] == pytest.approx(shift.changes["mean"][0] * 2.20462)
    assert shift.score > 1
    # The other columns did not change at all, so they are not even listed.
    assert [s.name for s in result.column_shifts] == ["weight"]


def test_celsius_to_fahrenheit_is_an_affine_unit_change() -> None:
    rng = np.random.default_rng(1)
    celsius = pd.DataFrame({"temp": rng.normal(21, 4, 2000)})
    result = diff(describe(celsius), describe(celsius * 1.8 + 32))
    (shift,) = result.flagged
    assert "linearly transformed" in shift.reason and "C -> F" in shift.reason


def test_unrecognised_factor_is_still_a_scale_change(patients: pd.DataFrame, before: DatasetDescription) -> None:
    result = diff(before, describe(patients.assign(height=patients["height"] * 1.37)))
    (shift,) = result.flagged
    assert shift.name == "height"
    assert "std x1.37" in shift.reason and "unit or scale change" in shift.reason
    assert "(" not in shift.reason.split("change", 1)[1]


def test_location_shift_and_resampling(patients: pd.DataFrame, before: DatasetDescription) -> None:
    shifted = patients.assign(age=patients["age"] + 15)
    (shift,) = diff(before, describe(shifted)).flagged
    assert shift.name == "age" and "mean" in shift.reason and "std)" in shift.reason
    # A fresh sample of the same distributions moves every statistic a little, flags nothing.
    resample = patients.sample(frac=1.0, replace=True, random_state=5).reset_index(drop=True)
    result = diff(before, describe(resample))
    assert len(result.column_shifts) == patients.shape[1]
    assert result.flagged == []
    assert all(s.reason.startswith("small change") for s in result.column_shifts)


def test_missing_values_appearing_are_flagged(patients: pd.DataFrame, before: DatasetDescription) -> None:
    holes = patients.copy()
    holes.loc[holes.index % 5 == 0, "body_fat"] = np.nan
    (shift,) = diff(before, describe(holes)).flagged
    assert shift.name == "body_fat"
    assert "missing values 0.0% -> 20.0%" in shift.reason
    assert shift.changes["null_fraction"] == (0.0, 0.2)


def test_category_changes(patients: pd.DataFrame, before: DatasetDescription) -> None:
    recoded = patients.assign(sex=patients["sex"].map({"f": "female", "m": "m"}).astype("str"))
    result = diff(before, describe(recoded))
    (shift,) = result.flagged
    assert shift.name == "sex"
    assert "new values 'female'" in shift.reason and "values gone 'f'" in shift.reason
    more_smokers = patients.assign(smoker=np.arange(len(patients)) % 2 == 0)
    (shift,) = diff(before, describe(more_smokers)).flagged
    assert shift.name == "smoker" and "share of True" in shift.reason


def test_added_removed_and_retyped_columns(patients: pd.DataFrame, before: DatasetDescription) -> None:
    after = patients.drop(columns=["body_fat"]).assign(
        bmi=patients["weight"] / (patients["height"] / 100) ** 2,
        age=patients["age"].astype("float64"),
        smoker=patients["smoker"].astype("str"),
    )
    result = diff(before, describe(after))
    assert result.added_columns == ["bmi"]
    assert result.removed_columns == ["body_fat"]
    assert sorted(result.retyped_columns) == [("age", "int64", "double"), ("smoker", "bool", "string")]
    # int -> float with the same values: retyped, but the distribution did not move.
    assert "age" not in [s.name for s in result.column_shifts]


def test_width_change_is_retyped_but_same_content(patients: pd.DataFrame, before: DatasetDescription) -> None:
    result = diff(before, describe(patients.assign(age=patients["age"].astype("int32"))))
    assert result.same_content is True
    assert result.retyped_columns == [("age", "int64", "int32")]


def test_diff_of_stored_descriptions_and_to_dict(patients: pd.DataFrame, before: DatasetDescription) -> None:
    # Descriptions come back from JSON (a store) long after the frames are gone.
    stored = DatasetDescription.from_dict(json.loads(json.dumps(before.to_dict())))
    after = describe(patients.assign(weight=patients["weight"] * 2.20462).head(4000))
    result = diff(stored, after)
    assert isinstance(result, DatasetDiff)
    assert result.row_count == (5000, 4000)
    assert "weight" in [s.name for s in result.flagged]
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["row_count"] == [5000, 4000]
    weight = next(s for s in payload["column_shifts"] if s["name"] == "weight")
    assert weight["flagged"] is True and "unit or scale change" in weight["reason"]


def test_wine_split_by_class_flags_the_shifted_features() -> None:
    wine = load_wine(as_frame=True).frame
    first, third = wine[wine["target"] == 0], wine[wine["target"] == 2]
    result = diff(describe(first), describe(third))
    flagged = {s.name for s in result.flagged}
    # Class 0 and class 2 differ strongly in flavanoids and hue (well known for this data).
    assert {"flavanoids", "hue", "target"} <= flagged
    assert all(0 <= s.score <= 100 for s in result.column_shifts)


def test_threshold_is_adjustable(patients: pd.DataFrame, before: DatasetDescription) -> None:
    nudged = patients.assign(age=patients["age"] + 3)  # about 0.15 std
    assert diff(before, describe(nudged)).flagged == []
    assert [s.name for s in diff(before, describe(nudged), threshold=0.1).flagged] == ["age"]


def test_profile_less_descriptions_compare_schemas_only(patients: pd.DataFrame) -> None:
    result = diff(describe(patients, profile=False), describe(patients.assign(weight=0.0), profile=False))
    assert result.same_content is False
    assert result.column_shifts == []


def test_unit_change_on_other_rows_is_still_named() -> None:
    # Next month's extract: other patients, weight now in pounds, temperature in kelvin.
    rng = np.random.default_rng(21)
    january = pd.DataFrame({"weight": rng.normal(72, 14, 4000), "temp": rng.normal(37, 0.6, 4000)})
    february = pd.DataFrame({"weight": rng.normal(72, 14, 3500) * 2.20462,
                             "temp": rng.normal(37, 0.6, 3500) + 273.15})
    result = diff(describe(january), describe(february))
    reasons = {s.name: s.reason for s in result.flagged}
    assert "unit or scale change" in reasons["weight"] and "kg -> lb" in reasons["weight"]
    assert "unit change (C -> K)" in reasons["temp"]


def test_scale_change_around_zero_and_no_false_alarm_on_small_samples() -> None:
    rng = np.random.default_rng(4)
    before = pd.DataFrame({"z": rng.normal(0, 1, 5000)})
    after = describe(pd.DataFrame({"z": rng.normal(0, 1, 5000) * 1000}))
    (shift,) = diff(describe(before), after).flagged
    # A mean near 0 says nothing about the factor: no "mean x..." ratio, the std's instead.
    assert shift.reason.startswith("std x1") and "mean x" not in shift.reason
    assert "unit or scale change (x1000:" in shift.reason
    # Two small samples of one distribution: statistics move, nothing is flagged.
    for seed in range(5):
        rng = np.random.default_rng(seed)
        small = [pd.DataFrame({"w": rng.normal(72, 14, 200)}) for _ in range(2)]
        assert diff(describe(small[0]), describe(small[1])).flagged == []
