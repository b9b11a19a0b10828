"""The public surface of lineal.capture: names, digests, canonical JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

import lineal.capture
from lineal.capture import CapturedEnvironment, canonical_json, capture


def test_exported_members() -> None:
    assert lineal.capture.__all__ == [
        "CapturedEnvironment",
        "PendingCapture",
        "canonical_json",
        "capture",
        "capture_timeout",
        "not_captured",
        "not_captured_reason",
        "start_capture",
    ]


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, 2.5, None], "a": {"z": True, "é": "ü"}}) == (
        '{"a":{"z":true,"é":"ü"},"b":[1,2.5,null]}'.encode()
    )
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_digests_are_sha256_of_canonical_json() -> None:
    captured = CapturedEnvironment(
        code={"git": None, "entry_point": {"kind": "interactive"}},
        environment={"python": {"version": "3.11.7"}},
        frameworks={},
        probe_errors={},
        duration_s=0.01,
    )
    expected_code = hashlib.sha256(canonical_json(captured.code)).hexdigest()
    assert captured.code_digest() == f"sha256:{expected_code}"
    expected_env = hashlib.sha256(b'{"python":{"version":"3.11.7"}}').hexdigest()
    assert captured.environment_digest() == f"sha256:{expected_env}"


def test_captured_environment_is_frozen_and_json_serialisable() -> None:
    captured = capture(timeout=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        captured.duration_s = 0.0  # type: ignore[misc]
    json.dumps(captured.code)
    json.dumps(captured.environment)
    assert captured.duration_s > 0
    assert all(isinstance(v, str) for v in captured.frameworks.values())
    print(f"capture() under pytest took {captured.duration_s * 1000:.1f} ms")


def test_volatile_values_stay_out_of_the_digested_parts() -> None:
    captured = capture(timeout=10)
    digested = json.dumps([captured.code, captured.environment])
    for volatile in ("duration", "pid", "time", "free", "uptime"):
        assert f'"{volatile}' not in digested
