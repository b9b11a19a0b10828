"""``lineal runs list --filter/--order-by/--page-token``: the search behind the table."""

from __future__ import annotations

from .conftest import World, assert_one_line_error


def test_filter_and_order_add_named_columns(world: World) -> None:
    out = world.ok("runs", "list", "--filter", "metrics.acc > 0.5 and params.C = '0.5'",
                   "--order-by", "metrics.acc DESC", "--wide").out
    header = out.splitlines()[0].split()
    assert header[-2:] == ["metrics.acc", "params.C"], out
    row = next(line for line in out.splitlines() if world.runs["train"] in line)
    assert row.split()[-2:] == ["0.96", "0.5"]
    assert world.runs["broken"] not in out


def test_json_pages_with_the_token(world: World) -> None:
    first = world.ok("runs", "list", "--order-by", "attributes.start_time", "-n", "2",
                     "--json").json()
    assert len(first["runs"]) == 2 and first["next_page_token"]
    rest = world.ok("runs", "list", "--order-by", "attributes.start_time", "-n", "1000",
                    "--page-token", first["next_page_token"], "--json").json()
    assert rest["next_page_token"] is None
    seen = [r["id"] for r in first["runs"] + rest["runs"]]
    assert sorted(seen) == sorted(world.runs.values()) and len(set(seen)) == len(seen)
    table = world.cli("runs", "list", "--order-by", "attributes.start_time", "-n", "2")
    assert f"--page-token {first['next_page_token']}" in table.err


def test_other_options_narrow_the_filter(world: World) -> None:
    found = world.ok("runs", "list", "--filter", "attributes.kind = 'train'", "--project",
                     "other", "--json").json()
    assert [r["id"] for r in found["runs"]] == [world.runs["broken"]]
    found = world.ok("runs", "list", "--filter", "tags.team = 'ml'", "--status", "finished",
                     "--json").json()
    assert [r["id"] for r in found["runs"]] == [world.runs["train"]]


def test_bad_filter_is_one_line_naming_the_column(world: World) -> None:
    result = world.cli("runs", "list", "--filter", "metrics.acc > and params.C = '1'",
                       "--project", "default")
    assert_one_line_error(result, 2, "column 15", "expected a value after '>'", "'and'")
    assert_one_line_error(world.cli("runs", "list", "--order-by", "metrics.acc SIDEWAYS"), 2,
                          "column 13")
