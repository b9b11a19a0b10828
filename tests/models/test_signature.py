"""infer_signature on the inputs models take, and signatures recorded by save_model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineal.models import infer_signature, save_model

np = pytest.importorskip("numpy")


def test_ndarray_marks_the_batch_dimension() -> None:
    signature = infer_signature(np.zeros((5, 3, 2), dtype=np.float32), np.zeros(5, dtype=np.int64))
    assert signature == {
        "inputs": [{"name": None, "type": "float32", "shape": [-1, 3, 2]}],
        "outputs": [{"name": None, "type": "int64", "shape": [-1]}],
    }


def test_no_output_means_empty_outputs() -> None:
    assert infer_signature(np.array(["a", "b"]))["outputs"] == []
    assert infer_signature(np.array(["a", "b"]))["inputs"][0]["type"] == "string"


def test_dataframe_has_one_entry_per_column() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "age": [31, 42],
            "income": [1.5, 2.5],
            "city": ["Lyon", "Oslo"],
            "member": [True, False],
            "segment": pd.Categorical(["a", "b"]),
            "joined": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "notes": pd.Series([None, "x"], dtype=object),
            "score": pd.array([1, None], dtype="Int64"),
        }
    )
    inputs = infer_signature(frame)["inputs"]
    assert [entry["name"] for entry in inputs] == list(frame.columns)
    types = {entry["name"]: entry["type"] for entry in inputs}
    assert types == {
        "age": "int64",
        "income": "float64",
        "city": "string",
        "member": "bool",
        "segment": "category",
        "joined": types["joined"],
        "notes": "string",
        "score": "int64",
    }
    assert types["joined"].startswith("datetime64")
    assert all(entry["shape"] == [-1] for entry in inputs)


def test_series_is_one_named_column() -> None:
    pd = pytest.importorskip("pandas")
    assert infer_signature(pd.Series([1.0, 2.0], name="y"))["inputs"] == [
        {"name": "y", "type": "float64", "shape": [-1]}
    ]


def test_torch_tensors_single_tuple_and_dict() -> None:
    torch = pytest.importorskip("torch")
    image = torch.zeros(4, 3, 8, 8)
    tokens = torch.zeros(4, 16, dtype=torch.int64)
    assert infer_signature(image)["inputs"] == [
        {"name": None, "type": "float32", "shape": [-1, 3, 8, 8]}
    ]
    assert [e["type"] for e in infer_signature((image, tokens))["inputs"]] == ["float32", "int64"]
    assert infer_signature({"image": image, "tokens": tokens})["inputs"] == [
        {"name": "image", "type": "float32", "shape": [-1, 3, 8, 8]},
        {"name": "tokens", "type": "int64", "shape": [-1, 16]},
    ]


def test_lists_records_dicts_and_scalars() -> None:
    assert infer_signature([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])["inputs"] == [
        {"name": None, "type": "float64", "shape": [-1, 2]}
    ]
    assert infer_signature(["short text", "another"])["inputs"] == [
        {"name": None, "type": "string", "shape": [-1]}
    ]
    assert infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])["inputs"] == [
        {"name": "a", "type": "int64", "shape": [-1]},
        {"name": "b", "type": "string", "shape": [-1]},
    ]
    assert infer_signature({"ids": np.arange(3), "threshold": 0.5})["inputs"] == [
        {"name": "ids", "type": "int64", "shape": [-1]},
        {"name": "threshold", "type": "float64", "shape": []},
    ]
    assert infer_signature(True)["inputs"] == [{"name": None, "type": "bool", "shape": []}]


def test_signature_is_plain_json() -> None:
    signature = infer_signature({"x": np.zeros((2, 3), dtype=np.float16)}, [1, 2])
    assert json.loads(json.dumps(signature)) == signature


def test_undescribable_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot infer a signature from builtins.object"):
        infer_signature(object())


def test_save_model_records_inputs_and_outputs(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1, 0, 1, 0]})
    model = LinearRegression().fit(frame, [0.0, 1.0, 2.0, 3.0])
    saved = save_model(model, tmp_path / "m", input_example=frame.head(2))
    assert saved.signature == {
        "inputs": [
            {"name": "a", "type": "float64", "shape": [-1]},
            {"name": "b", "type": "int64", "shape": [-1]},
        ],
        "outputs": [{"name": None, "type": "float64", "shape": [-1]}],
    }


def test_a_model_failing_on_its_example_still_saves(tmp_path: Path) -> None:
    def broken(rows: object) -> object:
        raise ValueError("no")

    with pytest.warns(UserWarning, match="no outputs"):
        saved = save_model(broken, tmp_path / "m", input_example=np.zeros((2, 2)))
    assert saved.signature == {
        "inputs": [{"name": None, "type": "float64", "shape": [-1, 2]}],
        "outputs": [],
    }
