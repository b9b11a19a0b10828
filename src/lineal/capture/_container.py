"""Container and conda probes: the packaging around the interpreter.

The container image cannot be read reliably from inside a container, so the
authoritative source is an environment variable set by whoever builds or runs
the image (see ``LINEAL_CONTAINER_IMAGE`` in :mod:`lineal.capture`). Without
it, the probe reports what it can detect and leaves ``image`` empty rather than
guessing. Container ids, names and pod names are left out on purpose: they
change on every start, and would make identical environments look different.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

CONTAINER_IMAGE_ENV = "LINEAL_CONTAINER_IMAGE"

# Variables that platforms set to the image a container was started from, most specific first:
# JupyterHub's KubeSpawner sets JUPYTER_IMAGE_SPEC and JUPYTER_IMAGE; CONTAINER_IMAGE and
# DOCKER_IMAGE are common conventions in CI systems and Dockerfiles.
_IMAGE_ENV_VARS = ("JUPYTER_IMAGE_SPEC", "JUPYTER_IMAGE", "CONTAINER_IMAGE", "DOCKER_IMAGE")

# Substrings of /proc/self/cgroup paths (cgroup v1) and what they reveal.
_CGROUP_RUNTIMES = (
    ("libpod", "podman"),
    ("docker", "docker"),
    ("cri-containerd", "containerd"),
    ("containerd", "containerd"),
    ("crio", "cri-o"),
    ("lxc", "lxc"),
)


def probe_container(
    environ: Mapping[str, str] = os.environ, root: str = "/"
) -> dict[str, Any] | None:
    """Describe the container this process runs in, or return None outside of one.

    ``root`` is the filesystem root to inspect; tests point it at a directory
    laid out like one.
    """
    image, image_source = _image_from_environment(environ)
    runtime = None
    image_id = None
    podman = _read_containerenv(os.path.join(root, "run", ".containerenv"))
    if podman is not None:
        runtime = "podman"
        if image is None and podman.get("image"):
            image, image_source = podman["image"], "/run/.containerenv"
        image_id = podman.get("imageid") or None
    elif os.path.exists(os.path.join(root, ".dockerenv")):
        runtime = "docker"
    cgroup_runtime, cgroup_kubernetes = _cgroup_hints(os.path.join(root, "proc", "self", "cgroup"))
    runtime = runtime or cgroup_runtime
    orchestrator = (
        "kubernetes" if environ.get("KUBERNETES_SERVICE_HOST") or cgroup_kubernetes else None
    )
    if image is None and runtime is None and orchestrator is None:
        return None
    return {
        "image": image,
        "image_source": image_source,
        "image_id": image_id,
        "runtime": runtime,
        "orchestrator": orchestrator,
    }


def probe_conda(
    environ: Mapping[str, str] = os.environ, base_prefix: str = sys.base_prefix
) -> dict[str, Any] | None:
    """The active conda environment, and whether this interpreter itself came from conda.

    Returns None when neither is the case. An activated conda environment with a
    virtualenv interpreter on top is reported as active but not ``python_from_conda``.
    """
    name = environ.get("CONDA_DEFAULT_ENV") or None
    prefix = environ.get("CONDA_PREFIX") or None
    from_conda = os.path.isdir(os.path.join(base_prefix, "conda-meta"))
    if name is None and prefix is None and not from_conda:
        return None
    return {"env": name, "prefix": prefix, "python_from_conda": from_conda}


def _image_from_environment(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    for variable in (CONTAINER_IMAGE_ENV, *_IMAGE_ENV_VARS):
        value = environ.get(variable, "").strip()
        if value:
            return value, variable
    return None, None


def _read_containerenv(path: str) -> dict[str, str] | None:
    """Parse podman's ``key="value"`` file; None when absent (empty dict when unreadable)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(65536)
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields


def _cgroup_hints(path: str) -> tuple[str | None, bool]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(65536)
    except OSError:
        return None, False
    runtime = None
    for marker, name in _CGROUP_RUNTIMES:
        if marker in text:
            runtime = name
            break
    return runtime, "kubepods" in text
