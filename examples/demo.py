"""lineal's demo: a small, real ML pipeline recorded end to end on the embedded store.

Data: scikit-learn's bundled breast-cancer data set (ships offline). Steps, each a run nested in
one pipeline run:

    ingest     writes the raw CSV                      -> dataset cancer-raw
    validate   checks and profiles the raw data        -> report  cancer-validation
    features   cleans, scales, splits                  -> datasets cancer-features-train/-test
    train x2   logistic regression and random forest   -> models  cancer-logreg, cancer-forest
    evaluate   scores both on the held-out rows        -> metrics on the evaluate run

Then the registry: the best model becomes cancer-classifier v1, goes staging -> approved ->
production and is deployed as cancer-api in prod; a retrain with other hyperparameters becomes
v2 and replaces it; v2 is rolled back. The demo prints that deployment timeline. Last, one
experiment fails (a bad hyperparameter), so `lineal why-failed` has something to explain.

Run it with `make demo` (or `python examples/demo.py [--store PATH]`), then explore with the
commands it prints. Running it twice records new runs but no new artifact versions for unchanged
data: content addressing dedupes them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import lineal

HERE = Path(__file__).resolve().parent


def ingest(workdir: Path) -> lineal.ArtifactVersion:
    from sklearn.datasets import load_breast_cancer

    with lineal.run("ingest", kind="ingest", params={"source": "sklearn.load_breast_cancer"}) as run:
        frame = load_breast_cancer(as_frame=True).frame
        run.log_metrics({"rows": len(frame), "columns": frame.shape[1]})
        return run.log_dataset(frame, name="cancer-raw", context="raw", targets="target",
                               source="sklearn.datasets.load_breast_cancer")


def validate(raw_ref: str, workdir: Path) -> dict[str, Any]:

    with lineal.run("validate", kind="validate") as run:
        frame = read_dataset(run, raw_ref, "raw")
        report = {
            "rows": int(len(frame)),
            "null_cells": int(frame.isna().sum().sum()),
            "duplicate_rows": int(frame.duplicated().sum()),
            "target_balance": frame["target"].value_counts(normalize=True).round(4).to_dict(),
            "negative_values": int((frame.drop(columns="target") < 0).sum().sum()),
        }
        path = workdir / "validation.json"
        path.write_text(json.dumps(report, indent=2, default=str))
        run.log_metrics({k: v for k, v in report.items() if isinstance(v, int)})
        run.log_artifact(path, name="cancer-validation", kind="report")
        if report["null_cells"] or report["negative_values"]:
            raise ValueError(f"raw data failed validation: {report}")
        return report


def features(raw_ref: str, workdir: Path, test_size: float = 0.25, seed: int = 7) -> tuple[str, str]:
    from sklearn.model_selection import train_test_split

    params = {"test_size": test_size, "seed": seed, "drop": ["worst fractal dimension"]}
    with lineal.run("features", kind="preprocess", params=params) as run:
        frame = read_dataset(run, raw_ref, "raw")
        frame = frame.drop(columns=params["drop"]).drop_duplicates()
        # Log-scale the area columns: heavy right tails hurt the linear model.
        for column in [c for c in frame.columns if "area" in c]:
            frame[column] = frame[column].clip(lower=0).pipe(lambda s: s.add(1).apply("log"))
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=frame["target"]
        )
        out = {}
        for split, part in (("train", train), ("test", test)):
            version = run.log_dataset(part.reset_index(drop=True), name=f"cancer-features-{split}",
                                      context=split, targets="target")
            out[split] = version.ref
        run.log_metrics({"train_rows": len(train), "test_rows": len(test)})
        return out["train"], out["test"]


def train(variant: str, params: dict[str, Any], train_ref: str, workdir: Path) -> str:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with lineal.run(f"train-{variant}", kind="train", params=params) as run:
        frame = read_dataset(run, train_ref, "training")
        x, y = frame.drop(columns="target"), frame["target"]
        if variant == "logreg":
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, **params))
        else:
            model = RandomForestClassifier(random_state=0, n_jobs=1, **params)
        model.fit(x, y)
        run.log_metric("train_accuracy", float(model.score(x, y)))
        version = log_model(run, model, f"cancer-{variant}", x.head(5), workdir)
        return version.ref


def evaluate(model_refs: dict[str, str], test_ref: str) -> dict[str, dict[str, float]]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    scores: dict[str, dict[str, float]] = {}
    with lineal.run("evaluate", kind="evaluate") as run:
        frame = read_dataset(run, test_ref, "test")
        x, y = frame.drop(columns="target"), frame["target"]
        for variant, ref in model_refs.items():
            model = load_model(run, ref)
            proba = model.predict_proba(x)[:, 1]
            pred = (proba >= 0.5).astype(int)
            scores[variant] = {
                "accuracy": round(float(accuracy_score(y, pred)), 4),
                "f1": round(float(f1_score(y, pred)), 4),
                "roc_auc": round(float(roc_auc_score(y, proba)), 4),
            }
            run.log_metrics({f"{variant}.{k}": v for k, v in scores[variant].items()})
    return scores


# -- dataset and model logging ----------------------------------------------------------------------
def read_dataset(run: lineal.ActiveRun, ref: str, context: str) -> Any:
    """Record the dataset version as this run's input and read it (digest-checked) as pandas."""
    version = run.use_dataset(ref, context=context)
    return lineal.datasets.load_dataset(version).to_pandas()


