"""Fixtures of the browser tests: a store filled through the SDK with a small pipeline, a real
``lineal server`` process (auth on, a token per role) over it, and Debian's chromium driven
by Playwright.

Outside CI a missing chromium, Playwright or UI bundle skips these tests with the reason; in
CI (CI=true) each is a failure: the browser tests must never be silently skipped there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import lineal
from lineal import deployments, registry
from lineal.server.testing import ServerProcess
from lineal.server.ui_bundle import PACKAGED_UI
from lineal.store import Store, open_store

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("LINEAL_CHROMIUM", "/usr/bin/chromium")


def missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI=true: the browser tests must run)")
    pytest.skip(what)


@dataclass
class Pipeline:
    """What the browser tests look for: ids of the runs and deployments, token secrets."""

    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def fill(store: Store, folder: Path) -> dict[str, str]:
    """ingest -> churn-raw -> features -> churn-features -> train (C=0.5, C=2.0) -> churn-model
    v1, v2 registered as churn v1, v2; v1 deployed to prod then replaced by v2; v2 to staging;
    one failed training run. Train runs capture their environment like a real run."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "raw.csv").write_text("age,plan,churned\n31,basic,0\n45,pro,1\n27,basic,0\n")
    (folder / "features.csv").write_text("age_z,plan_pro,churned\n-0.4,0,0\n1.3,1,1\n-0.9,0,0\n")
    ids: dict[str, str] = {}
    import pandas

    with lineal.run("ingest", kind="ingest", capture=False, store=store) as run:
        raw = run.log_dataset(pandas.read_csv(folder / "raw.csv"), name="churn-raw")
        run.log_metric("rows", 3)
        ids["ingest"] = run.id
    with lineal.run("features", kind="preprocess", params={"scale": "z"}, capture=False,
                    store=store) as run:
        run.use_version(raw, role="raw_data")
        features = run.log_artifact(folder / "features.csv", name="churn-features",
                                    kind="dataset")
        ids["features"] = run.id
    for i, c in enumerate((0.5, 2.0), start=1):
        (folder / f"model{i}.bin").write_text(f"weights for C={c}")
        with lineal.run("train", kind="train", params={"C": c, "max_iter": 100},
                        store=store) as run:
            run.use_version(features, role="train_data")
            for step in range(40):
                run.log_metric("loss", 1.0 / (1 + step * c / 4) + 0.05, step=step)
                run.log_metric("val_loss", 1.1 / (1 + step * c / 5) + 0.08, step=step)
            run.log_metrics({"auc": round(0.80 + 0.02 * i, 3), "accuracy": 0.75 + 0.03 * i})
            model = run.log_artifact(folder / f"model{i}.bin", name="churn-model", kind="model")
            ids[f"train{i}"] = run.id
        registry.register_model("churn", model.ref, description=f"**Churn classifier**, C={c}\n\n- trained on `churn-features`",
                                store=store)
    try:
        with lineal.run("train", kind="train", params={"C": -1}, capture=False,
                        store=store) as run:
            run.use_version(features, role="train_data")
            ids["failed"] = run.id
            raise ValueError("C must be positive, got -1")
    except ValueError:
        pass
    ids["prod1"] = deployments.record_deployment("churn@v1", name="churn-api", environment="prod",
                                                 capture=False, store=store).id
    ids["staging"] = deployments.record_deployment("churn@v2", name="churn-api",
                                                   environment="staging", capture=False,
                                                   store=store).id
    ids["prod2"] = deployments.record_deployment("churn@v2", name="churn-api", environment="prod",
                                                 capture=False, store=store).id
    sweep(store, SWEEP)
    ids["clinic"] = clinic(store)
    return ids


