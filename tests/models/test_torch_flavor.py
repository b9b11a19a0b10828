"""PyTorch: state dict (safetensors or torch.save) + TorchScript, rebuilding, corrupt files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from lineal.models import ModelFormatError, load_model, save_model
from lineal.models.testing import FreshLoad, predict_in_fresh_process

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
nn = torch.nn


class Net(nn.Module):
    """Scriptable: TorchScript compiles it."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class VarArgsNet(nn.Module):
    """Not scriptable (TorchScript rejects *args), so saving falls back to tracing."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(inputs[0]))


class TiedNet(nn.Module):
    """Two names for one weight, which plain safetensors.save_file refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = nn.Linear(4, 4, bias=False)
        self.decode = nn.Linear(4, 4, bias=False)
        self.decode.weight = self.encode.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.relu(self.encode(x)))


def _data() -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0).astype(np.int64)
    return X[:90], y[:90], X[90:]


def _train(model: nn.Module, X: Any, y: Any) -> nn.Module:
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
    return model


def _outputs(model: nn.Module, X: Any) -> Any:
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any, Any]:
    return _data()


@pytest.fixture(scope="module")
def net(data: Any) -> nn.Module:
    return _train(Net(), data[0], data[1]).eval()


@pytest.fixture(scope="module")
def round_trip(
    net: nn.Module, data: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    X_train, _, X_test = data
    root = tmp_path_factory.mktemp("torch")
    varargs = VarArgsNet()
    saved = {
        "default": save_model(net, root / "default", input_example=torch.from_numpy(X_train[:2])),
        "traced": save_model(varargs, root / "traced", input_example=torch.from_numpy(X_train[:2])),
        "script_only": save_model(net, root / "script_only", format="torchscript"),
    }
    # The child process has never seen Net or VarArgsNet: TorchScript is all it gets.
    results = predict_in_fresh_process(
        FreshLoad(root / "default", X_test, method="__call__"),
        FreshLoad(root / "traced", X_test, method="__call__"),
        FreshLoad(root / "script_only", X_test, method="__call__"),
    )
    return {
        "root": root,
        "saved": saved,
        "varargs": varargs,
        "results": dict(zip(saved, results, strict=True)),
    }


def test_default_writes_safetensors_state_dict_and_torchscript(round_trip: dict[str, Any]) -> None:
    saved = round_trip["saved"]["default"]
    assert (saved.flavor, saved.format, saved.pickle_based) == ("torch", "torch_state_dict", False)
    assert saved.files == ["model.safetensors", "model.torchscript.pt"]
    assert saved.extra["state_dict_format"] == "safetensors"
    assert saved.extra["torchscript_method"] == "script"
    assert saved.extra["class"].endswith("Net")
    assert saved.signature == {
        "inputs": [{"name": None, "type": "float32", "shape": [-1, 4]}],
        "outputs": [{"name": None, "type": "float32", "shape": [-1, 3]}],
    }


def test_torchscript_predicts_the_same_in_a_fresh_process(
    round_trip: dict[str, Any], net: nn.Module, data: Any
) -> None:
    expected = _outputs(net, data[2])
    np.testing.assert_allclose(round_trip["results"]["default"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(round_trip["results"]["script_only"], expected, rtol=1e-5, atol=1e-6)
    assert round_trip["saved"]["script_only"].files == ["model.torchscript.pt"]


def test_unscriptable_module_is_traced(round_trip: dict[str, Any], data: Any) -> None:
    assert round_trip["saved"]["traced"].extra["torchscript_method"] == "trace"
    expected = _outputs(round_trip["varargs"], data[2])
    np.testing.assert_allclose(round_trip["results"]["traced"], expected, rtol=1e-5, atol=1e-6)


def test_loading_returns_torchscript_in_eval_mode(round_trip: dict[str, Any]) -> None:
    loaded = load_model(round_trip["root"] / "default")
    assert isinstance(loaded, torch.jit.ScriptModule)
    assert loaded.training is False


def test_model_class_rebuilds_from_the_state_dict(
    round_trip: dict[str, Any], net: nn.Module, data: Any
) -> None:
    rebuilt = load_model(
        round_trip["root"] / "default", model_class=Net, model_kwargs={"hidden": 16}
    )
    assert type(rebuilt) is Net and rebuilt.training is False
    np.testing.assert_allclose(_outputs(rebuilt, data[2]), _outputs(net, data[2]), rtol=1e-6)
    from_factory = load_model(round_trip["root"] / "script_only", model_factory=lambda: Net())
    np.testing.assert_allclose(_outputs(from_factory, data[2]), _outputs(net, data[2]), rtol=1e-6)


def test_state_dict_only_needs_the_class(tmp_path: Path, net: nn.Module, data: Any) -> None:
    saved = save_model(net, tmp_path / "m", torchscript=False)
    assert saved.files == ["model.safetensors"]
    with pytest.raises(ModelFormatError, match="model_class="):
        load_model(tmp_path / "m")
    rebuilt = load_model(tmp_path / "m", model_class=Net)
    np.testing.assert_allclose(_outputs(rebuilt, data[2]), _outputs(net, data[2]), rtol=1e-6)


def test_wrong_class_is_a_model_format_error(round_trip: dict[str, Any]) -> None:
    with pytest.raises(ModelFormatError, match="model.safetensors"):
        load_model(round_trip["root"] / "default", model_class=Net, model_kwargs={"hidden": 8})


def test_without_safetensors_the_state_dict_uses_torch_save(
    tmp_path: Path, net: nn.Module, data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # makes the import fail
    saved = save_model(net, tmp_path / "m", torchscript=False)
    monkeypatch.undo()
    assert saved.files == ["state_dict.pt"] and saved.extra["state_dict_format"] == "torch"
    # Loaded with torch.load(weights_only=True): no trust needed, nothing but tensors unpickled.
    rebuilt = load_model(tmp_path / "m", model_class=Net)
    np.testing.assert_allclose(_outputs(rebuilt, data[2]), _outputs(net, data[2]), rtol=1e-6)


def test_tied_weights_survive(tmp_path: Path, data: Any) -> None:
    model = TiedNet().eval()
    save_model(model, tmp_path / "m")
    rebuilt = load_model(tmp_path / "m", model_class=TiedNet)
    assert rebuilt.decode.weight is rebuilt.encode.weight
    np.testing.assert_allclose(_outputs(rebuilt, data[2]), _outputs(model, data[2]), rtol=1e-6)
    np.testing.assert_allclose(
        _outputs(load_model(tmp_path / "m"), data[2]), _outputs(model, data[2]), rtol=1e-6
    )


def test_unscriptable_module_without_example_warns_and_keeps_the_state_dict(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="needs input_example"):
        saved = save_model(VarArgsNet(), tmp_path / "m")
    assert saved.files == ["model.safetensors"] and saved.extra["torchscript_file"] is None
    with pytest.raises(ModelFormatError, match="needs input_example"):
        save_model(VarArgsNet(), tmp_path / "n", format="torchscript")


@pytest.mark.parametrize("victim", ["model.torchscript.pt", "model.safetensors"])
def test_truncated_files_are_model_format_errors(
    tmp_path: Path, net: nn.Module, victim: str
) -> None:
    save_model(net, tmp_path / "m")
    target = tmp_path / "m" / victim
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    options = {"model_class": Net} if victim == "model.safetensors" else {}
    with pytest.raises(ModelFormatError, match=f"cannot load model file .*{victim}") as caught:
        load_model(tmp_path / "m", **options)
    assert caught.value.__cause__ is not None