def log_model(run: lineal.ActiveRun, model: Any, name: str, example: Any, workdir: Path) -> lineal.ArtifactVersion:
    """skops format (no pickle), with a signature inferred from a few training rows."""
    return run.log_model(model, name, input_example=example)


def load_model(run: lineal.ActiveRun, ref: str) -> Any:
    """Digest-checked load; inside a run it also records the model as the run's input."""
    return lineal.load_model(ref)


# -- the pipeline ---------------------------------------------------------------------------------
def pipeline_run(name: str, variants: dict[str, dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """One pipeline run: every step nested under it. Returns the model refs and their scores."""
    with lineal.run(name, kind="pipeline", experiment="demo") as pipeline:
        raw = ingest(workdir)
        validate(raw.ref, workdir)
        train_ref, test_ref = features(raw.ref, workdir)
        models = {v: train(v, p, train_ref, workdir) for v, p in variants.items()}
        scores = evaluate(models, test_ref)
        best = max(scores, key=lambda v: scores[v]["roc_auc"])
        pipeline.set_tags({"best_model": models[best]})
    return {"run": pipeline, "models": models, "scores": scores, "best": best, "train": train_ref}


# -- the registry and deployments -------------------------------------------------------------------
MODEL = "cancer-classifier"
SERVICE = {"name": "cancer-api", "environment": "prod", "target": "https://ml.example.com/cancer"}


def register(artifact_ref: str, description: str) -> Any:
    """The next version of MODEL for this model artifact (or the version that already links it,
    so running the demo twice does not register the same bytes twice)."""
    from lineal import registry

    artifact = lineal.get_artifact(artifact_ref)
    try:
        for version in registry.list_versions(MODEL):
            if version.artifact_version_id == artifact.id:
                return version
    except lineal.errors.NotFound:
        pass
    # Production needs a recorded approval. One person plays every role in this demo, so the
    # registrant may approve too: separation of duties (on by default) is turned off here.
    with contextlib.suppress(lineal.errors.AlreadyExists):
        registry.create_model(MODEL, require_approval_for_production=True,
                              separation_of_duties=False)
    return registry.register_model(MODEL, artifact_ref, description=description)


def release(version: Any, approver_comment: str, config: dict[str, Any]) -> Any:
    """staging -> approval -> production (archiving the previous one) -> alias -> deployment."""
    from lineal import deployments, registry

    if str(version.stage) != "production":
        registry.transition_stage(version.ref, "staging", comment="candidate from the demo")
        registry.approve(version.ref, comment=approver_comment)
        registry.transition_stage(version.ref, "production", archive_others=True)
    registry.set_alias(version.ref, "champion")
    return deployments.record_deployment(version.ref, **SERVICE, config=config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store folder or URL (default: LINEAL_URI or .lineal/)")
    args = parser.parse_args(argv)
    if args.store:
        os.environ["LINEAL_URI"] = args.store
    with tempfile.TemporaryDirectory(prefix="lineal-demo-") as tmp:
        workdir = Path(tmp)
        first = pipeline_run(
            "cancer-pipeline",
            {"logreg": {"C": 0.5}, "forest": {"n_estimators": 200, "max_depth": 6}},
            workdir,
        )
        v1 = register(first["models"][first["best"]], "best of the first pipeline run")
        release(v1, "beats the baseline on held-out rows", {"replicas": 2})
        # A week later: a retrain with other hyperparameters, released the same way ...
        second = pipeline_run(
            "cancer-pipeline",
            {"logreg": {"C": 0.1}, "forest": {"n_estimators": 50, "max_depth": 3}},
            workdir,
        )
        v2 = register(second["models"][second["best"]], "retrained with stronger regularisation")
        release(v2, "same data, smaller model", {"replicas": 3})
        # ... which misbehaves in production: roll back to what v2 replaced.
        from lineal import deployments

        deployments.rollback(SERVICE["name"], SERVICE["environment"],
                             comment="v2 answers too slowly under load")
        # The registry follows: v1 is production and champion again, v2 archived (a rollback of the
        # deployment does not move stages by itself: the registry records decisions).
        from lineal import registry

        registry.transition_stage(v1.ref, "production", archive_others=True,
                                  comment="rolled back: v2 answers too slowly under load")
        registry.set_alias(v1.ref, "champion")
        # An experiment that fails: the run is kept, marked failed, with its traceback.
        with contextlib.suppress(ValueError):
            train("logreg", {"C": -1.0}, second["train"], workdir)
    print_summary(first, second)
    return 0


def print_summary(first: dict[str, Any], second: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from lineal import deployments

    console = Console()
    pipeline = first["run"]
    console.print(f"\n[bold]lineal demo recorded into[/bold] {pipeline.store.location}\n")
    table = Table(title="Runs of the first pipeline")
    for column in ("run", "kind", "status", "id"):
        table.add_column(column)
    table.add_row(pipeline.name, "pipeline", "finished", pipeline.id)
    for child in sorted(lineal.list_runs(parent_id=pipeline.id), key=lambda r: r.started_at):
        table.add_row(f"  {child.name}", child.kind, str(child.status), child.id)
    console.print(table)
    table = Table(title="Model scores on held-out rows")
    for column in ("pipeline run", "model", "accuracy", "f1", "roc_auc"):
        table.add_column(column)
    for result in (first, second):
        for variant, ref in result["models"].items():
            mark = " (best)" if variant == result["best"] else ""
            scores = result["scores"][variant]
            table.add_row(result["run"].id[-8:], ref + mark,
                          *(str(scores[k]) for k in ("accuracy", "f1", "roc_auc")))
    console.print(table)
    table = Table(title=f"Deployments of {MODEL}: {SERVICE['name']} in {SERVICE['environment']}")
    for column in ("started (UTC)", "version", "status", "ended", "note"):
        table.add_column(column)
    records = deployments.timeline(MODEL)
    by_id = {d.id: d for d in records}
    for d in records:
        ended = d.ended_at.strftime("%H:%M:%S") if d.ended_at else "-"
        if d.restores_id in by_id:
            note = f"rollback to v{by_id[d.restores_id].model_version}"
        elif d.replaces_id in by_id:
            note = f"replaces v{by_id[d.replaces_id].model_version}"
        else:
            note = "first release"
        table.add_row(d.started_at.strftime("%Y-%m-%d %H:%M:%S"), f"v{d.model_version}",
                      str(d.status), ended, note)
    console.print(table)
    best = first["models"][first["best"]]
    console.print("\n[bold]Explore what was recorded:[/bold]")
    for command in (
        "lineal runs list",
        f"lineal runs show {pipeline.id}",
        "lineal artifacts list",
        f"lineal artifacts show {best}",
        f"lineal registry show {MODEL}",
        f"lineal deploy timeline {MODEL}",
        f"lineal trained-on {MODEL}@v1",
        "lineal why-failed train-logreg",
        f"lineal impact {first['train']}",
        "lineal deploy current --env prod",
        "lineal verify",
    ):
        console.print(f"  .venv/bin/{command}")


if __name__ == "__main__":
    sys.exit(main())
