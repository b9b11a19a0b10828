"""The public surface of ``lineal`` is deliberate: pinned here, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import lineal

EXPECTED = {
    "ActiveRun", "AlreadyExists", "ArtifactVersion", "Conflict", "Edge", "IntegrityError",
    "InvalidArgument", "LinealError", "MetricPoint", "NotFound", "PermissionDenied", "Run",
    "RunPage", "RunStatus", "Store", "StoreError", "__version__", "active_run", "artifact_path",
    "audit", "search_runs",
    "download_artifact", "get_artifact", "get_run", "list_artifacts", "list_runs",
    "metric_history", "open_store", "run", "set_alias", "start_run",
    "Unauthenticated", "create_token", "list_tokens", "revoke_token",
    "add_webhook", "list_webhooks", "remove_webhook", "test_webhook", "webhook_deliveries",
    "webhooks",
}


def test_all_is_sorted_and_exact() -> None:
    assert lineal.__all__ == sorted(lineal.__all__)
    assert set(lineal.__all__) >= EXPECTED, EXPECTED - set(lineal.__all__)


def test_every_export_resolves() -> None:
    for name in lineal.__all__:
        assert getattr(lineal, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        lineal.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_import_lineal_loads_no_heavy_module() -> None:
    code = (
        "import sys, lineal\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'fsspec', 'rich', 'click', 'numpy', "
        "'pandas', 'pyarrow', 'sklearn', 'torch') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_errors_carry_status_and_exit_code() -> None:
    from lineal.errors import ERROR_CLASSES

    for name, cls in ERROR_CLASSES.items():
        assert issubclass(cls, lineal.LinealError)
        assert 400 <= cls.http_status < 600 and cls.exit_code >= 1, name
    error = lineal.NotFound("no run 'x'", hint="list runs")
    assert str(error) == "no run 'x' (list runs)"
    assert error.to_dict() == {"error": "NotFound", "message": "no run 'x'", "hint": "list runs"}
