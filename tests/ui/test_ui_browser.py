"""The web UI in a real browser (Debian's chromium through Playwright) against a real
``lineal server --auth`` process over a store filled through the SDK: the model page, the
lineage graph expanded to the raw dataset, a run, the runs search, compare, the as-of views,
taint and impact, approvals with and without the right role, the audit page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from lineal.server.testing import ServerProcess

from .conftest import SWEEP, Pipeline, screenshot

# One worker runs them all: one server, one filled store, one chromium (the machine has 2 cores).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

Server = tuple[ServerProcess, Pipeline]


def no_script_errors(page: Any) -> None:
    assert page.errors == [], page.errors


def test_signs_in_with_a_token_when_the_server_answers_401(open_page: Any) -> None:
    page = open_page("/registry", role=None)
    dialog = page.get_by_role("dialog", name="sign in")
    expect(dialog).to_be_visible()
    expect(page.get_by_text("Unauthenticated")).to_be_visible()
    page.get_by_label("token").fill("lnl_not-a-real-token")
    page.get_by_role("button", name="Sign in").last.click()
    expect(page.get_by_role("dialog", name="sign in")).to_be_visible()  # refused: asked again
    no_script_errors(page)


def _select(node: Any, side: Any, text: str) -> None:
    """Click a graph node until the side panel shows it: a layout that lands after a click (the
    ELK worker is slower on a loaded machine) redraws the graph and may reset the selection."""
    for _ in range(5):
        node.click()
        try:
            expect(side).to_contain_text(text, timeout=2000)
            return
        except AssertionError:
            continue
    expect(side).to_contain_text(text)


def test_model_page_then_lineage_expanded_to_the_raw_dataset(open_page: Any) -> None:
    page = open_page("/registry/default/churn")
    versions = page.get_by_test_id("versions")
    expect(versions.get_by_role("button", name="v2", exact=True)).to_be_visible()
    expect(versions.get_by_role("button", name="v1", exact=True)).to_be_visible()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.get_by_text("prod")).to_be_visible()
    expect(timeline.get_by_text("staging")).to_be_visible()
    expect(page.get_by_test_id("history").get_by_text("deployment.start").first).to_be_visible()
    versions.get_by_role("button", name="v2", exact=True).click()
    card = page.get_by_test_id("model-card")
    expect(card).to_contain_text("Churn classifier, C=2.0")
    expect(card.locator("strong", has_text="Churn classifier")).to_have_count(1)  # Markdown
    expect(card.locator("li code", has_text="churn-features")).to_have_count(1)
    screenshot(page, "registry")

    versions.get_by_role("row").filter(has_text="v2").get_by_role("link", name="lineage").click()
    expect(page).to_have_url(re.compile(r"/lineage/model:default/churn@v2$"))
    graph = page.get_by_test_id("lineage-graph")
    expect(graph.get_by_test_id("node-model_version-churn")).to_be_visible()
    expect(graph.get_by_test_id("node-artifact-churn-model")).to_be_visible()
    expect(graph.get_by_test_id("node-artifact-churn-raw")).to_have_count(0)  # one hop only
    side = page.get_by_test_id("side-panel")
    _select(graph.get_by_test_id("node-artifact-churn-model"), side, "default/churn-model@v2")
    side.get_by_role("button", name="All upstream").click()
    expect(graph.get_by_test_id("node-artifact-churn-raw")).to_be_visible()
    expect(graph.get_by_test_id("node-run-features")).to_be_visible()
    expect(graph.locator(".react-flow__edge-text", has_text="raw_data")).to_have_count(1)
    _select(graph.get_by_test_id("node-artifact-churn-raw"), side, "default/churn-raw@v1")
    expect(side.get_by_test_id("schema")).to_contain_text("plan")  # the dataset's schema
    screenshot(page, "lineage")
    no_script_errors(page)


def test_live_deployments_and_failed_runs_stand_out(open_page: Any, server: Server) -> None:
    _, pipeline = server
    page = open_page("/lineage/churn-features@v1?direction=down&depth=all")
    graph = page.get_by_test_id("lineage-graph")
    live = graph.locator(".gnode.t-deployment.f-live")
    expect(live).to_have_count(2)  # staging v2 and prod v2; prod v1 was replaced
    expect(graph.locator(".gnode.t-deployment.f-ended")).to_have_count(1)
    expect(graph.locator(".gnode.t-run.f-failed")).to_have_count(1)
    no_script_errors(page)


def test_as_of_shows_what_was_live_then(open_page: Any, server: Server) -> None:
    process, pipeline = server
    import httpx

    headers = {"authorization": f"Bearer {pipeline.tokens['reader']}"}
    times = {}
    for key in ("prod1", "staging"):
        found = httpx.get(f"{process.url}/api/v1/deployments/{pipeline.ids[key]}", headers=headers)
        times[key] = datetime.fromisoformat(found.json()["started_at"])
    between = times["prod1"] + (times["staging"] - times["prod1"]) / 2
    at = quote(between.isoformat())
    page = open_page(f"/lineage/churn-features@v1?direction=down&depth=all&as_of={at}")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph.locator(".gnode.t-deployment")).to_have_count(1)
    expect(graph.locator(".gnode.t-deployment.f-live")).to_have_count(1)
    expect(page.get_by_text(re.compile(r"later nodes? hidden"))).to_be_visible()
    model = open_page(f"/registry/default/churn?as_of={at}")
    expect(model.get_by_text(re.compile("live deployments as of"))).to_be_visible()
    expect(model.locator("tr.changed", has_text="prod")).to_have_count(1)  # live then: v1 only
    expect(model.locator("tr.changed", has_text="v1")).to_have_count(1)
    no_script_errors(page)


def test_a_wide_level_is_one_searchable_cluster(open_page: Any) -> None:
    page = open_page("/lineage/sweep/grid-data@v1?direction=down&depth=all")
    graph = page.get_by_test_id("lineage-graph")
    clusters = graph.locator(".gnode.cluster")
    expect(clusters).to_have_count(2)
    expect(clusters.first).to_contain_text(f"{SWEEP} runs · train")
    expect(graph.locator(".gnode.t-run")).to_have_count(0)
    page.get_by_label("search nodes").fill("grid-model-17")
    page.get_by_label("search nodes").press("Enter")
    expect(graph.get_by_test_id("node-artifact-grid-model-17")).to_be_visible()
    expect(graph.get_by_test_id("node-artifact-grid-model-17")).to_have_class(re.compile("match"))
    expect(clusters).to_have_count(1)  # the search opened the models' cluster
    # The search centred the view on the match: the cluster may lie outside the viewport, where
    # a pointer cannot reach it; the click event itself is what the page handles.
    clusters.first.dispatch_event("click")
    expect(clusters).to_have_count(0)
    expect(graph.locator(".gnode.t-run")).to_have_count(SWEEP)
    no_script_errors(page)


def test_the_as_of_slider_goes_back_in_time(open_page: Any) -> None:
    page = open_page("/lineage/churn-features@v1?direction=down&depth=all")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph.locator(".gnode.t-deployment")).to_have_count(3)
    slider = page.get_by_label("as of slider")
    slider.focus()
    slider.press("Home")  # the earliest time of the graph: before anything was deployed
    expect(page).to_have_url(re.compile(r"as_of="))
    expect(page.get_by_text(re.compile(r"later nodes? hidden"))).to_be_visible()
    expect(graph.locator(".gnode.t-deployment")).to_have_count(0)
    page.get_by_role("button", name="now").click()
    expect(graph.locator(".gnode.t-deployment")).to_have_count(3)
    no_script_errors(page)


def test_run_page(open_page: Any, server: Server) -> None:
    _, pipeline = server
    page = open_page(f"/runs/{pipeline.ids['train2']}")
    expect(page.get_by_role("heading", name=re.compile("run train"))).to_be_visible()
    expect(page.get_by_text("max_iter")).to_be_visible()
    expect(page.get_by_test_id("metric-chart").locator("canvas")).to_have_count(1)
    expect(page.get_by_role("link", name="default/churn-features@v1")).to_be_visible()
    expect(page.get_by_role("link", name="default/churn-model@v2")).to_be_visible()
    expect(page.get_by_role("rowheader", name="python", exact=True)).to_be_visible()  # captured
    screenshot(page, "run")
    failed = open_page(f"/runs/{pipeline.ids['failed']}")
    expect(failed.get_by_test_id("run-error")).to_contain_text("C must be positive")
    expect(failed.get_by_test_id("not-captured")).to_be_visible()
    no_script_errors(page)


def test_search_runs_by_a_metric_and_sort(open_page: Any, server: Server) -> None:
    _, pipeline = server
    page = open_page("/runs?filter=attributes.project%20%3D%20'default'")
    table = page.get_by_role("table", name="runs")
    expect(table.get_by_role("row")).to_have_count(1 + 8)  # header + 5 runs + 3 deploy runs
    page.get_by_label("filter").fill("metrics.auc > 0.83")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"filter=metrics.auc"))
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("link", name=pipeline.ids["train2"][:10])).to_be_visible()
    expect(table.get_by_role("columnheader", name="metrics.auc")).to_be_visible()
    page.get_by_label("filter").fill("metrics.auc >")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("InvalidArgument")
    page.get_by_label("filter").fill("")
    page.get_by_role("button", name="Search").click()
    table.get_by_role("columnheader", name="name").click()
    expect(page).to_have_url(re.compile(r"order_by=attributes.name"))
    expect(table.locator("div.mono a")).to_have_count(8)  # the sorted page has loaded
    shown = table.locator("div.mono a").all_inner_texts()  # the id column's short ids
    assert len(shown) == len(set(shown)) > 1, shown  # lengthened until they differ, as in the CLI
    screenshot(page, "runs")
    no_script_errors(page)


def test_compare_two_versions(open_page: Any) -> None:
    page = open_page("/registry/default/churn")
    page.get_by_label("pick v1").check()
    page.get_by_label("pick v2").check()
    page.get_by_role("button", name=re.compile("Compare 2 versions")).click()
    expect(page).to_have_url(re.compile(r"/compare\?refs="))
    expect(page.get_by_test_id("first-divergence")).to_contain_text("first divergence at step train")
    expect(page.get_by_test_id("first-divergence")).to_contain_text("param C: 0.5 -> 2.0")
    expect(page.locator("tr.changed", has_text="auc").first).to_be_visible()
    expect(page.get_by_label("metric")).to_have_value("loss")  # a curve, not a lone value
    expect(page.get_by_test_id("metric-chart").locator("canvas")).to_have_count(1)
    screenshot(page, "compare")
    no_script_errors(page)


def test_approve_needs_the_admin_role(open_page: Any) -> None:
    for role, outcome in (("writer", "PermissionDenied"), ("admin", None)):
        page = open_page("/registry/default/churn", role=role)
        page.on("dialog", lambda dialog: dialog.accept("checked the eval"))
        row = page.get_by_test_id("versions").get_by_role("row").filter(has_text="v2")
        row.get_by_role("button", name="Approve").click()
        if outcome:
            expect(page.get_by_role("alert")).to_contain_text(outcome)
        else:
            expect(row.get_by_text("approved")).to_be_visible()
        no_script_errors(page)


def test_taint_a_dataset_and_see_the_impact(open_page: Any) -> None:
    reader = open_page("/impact/churn-raw@v1", role="reader")
    reader.get_by_label("taint reason").fill("labels leaked")
    reader.get_by_role("button", name="Taint").click()
    expect(reader.get_by_role("alert")).to_contain_text("PermissionDenied")

    page = open_page("/impact/churn-raw@v1", role="writer")
    counts = page.get_by_test_id("impact-counts")
    expect(counts).to_contain_text("2 model versions")
    expect(counts).to_contain_text("2 live now")
    page.get_by_label("taint reason").fill("labels leaked into age_z")
    page.get_by_role("button", name="Taint").click()
    expect(page.get_by_test_id("taint")).to_contain_text("labels leaked into age_z")
    expect(page.locator("td.path").first).to_contain_text("default/churn-raw@v1 -[raw_data]->")
    screenshot(page, "impact")
    graph = open_page("/lineage/churn-raw@v1")
    expect(graph.locator(".gnode.t-artifact.f-tainted")).to_have_count(1)
    page.get_by_role("button", name="Clear taint").click()
    expect(page.get_by_label("taint reason")).to_be_visible()
    no_script_errors(page)


def test_audit_page_verifies_the_ledger(open_page: Any) -> None:
    page = open_page("/audit")
    expect(page.get_by_test_id("ledger").get_by_text("run.create").first).to_be_visible()
    page.get_by_role("button", name="Verify the ledger").click()
    expect(page.get_by_test_id("verify-status")).to_contain_text("intact")
    screenshot(page, "audit")
    no_script_errors(page)


def test_a_dataset_schema_profile_and_the_diff_of_two_versions(open_page: Any) -> None:
    page = open_page("/datasets")
    listed = page.get_by_test_id("datasets")
    expect(listed.get_by_role("row").filter(has_text="patients")).to_contain_text("clinic")
    listed.get_by_role("link", name="patients").click()
    expect(page).to_have_url(re.compile(r"/datasets/clinic/patients@v2$"))
    schema = page.get_by_test_id("dataset-schema")
    expect(schema.get_by_role("row")).to_have_count(1 + 5)  # header + age, weight, plan, churned, visits
    expect(schema.get_by_role("row").filter(has_text="churned")).to_contain_text("target")
    expect(schema.get_by_role("row").filter(has_text="age")).to_contain_text("yes")  # has nulls
    profile = page.get_by_test_id("dataset-profile")
    expect(profile.get_by_role("row").filter(has_text="plan")).to_contain_text("basic")
    expect(page.get_by_test_id("dataset-facts")).to_contain_text("500")
    expect(page.get_by_test_id("dataset-versions").get_by_role("row")).to_have_count(1 + 2)
    page.goto("/datasets/clinic/patients@v1")
    expect(page.get_by_test_id("dataset-facts")).to_contain_text("400")
    age = page.get_by_test_id("dataset-profile").get_by_role("row").filter(has_text="age")
    expect(age).to_contain_text("16 (4.0%)")  # every 25th age is missing
    screenshot(page, "ui-dataset")

    page.get_by_label("old version").first.select_option("v1")
    page.get_by_label("new version").first.select_option("v2")
    page.get_by_role("button", name="Diff").click()
    expect(page).to_have_url(re.compile(r"/datasets/clinic/patients/diff\?a=v1&b=v2$"))
    summary = page.get_by_test_id("diff-summary")
    expect(summary).to_contain_text("rows 400 → 500")
    expect(summary).to_contain_text("1 added")
    expect(page.get_by_test_id("schema-changes")).to_contain_text("visits")
    weight = page.get_by_test_id("column-shifts").get_by_role("row").filter(has_text="weight")
    expect(weight).to_contain_text("kg -> lb")
    expect(weight.get_by_text("shifted")).to_be_visible()
    screenshot(page, "ui-dataset-diff")
    page.get_by_role("button", name="swap").click()
    expect(page).to_have_url(re.compile(r"diff\?a=v2&b=v1$"))
    expect(page.get_by_test_id("schema-changes")).to_contain_text("removed")
    no_script_errors(page)


def test_datasets_are_linked_from_the_graph_and_the_run(open_page: Any, server: Server) -> None:
    _, pipeline = server
    page = open_page(f"/runs/{pipeline.ids['ingest']}")
    page.get_by_role("link", name="dataset", exact=True).click()
    expect(page).to_have_url(re.compile(r"/datasets/default/churn-raw@v1$"))
    expect(page.get_by_test_id("dataset-schema")).to_contain_text("plan")
    graph = open_page("/lineage/churn-raw@v1")
    side = graph.get_by_test_id("side-panel")
    _select(graph.get_by_test_id("lineage-graph").get_by_test_id("node-artifact-churn-raw"), side,
            "default/churn-raw@v1")
    side.get_by_role("link", name="Dataset").click()
    expect(graph).to_have_url(re.compile(r"/datasets/default/churn-raw@v1$"))
    # churn-features was logged as a file: no dataset page to link to
    plain = open_page("/lineage/churn-features@v1")
    plain_side = plain.get_by_test_id("side-panel")
    _select(plain.get_by_test_id("lineage-graph").get_by_test_id("node-artifact-churn-features"),
            plain_side, "default/churn-features@v1")
    expect(plain_side.get_by_role("link", name="Impact")).to_be_visible()
    expect(plain_side.get_by_role("link", name="Dataset")).to_have_count(0)
    for opened in (page, graph, plain):
        no_script_errors(opened)
