"""Hardware probes: CPU, memory and NVIDIA GPUs.

Only capacities are recorded (total memory, never free memory), so the same
machine always describes itself the same way.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from typing import Any

from ._runner import ProbeError, ProcessOnce, run_command

# nvidia-smi can take a second or more on its first call when the driver is not in
# persistence mode. The query is allowed to run that long in the background: a
# capture that gave up waiting still gets the answer cached for the next one.
NVIDIA_SMI_TIMEOUT_S = 10.0
_GPU_QUERY = ("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits")
_MIB = 1024 * 1024

# /proc/cpuinfo field names that carry a CPU model, by architecture (x86, ARM boards, others).
_CPU_MODEL_FIELDS = ("model name", "hardware", "processor", "cpu model", "cpu")

# cgroup v1 reports "no limit" as a page-rounded 2**63 - 1; anything this large is no limit.
_UNLIMITED_BYTES = 1 << 60

_gpu_cache: ProcessOnce[list[dict[str, Any]]] = ProcessOnce()


def probe_hardware(root: str = "/") -> dict[str, Any]:
    """CPU count and model, total memory, and the memory limit of the cgroup if there is one."""
    total = _total_memory_bytes(os.path.join(root, "proc", "meminfo"))
    limit = _cgroup_memory_limit(os.path.join(root, "sys", "fs", "cgroup"))
    if limit is not None and total is not None and limit >= total:
        limit = None  # only a limit below the machine's memory tells anything
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(os.path.join(root, "proc", "cpuinfo")),
        "memory_bytes": total,
        "memory_limit_bytes": limit,
    }


def probe_gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs as reported by ``nvidia-smi``; an empty list when it is not installed."""
    return _gpu_cache.get(None, _query_nvidia_smi)


def parse_nvidia_smi(output: str) -> list[dict[str, Any]]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits``."""
    gpus = []
    for line in output.splitlines():
        if not line.strip():
            continue
        # rsplit: the last two fields are numeric, while a GPU name could contain a comma.
        fields = [field.strip() for field in line.rsplit(",", 2)]
        if len(fields) != 3:
            raise ProbeError(f"unexpected nvidia-smi line: {line[:80]!r}")
        name, memory_mib, driver = fields
        try:
            memory_bytes: int | None = int(float(memory_mib) * _MIB)
        except ValueError:  # "[N/A]" on some virtual GPUs
            memory_bytes = None
        gpus.append({"name": name, "memory_bytes": memory_bytes, "driver_version": driver})
    return gpus


def _query_nvidia_smi() -> list[dict[str, Any]]:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return []
    result = run_command([executable, *_GPU_QUERY], timeout=NVIDIA_SMI_TIMEOUT_S)
    if result.returncode != 0:
        raise ProbeError(f"nvidia-smi failed: {result.first_error_line()}")
    return parse_nvidia_smi(result.stdout.decode("utf-8", "replace"))


def _cpu_model(cpuinfo_path: str) -> str | None:
    if sys.platform.startswith("linux"):
        fields = _read_colon_fields(cpuinfo_path, stop_when="model name")
        for field in _CPU_MODEL_FIELDS:
            value = fields.get(field)
            # On x86 "processor" is the CPU index, not a name.
            if value and not value.isdigit():
                return value
        return None
    # Off Linux, platform.processor() is the portable answer (it may run a tiny
    # command such as sysctl on macOS, which is why this runs in a probe thread).
    return platform.processor() or None


def _total_memory_bytes(meminfo_path: str) -> int | None:
    fields = _read_colon_fields(meminfo_path, stop_when="memtotal")
    mem_total = fields.get("memtotal")  # "16318412 kB"
    if mem_total:
        number, _, unit = mem_total.partition(" ")
        if number.isdigit():
            return int(number) * (1024 if unit.strip().lower() == "kb" else 1)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_memory_limit(cgroup_root: str) -> int | None:
    for relative in ("memory.max", os.path.join("memory", "memory.limit_in_bytes")):
        try:
            with open(os.path.join(cgroup_root, relative), encoding="ascii") as handle:
                value = handle.read(64).strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value.isdigit() and int(value) < _UNLIMITED_BYTES:
            return int(value)
        return None  # "max", or the v1 spelling of unlimited
    return None


def _read_colon_fields(path: str, *, stop_when: str) -> dict[str, str]:
    """First value of each ``name : value`` line, names lowercased.

    Reading stops once ``stop_when`` is seen: on a 128-core x86 machine the rest
    of /proc/cpuinfo repeats the same model 127 times. (ARM kernels put their
    "Hardware" line at the very end, so there the whole file is read.)
    """
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, sep, value = line.partition(":")
                if not sep:
                    continue
                name = name.strip().lower()
                fields.setdefault(name, value.strip())
                if name == stop_when:
                    break
    except OSError:
        pass
    return fields