def clinic(store: Store) -> str:
    """Project ``clinic``: dataset ``patients`` v1, then v2 with weights silently in pounds, a
    new column and more rows (what the datasets page's diff must show). The run's id."""
    import random

    import pandas

    rng = random.Random(7)
    rows = 400
    v1 = pandas.DataFrame({
        "age": [rng.randint(18, 90) if i % 25 else None for i in range(rows)],
        "weight": [round(rng.gauss(72, 12), 1) for _ in range(rows)],
        "plan": [rng.choice(["basic", "basic", "pro", "family"]) for _ in range(rows)],
        "churned": [rng.random() < 0.2 for _ in range(rows)],
    })
    more = v1.sample(n=100, random_state=1)
    v2 = pandas.concat([v1, more], ignore_index=True)
    v2 = v2.assign(weight=(v2.weight * 2.20462).round(1), visits=[i % 7 for i in range(len(v2))])
    with lineal.run("snapshot", project="clinic", kind="ingest", capture=False,
                    store=store) as run:
        run.log_dataset(v1, name="patients", context="training", targets="churned")
        run.log_dataset(v2, name="patients", context="training", targets="churned")
        return run.id


SWEEP = 30
"""Runs of the hyperparameter sweep in project ``sweep``: more than the UI shows one by one."""


def sweep(store: Store, width: int) -> None:
    """Project ``sweep``: dataset grid-data consumed by ``width`` train runs, each making one
    model grid-model-I (bulk-imported, as a tool would)."""
    from lineal.store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun

    t0 = 1_700_000_000_000_000
    batch = ImportBatch(
        runs=[ImportRun(f"r{i}", "sweep", "sweep", "train", "finished", t0 + i) for i in range(width)],
        artifacts=[ImportArtifact("data", "sweep", "grid-data", "dataset", "sha256:" + "0" * 64,
                                  "s3://sweep/data", 1, t0)]
        + [ImportArtifact(f"m{i}", "sweep", f"grid-model-{i}", "model", f"sha256:{i + 1:064x}",
                          f"s3://sweep/m{i}", 1, t0 + i) for i in range(width)],
        edges=[ImportEdge(f"r{i}", "data", "input", "grid") for i in range(width)]
        + [ImportEdge(f"r{i}", f"m{i}", "output", "output") for i in range(width)],
    )
    store.metadata.import_lineage(batch, "tester")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Pipeline]]:
    """A ``lineal server --auth`` over a freshly filled store."""
    if not (PACKAGED_UI / "index.html").is_file():
        missing(f"the UI bundle is not built ({PACKAGED_UI}/index.html): run `make ui`")
    folder = tmp_path_factory.mktemp("ui-store")
    backend, blobs = str(folder / "store"), str(folder / "blobs")
    store = open_store(backend, artifacts=blobs)
    pipeline = Pipeline()
    try:
        pipeline.ids = fill(store, folder / "work")
        for role in ("reader", "writer", "admin"):
            pipeline.tokens[role] = lineal.create_token(role, store=store)[1]
    finally:
        store.close()
    with ServerProcess(backend=backend, artifacts=blobs, extra_args=["--auth", "--no-webhooks"]) \
            as process:
        yield process, pipeline


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        missing(f"Playwright is not installed: {error}")
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        missing(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium: Any, server: tuple[ServerProcess, Pipeline]) -> Iterator[Any]:
    """``open_page(path, role)``: a new page signed in with that role's token, at ``path``."""
    process, pipeline = server
    contexts = []

    def opener(path: str, role: str | None = "reader") -> Any:
        context = chromium.new_context(viewport={"width": 1440, "height": 900},
                                       base_url=process.url)
        contexts.append(context)
        if role is not None:
            context.add_init_script(
                f"localStorage.setItem('lineal.token', {pipeline.tokens[role]!r})")
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # uncaught script errors: each test checks there were none
        page.goto(path)
        return page

    yield opener
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save the page as docs/img/NAME.png when LINEAL_SCREENSHOTS names that folder (the
    committed screenshots are made this way); else nowhere."""
    folder = os.environ.get("LINEAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
