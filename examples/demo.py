"""lineal's demo: a small, real ML pipeline recorded end to end on the embedded store.

Data: scikit-learn's bundled breast-cancer data set (ships offline). Steps, each a run nested in
one pipeline run:

    ingest     writes the raw CSV                      -> dataset cancer-raw
    validate   checks and profiles the raw data        -> report  cancer-validation
    features   cleans, scales, splits                  -> datasets cancer-features-train/-test
    train x2   logistic regression and random forest   -> models  cancer-logreg, cancer-forest
    evaluate   scores both on the held-out rows        -> metrics on the evaluate run

Run it with `make demo` (or `python examples/demo.py [--store PATH]`), then explore with the
commands it prints. Running it twice records new runs but no new artifact versions for unchanged
data: content addressing dedupes them.
"""

from __future__ import annotations

import argparse
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
        raw = workdir / "cancer-raw.csv"
        frame.to_csv(raw, index=False)
        run.log_metrics({"rows": len(frame), "columns": frame.shape[1]})
        return log_dataset(run, frame, raw, "cancer-raw", context="raw")


def validate(raw_ref: str, workdir: Path) -> dict[str, Any]:
    import pandas as pd

    with lineal.run("validate", kind="validate") as run:
        frame = pd.read_csv(run.use_artifact(raw_ref, role="raw_data"))
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
    import pandas as pd
    from sklearn.model_selection import train_test_split

    params = {"test_size": test_size, "seed": seed, "drop": ["worst fractal dimension"]}
    with lineal.run("features", kind="preprocess", params=params) as run:
        frame = pd.read_csv(run.use_artifact(raw_ref, role="raw_data"))
        frame = frame.drop(columns=params["drop"]).drop_duplicates()
        # Log-scale the area columns: heavy right tails hurt the linear model.
        for column in [c for c in frame.columns if "area" in c]:
            frame[column] = frame[column].clip(lower=0).pipe(lambda s: s.add(1).apply("log"))
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=frame["target"]
        )
        out = {}
        for split, part in (("train", train), ("test", test)):
            path = workdir / f"cancer-features-{split}.csv"
            part.to_csv(path, index=False)
            version = log_dataset(run, part, path, f"cancer-features-{split}", context=split)
            out[split] = version.ref
        run.log_metrics({"train_rows": len(train), "test_rows": len(test)})
        return out["train"], out["test"]


def train(variant: str, params: dict[str, Any], train_ref: str, workdir: Path) -> str:
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with lineal.run(f"train-{variant}", kind="train", params=params) as run:
        frame = pd.read_csv(run.use_artifact(train_ref, role="train_data"))
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
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    scores: dict[str, dict[str, float]] = {}
    with lineal.run("evaluate", kind="evaluate") as run:
        frame = pd.read_csv(run.use_artifact(test_ref, role="test_data"))
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
def log_dataset(run: lineal.ActiveRun, frame: Any, path: Path, name: str, context: str) -> lineal.ArtifactVersion:
    """The raw file is the artifact; its schema and shape go in the metadata."""
    schema = {column: str(dtype) for column, dtype in frame.dtypes.items()}
    return run.log_artifact(
        path,
        name=name,
        kind="dataset",
        metadata={"context": context, "rows": len(frame), "columns": len(schema), "schema": schema},
    )


def log_model(run: lineal.ActiveRun, model: Any, name: str, example: Any, workdir: Path) -> lineal.ArtifactVersion:
    """skops format (no pickle), with a signature inferred from a few training rows."""
    return run.log_model(model, name, input_example=example)


def load_model(run: lineal.ActiveRun, ref: str) -> Any:
    """Digest-checked load; inside a run it also records the model as the run's input."""
    return lineal.load_model(ref)


# -- the pipeline ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store folder or URL (default: LINEAL_URI or .lineal/)")
    args = parser.parse_args(argv)
    if args.store:
        os.environ["LINEAL_URI"] = args.store
    variants = {"logreg": {"C": 0.5}, "forest": {"n_estimators": 200, "max_depth": 6}}
    with tempfile.TemporaryDirectory(prefix="lineal-demo-") as tmp:
        workdir = Path(tmp)
        with lineal.run("cancer-pipeline", kind="pipeline", experiment="demo") as pipeline:
            raw = ingest(workdir)
            validate(raw.ref, workdir)
            train_ref, test_ref = features(raw.ref, workdir)
            models = {v: train(v, p, train_ref, workdir) for v, p in variants.items()}
            scores = evaluate(models, test_ref)
            best = max(scores, key=lambda v: scores[v]["roc_auc"])
            pipeline.set_tags({"best_model": models[best]})
    print_summary(pipeline, models, scores, best)
    return 0


def print_summary(pipeline: lineal.ActiveRun, models: dict[str, str], scores: dict[str, Any], best: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    store = pipeline.store
    console.print(f"\n[bold]lineal demo recorded into[/bold] {store.location}\n")
    table = Table(title="Runs of this pipeline")
    for column in ("run", "kind", "status", "id"):
        table.add_column(column)
    table.add_row(pipeline.name, "pipeline", "finished", pipeline.id)
    for child in sorted(lineal.list_runs(parent_id=pipeline.id), key=lambda r: r.started_at):
        table.add_row(f"  {child.name}", child.kind, str(child.status), child.id)
    console.print(table)
    table = Table(title="Model scores on held-out rows")
    for column in ("model", "accuracy", "f1", "roc_auc"):
        table.add_column(column)
    for variant, ref in models.items():
        mark = " (best)" if variant == best else ""
        table.add_row(ref + mark, *(str(scores[variant][k]) for k in ("accuracy", "f1", "roc_auc")))
    console.print(table)
    console.print("\n[bold]Explore what was recorded:[/bold]")
    for command in (
        "lineal runs list",
        f"lineal runs show {pipeline.id}",
        "lineal artifacts list",
        f"lineal artifacts show {models[best]}",
        "lineal store info",
        "lineal verify",
    ):
        console.print(f"  .venv/bin/{command}")


if __name__ == "__main__":
    sys.exit(main())
