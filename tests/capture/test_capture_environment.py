"""Environment probes: stability of the digest, packages, container, conda, hardware."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lineal.capture
from lineal.capture import _container, _hardware, _packages, _system, capture, not_captured_reason

SRC = str(Path(lineal.capture.__file__).resolve().parents[2])
TIMEOUT = 10.0


def capture_in_child(cwd: Path) -> dict:
    code = (
        "import json\n"
        "from lineal.capture import capture\n"
        "c = capture(timeout=10)\n"
        "print(json.dumps({'digest': c.environment_digest(), 'environment': c.environment,"
        " 'errors': c.probe_errors}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_environment_digest_is_stable_between_calls() -> None:
    first = capture(timeout=TIMEOUT)
    second = capture(timeout=TIMEOUT)
    assert first.probe_errors == {}
    assert first.environment == second.environment
    assert first.environment_digest() == second.environment_digest()


def test_environment_digest_is_stable_between_processes(tmp_path: Path) -> None:
    first = capture_in_child(tmp_path)
    second = capture_in_child(tmp_path)
    assert set(first["errors"]) <= {"git"}  # tmp_path is no repository; that is fine here
    assert first["digest"] == second["digest"]
    assert first["digest"].startswith("sha256:")
    # And the sections that do not depend on sys.path match this (pytest) process.
    here = capture(timeout=TIMEOUT).environment
    for section in ("python", "os", "host", "container", "conda", "hardware"):
        assert first["environment"][section] == here[section], section


def test_python_and_os_sections() -> None:
    environment = capture(timeout=TIMEOUT, include_packages=False).environment
    assert environment["python"] == {
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
    }
    assert environment["os"]["system"] == platform.system()
    assert environment["os"]["release"] == platform.release()
    assert environment["os"]["machine"] == platform.machine()
    assert environment["host"]["hostname"] == platform.node()
    assert environment["host"]["user"]


def test_user_lookup_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OS account from the OS (lineal.identity), whatever the login variables say or lack;
    # a uid without a passwd entry is tests/registry/test_identity.py's.
    import pwd

    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    assert _system.probe_host()["user"] == pwd.getpwuid(os.geteuid()).pw_name
    monkeypatch.setenv("USER", "alice")
    assert _system.probe_host()["user"] == pwd.getpwuid(os.geteuid()).pw_name


def test_packages_match_importlib_metadata() -> None:
    _packages.clear_package_cache()
    scanned = capture(timeout=TIMEOUT).environment["packages"]
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        expected.setdefault(_packages.normalize_name(dist.metadata["Name"]), dist.version)
    assert scanned == expected
    assert list(scanned) == sorted(scanned)
    assert scanned["pytest"] == importlib.metadata.version("pytest")


def test_packages_can_be_left_out() -> None:
    environment = capture(timeout=TIMEOUT, include_packages=False).environment
    assert "packages" not in environment
    assert "editable_packages" not in environment


def test_editable_install_is_noted_and_cache_follows_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_info = tmp_path / "My_Project-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: My_Project\nVersion: 1.2.3\n\nLong: description\n"
    )
    (dist_info / "direct_url.json").write_text(
        json.dumps({"url": "file:///src/my-project", "dir_info": {"editable": True}})
    )
    before = capture(timeout=TIMEOUT).environment
    monkeypatch.syspath_prepend(str(tmp_path))
    after = capture(timeout=TIMEOUT).environment
    assert "my-project" not in before["packages"]
    assert after["packages"]["my-project"] == "1.2.3"
    assert after["editable_packages"]["my-project"] == "file:///src/my-project"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("Foo_Bar", "foo-bar"), ("foo.bar", "foo-bar"), ("FOO--bar__baz", "foo-bar-baz")],
)
def test_normalize_name(name: str, normalized: str) -> None:
    assert _packages.normalize_name(name) == normalized


def test_container_image_variable_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAL_CONTAINER_IMAGE", raising=False)
    without = capture(timeout=TIMEOUT, include_packages=False)
    image = "registry.example.com/ml/train@sha256:" + "ab" * 32
    monkeypatch.setenv("LINEAL_CONTAINER_IMAGE", image)
    with_image = capture(timeout=TIMEOUT, include_packages=False)
    container = with_image.environment["container"]
    assert container["image"] == image
    assert container["image_source"] == "LINEAL_CONTAINER_IMAGE"
    assert with_image.environment_digest() != without.environment_digest()


def test_container_detection_from_files(tmp_path: Path) -> None:
    assert _container.probe_container({}, str(tmp_path)) is None

    (tmp_path / ".dockerenv").write_text("")
    assert _container.probe_container({}, str(tmp_path)) == {
        "image": None,
        "image_source": None,
        "image_id": None,
        "runtime": "docker",
        "orchestrator": None,
    }

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").write_text(
        'engine="podman-4.9"\nname="brave_turing"\nid="0123"\n'
        'image="quay.io/team/train:1.0"\nimageid="feedface"\nrootless=1\n'
    )
    podman = _container.probe_container({}, str(tmp_path))
    assert podman is not None
    assert podman["runtime"] == "podman"
    assert podman["image"] == "quay.io/team/train:1.0"
    assert podman["image_source"] == "/run/.containerenv"
    assert podman["image_id"] == "feedface"
    # The per-start name and id are volatile and must stay out.
    assert "brave_turing" not in json.dumps(podman)


def test_kubernetes_and_platform_image_variables(tmp_path: Path) -> None:
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "cgroup").write_text(
        "11:memory:/kubepods/burstable/pod1234/cri-containerd-abcdef\n"
    )
    detected = _container.probe_container({}, str(tmp_path))
    assert detected is not None
    assert detected["orchestrator"] == "kubernetes"
    assert detected["runtime"] == "containerd"

    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "JUPYTER_IMAGE_SPEC": "jupyter/scipy:2024"}
    from_env = _container.probe_container(environ, str(tmp_path / "empty"))
    assert from_env is not None
    assert from_env["orchestrator"] == "kubernetes"
    assert from_env["image"] == "jupyter/scipy:2024"
    assert from_env["image_source"] == "JUPYTER_IMAGE_SPEC"


def test_conda_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONDA_DEFAULT_ENV", "train-env")
    monkeypatch.setenv("CONDA_PREFIX", "/opt/conda/envs/train-env")
    conda = capture(timeout=TIMEOUT, include_packages=False).environment["conda"]
    assert conda["env"] == "train-env"
    assert conda["prefix"] == "/opt/conda/envs/train-env"

    assert _container.probe_conda({}, str(tmp_path)) is None
    (tmp_path / "conda-meta").mkdir()
    assert _container.probe_conda({}, str(tmp_path)) == {
        "env": None,
        "prefix": None,
        "python_from_conda": True,
    }


def test_hardware_on_this_machine() -> None:
    hardware = capture(timeout=TIMEOUT, include_packages=False).environment["hardware"]
    assert hardware["cpu_count"] == os.cpu_count()
    assert hardware["memory_bytes"] > 0
    if shutil.which("nvidia-smi") is None:
        assert hardware["gpus"] == []
    if sys.platform.startswith("linux"):
        assert hardware["cpu_model"]


def test_hardware_from_proc_files(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    # ARM kernels put the board name after the per-core blocks.
    (tmp_path / "proc" / "cpuinfo").write_text(
        "processor\t: 0\nBogoMIPS\t: 108.00\n\nprocessor\t: 1\nBogoMIPS\t: 108.00\n\n"
        "Hardware\t: BCM2835\nModel\t: Raspberry Pi 4\n"
    )
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:        8000000 kB\nMemFree: 1 kB\n")
    (tmp_path / "sys" / "fs" / "cgroup").mkdir(parents=True)
    (tmp_path / "sys" / "fs" / "cgroup" / "memory.max").write_text("4294967296\n")
    hardware = _hardware.probe_hardware(str(tmp_path))
    if sys.platform.startswith("linux"):
        assert hardware["cpu_model"] == "BCM2835"
    assert hardware["memory_bytes"] == 8000000 * 1024
    assert hardware["memory_limit_bytes"] == 4294967296

    (tmp_path / "sys" / "fs" / "cgroup" / "memory.max").write_text("max\n")
    assert _hardware.probe_hardware(str(tmp_path))["memory_limit_bytes"] is None


def write_fake_nvidia_smi(bin_dir: Path, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "nvidia-smi"
    tool.write_text("#!/bin/sh\n" + body)
    tool.chmod(0o755)


@pytest.fixture
def fresh_gpu_cache() -> Iterator[None]:
    _hardware._gpu_cache.clear()
    yield
    _hardware._gpu_cache.clear()


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as nvidia-smi")
@pytest.mark.usefixtures("fresh_gpu_cache")
def test_gpus_from_a_real_nvidia_smi_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fake_nvidia_smi(
        tmp_path / "bin",
        'echo "NVIDIA A100-SXM4-80GB, 81920, 535.104.05"\n'
        'echo "NVIDIA A100-SXM4-80GB, 81920, 535.104.05"\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    gpus = capture(timeout=TIMEOUT, include_packages=False).environment["hardware"]["gpus"]
    a100 = {
        "name": "NVIDIA A100-SXM4-80GB",
        "memory_bytes": 81920 * 2**20,
        "driver_version": "535.104.05",
    }
    assert gpus == [a100, a100]


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as nvidia-smi")
@pytest.mark.usefixtures("fresh_gpu_cache")
def test_failing_nvidia_smi_is_a_probe_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fake_nvidia_smi(
        tmp_path / "bin",
        'echo "NVIDIA-SMI has failed because it could not communicate" >&2\nexit 9\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    captured = capture(timeout=TIMEOUT, include_packages=False)
    reason = not_captured_reason(captured.environment["hardware"]["gpus"])
    assert reason == captured.probe_errors["gpus"]
    assert captured.probe_errors["gpus"].startswith("nvidia-smi failed: NVIDIA-SMI has failed")
    assert captured.environment["hardware"]["cpu_count"] == os.cpu_count()
