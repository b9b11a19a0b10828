"""Interpreter, operating system and host probes.

Only facts that stay the same from one run to the next belong here: no boot
time, no uptime, no process id.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any


def probe_python() -> dict[str, Any]:
    """Version, implementation and executable of the running interpreter."""
    return {
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable or None,
    }


def probe_os() -> dict[str, Any]:
    """OS name, kernel release and machine architecture, plus the Linux distribution and libc."""
    info: dict[str, Any] = {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }
    if info["system"] == "Linux":
        info["distribution"] = _linux_distribution()
        info["libc"] = _libc_version()
    return info


def probe_host() -> dict[str, str]:
    """Host name and user name; the user lookup never fails (falls back to the uid)."""
    return {"hostname": _hostname(), "user": _user()}


def _linux_distribution() -> str | None:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return None
    return release.get("PRETTY_NAME") or release.get("NAME")


def _libc_version() -> str | None:
    # os.confstr is a libc call; platform.libc_ver() would scan the whole
    # interpreter binary for a version string.
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        return None  # musl and non-glibc systems do not answer this name


def _hostname() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename
    return platform.node()


def _user() -> str:
    # The OS account, from the OS: the same identity the store records as actor (getpass would
    # believe LOGNAME/USER, which anyone sets).
    from ..identity import os_account

    return os_account()
