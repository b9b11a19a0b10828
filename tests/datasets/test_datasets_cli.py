"""``lineal datasets list|show|diff`` on a store filled through the SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from tests.cli.conftest import messages

import lineal
from lineal.datasets import describe
from lineal.store import open_store


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(uri: str, *args: str) -> Result:
    """``lineal --uri URI ARGS...`` in-process, through the console entry point."""
    from lineal.cli import main

    with CliRunner().isolation(env={"COLUMNS": "200"}) as (out, err, _):
        try:
            main(["--uri", uri, *args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(5)
    n = 3_000
    raw = pd.DataFrame(
        {
            "email": [f"p{i}@example.org" for i in range(n)],
            "weight": rng.normal(72, 14, n).round(1),
            "age": rng.integers(18, 90, n),
            "sex": pd.Series(rng.choice(["f", "m"], n), dtype="str"),
            "churned": rng.integers(0, 2, n),
        }
    )
    later = raw.sample(n=2_400, random_state=1).reset_index(drop=True)
    later = later.assign(weight=(later["weight"] * 2.20462).round(1),
                         age=later["age"].astype("float64")).drop(columns=["email"])
    later["region"] = rng.choice(["north", "south"], len(later))
    return {"raw": raw, "later": later}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, pd.DataFrame]) -> Iterator[str]:
    root = tmp_path_factory.mktemp("datasets-cli")
    uri = str(root / "store")
    store = open_store(uri)
    try:
        with lineal.run("ingest", capture=False, store=store) as run:
            run.log_dataset(frames["raw"], name="patients", context="training", targets="churned",
                            source="s3://hospital/patients.csv", tags={"team": "care"},
                            column_tags={"email": ["pii"]})
            with pytest.warns(UserWarning, match="recorded by reference only"):
                run.log_dataset(frames["later"], name="patients", store_bytes=False)
            run.log_artifact(__file__, name="script", kind="file")
        yield uri
    finally:
        store.close()


def test_list_table_and_json(world: str, frames: dict[str, pd.DataFrame]) -> None:
    result = cli(world, "datasets", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    first = next(line for line in lines if line.startswith("default/patients@v1"))
    assert "3,000" in first and "stored" in first and "training" in first
    assert describe(frames["raw"]).digest[:19] in first
    second = next(line for line in lines if line.startswith("default/patients@v2"))
    assert "2,400" in second and "reference" in second
    assert "script" not in result.out  # a file artifact is not a dataset
    listed = cli(world, "datasets", "list", "--json").json()
    assert [d["ref"] for d in listed] == ["default/patients@v2", "default/patients@v1"]
    v1 = listed[1]
    assert v1["rows"] == 3_000 and v1["columns"] == 5 and v1["storage"] == "stored"
    assert v1["digest"] == describe(frames["raw"]).digest and v1["context"] == "training"
    assert cli(world, "datasets", "list", "--name", "nothing", "--json").json() == []


def test_show_prints_schema_and_profile(world: str, frames: dict[str, pd.DataFrame]) -> None:
    result = cli(world, "datasets", "show", "patients@v1")
    assert result.code == 0, result.err
    out = result.out
    assert "Schema" in out and "Profile" in out
    assert "s3://hospital/patients.csv" in out and "team=care" in out
    email = next(line for line in out.splitlines() if line.startswith("email") and "string" in line)
    assert "pii" in email
    churned = next(line for line in out.splitlines() if line.startswith("churned") and "int64" in line)
    assert "target" in churned
    mean = frames["raw"]["weight"].mean()
    weight = next(line for line in out.splitlines()
                  if line.startswith("weight") and f"{mean:.4g}" in line)
    assert f"{frames['raw']['weight'].std():.4g}" in weight
    sex = next(line for line in out.splitlines() if line.startswith("sex") and "(" in line)
    assert "f (" in sex and "m (" in sex


def test_show_json(world: str, frames: dict[str, pd.DataFrame]) -> None:
    shown = cli(world, "datasets", "show", "patients@v1", "--json").json()
    expected = describe(frames["raw"])
    assert shown["digest"] == expected.digest and shown["num_rows"] == 3_000
    assert shown["column_tags"] == {"email": ["pii"]} and shown["targets"] == ["churned"]
    assert [c["name"] for c in shown["schema"]] == list(frames["raw"].columns)
    weight = next(c for c in shown["columns"] if c["name"] == "weight")
    assert weight["mean"] == pytest.approx(frames["raw"]["weight"].mean())
    assert shown["tags"] == {"team": "care"}


def test_diff_table_flags_the_unit_change(world: str) -> None:
    result = cli(world, "datasets", "diff", "patients@v1", "patients@v2")
    assert result.code == 0, result.err
    out = result.out
    assert "3,000 -> 2,400 (-600, -20.0%)" in out
    assert "region" in out and "added" in out and "email" in out and "removed" in out
    assert "retyped" in out and "int64" in out and "double" in out
    weight = next(line for line in out.splitlines() if line.startswith("weight"))
    assert "FLAGGED" in weight and "unit or scale change" in weight and "kg -> lb" in weight
    assert "age" not in [line.split()[0] for line in out.splitlines()
                         if "FLAGGED" in line]  # int -> float, same values: retyped, not shifted


def test_diff_json_and_check(world: str) -> None:
    result = cli(world, "datasets", "diff", "patients@v1", "patients@v2", "--json")
    payload = result.json()
    assert payload["a"] == "default/patients@v1" and payload["b"] == "default/patients@v2"
    assert payload["added_columns"] == ["region"] and payload["removed_columns"] == ["email"]
    assert payload["retyped_columns"] == [["age", "int64", "double"]]
    assert payload["row_count"] == [3_000, 2_400] and payload["same_content"] is False
    flagged = [s for s in payload["column_shifts"] if s["flagged"]]
    assert [s["name"] for s in flagged] == ["weight"]
    assert "kg -> lb" in flagged[0]["reason"]
    # --check: exit 1 when something changed, 0 when comparing a version with itself.
    assert cli(world, "datasets", "diff", "patients@v1", "patients@v2", "--check").code == 1
    same = cli(world, "datasets", "diff", "patients@v1", "patients@v1", "--check")
    assert same.code == 0 and "identical" in same.out


def test_errors_are_one_line_with_exit_codes(world: str, tmp_path: Path) -> None:
    missing = cli(world, "datasets", "show", "patients@v9")
    assert missing.code == 3 and missing.out == ""
    assert missing.err.startswith("error: no version") and len(messages(missing.err)) == 1
    not_dataset = cli(world, "datasets", "diff", "patients@v1", "script")
    assert not_dataset.code == 2 and "not a dataset" in not_dataset.err
    assert "Traceback" not in not_dataset.err
    nowhere = cli(str(tmp_path / "no-store"), "datasets", "list")
    assert nowhere.code == 3 and "no lineal store" in nowhere.err


def test_console_script_in_a_subprocess(world: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lineal.cli", "--uri", world, "datasets", "list", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 2
    failed = subprocess.run(
        [sys.executable, "-m", "lineal.cli", "--uri", world, "datasets", "show", "nope"],
        capture_output=True, text=True, timeout=120,
    )
    assert failed.returncode == 3 and failed.stderr.startswith("error: ")
