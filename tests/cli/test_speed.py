"""``lineal --help`` and ``lineal runs list`` start fast: no heavy import before it is needed.
(How fast is measured by bench/bench_tracking.py, case (d), not here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import World

HEAVY = ("pandas", "numpy", "torch", "pyarrow", "polars", "sklearn", "sqlalchemy", "alembic",
         "rich", "fsspec", "boto3", "psycopg", "pymysql")
PROBE = """
import json, sys
from lineal.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)
"""


def imported(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=env, cwd=cwd, check=True)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy() -> None:
    # Every group is loaded (to list its summary), so this also holds every command module to
    # keeping its heavy imports inside functions.
    for args in ((["--help"]), ["runs", "--help"], ["artifacts", "list", "--help"]):
        heavy = imported(*args) & set(HEAVY)
        assert not heavy, f"lineal {' '.join(args)} imported {sorted(heavy)}"


def test_runs_list_imports_no_data_or_ml_library(world: World) -> None:
    import os

    env = {**os.environ, "LINEAL_URI": world.uri}
    heavy = imported("runs", "list", env=env) & {"pandas", "numpy", "torch", "pyarrow",
                                                  "polars", "sklearn"}
    assert not heavy, f"lineal runs list imported {sorted(heavy)}"


def test_runs_list_on_sqlite_imports_no_server_dialect(world: World) -> None:
    # A dialect option on a table's index (mysql_length=...) makes SQLAlchemy import that
    # dialect, with its drivers' modules, when the table is defined: some 40 ms on every command.
    import os

    probe = PROBE.replace("{m.split('.')[0] for m in sys.modules}", "set(sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe, "runs", "list", "--filter",
                           "params.lr = '0.1'"], capture_output=True, text=True, check=True,
                          env={**os.environ, "LINEAL_URI": world.uri})
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "sqlalchemy.dialects.sqlite" in modules
    server = {m for m in modules if m.startswith(("sqlalchemy.dialects.postgresql",
                                                  "sqlalchemy.dialects.mysql"))}
    assert not server, sorted(server)[:5]


def test_runs_list_on_plain_text_imports_no_rich_html_or_toml(world: World,
                                                              tmp_path: Path) -> None:
    # An ASCII cell is one cell a character (rich measures the others); HTML escaping is for
    # notebooks and TOML for a config file, of which there is none here.
    import os

    env = {**os.environ, "LINEAL_URI": world.uri}
    loaded = imported("runs", "list", env=env, cwd=tmp_path) & {"rich", "html", "tomllib"}
    assert not loaded, f"lineal runs list imported {sorted(loaded)}"


def test_loading_pauses_the_collector_and_gives_it_back(world: World) -> None:
    import gc

    from lineal.cli import startup

    from .conftest import ok

    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    with startup.loading():
        assert not gc.isenabled()
        with startup.loading():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    # Inside another program (here the tests) the CLI leaves the collector on and freezes
    # nothing: only the `lineal` process itself does.
    ok("runs", "list", uri=world.uri)
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_lineal_process_freezes_what_its_start_made(world: World) -> None:
    import os

    # main() without arguments, as the `lineal` script and `python -m lineal.cli` call it.
    probe = ("import gc, json, sys\nfrom lineal.cli import main\nsys.argv[0] = 'lineal'\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe, "runs", "list"], capture_output=True,
                          text=True, check=True, env={**os.environ, "LINEAL_URI": world.uri})
    enabled, frozen = json.loads(done.stderr.strip().splitlines()[-1])
    assert enabled and frozen > 10_000
