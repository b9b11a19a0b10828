"""Lineage: walk the graph of runs and artifact versions, taint, impact, import, export.

    from lineal import lineage

    closure = lineage.upstream("churn-model@v3", depth=4, kind="dataset")
    for node in closure.nodes:
        print(node.depth, node.label)
    report = lineage.impact("raw-data@v2")      # every artifact, model version, deployment

Every name is loaded on first use (PEP 562), so ``import lineal.lineage`` imports nothing heavy.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# name -> module. Other modules of this package (questions, diff) add their public names here.
_EXPORTS: dict[str, str] = {
    "Closure": "lineal.entities",
    "Direction": "lineal.entities",
    "Graph": "lineal.entities",
    "GraphEdge": "lineal.entities",
    "Impact": "lineal.lineage.api",
    "ImportResult": "lineal.lineage.jsonl",
    "ImpactItem": "lineal.lineage.api",
    "Node": "lineal.entities",
    "NodeType": "lineal.entities",
    "Path": "lineal.entities",
    "Taint": "lineal.entities",
    "downstream": "lineal.lineage.api",
    "export_graph": "lineal.lineage.export",
    "impact": "lineal.lineage.api",
    "import_file": "lineal.lineage.file_import",
    "import_jsonl": "lineal.lineage.jsonl",
    "node": "lineal.lineage.api",
    "paths": "lineal.lineage.api",
    "subgraph": "lineal.lineage.api",
    "taint": "lineal.lineage.api",
    "taints": "lineal.lineage.api",
    "untaint": "lineal.lineage.api",
    "upstream": "lineal.lineage.api",
    "DataChange": "lineal.lineage._diff",
    "DatasetUse": "lineal.lineage.questions",
    "Divergence": "lineal.lineage._diff",
    "EnvironmentReport": "lineal.lineage.questions",
    "FailureReport": "lineal.lineage._failure",
    "LastDeployment": "lineal.lineage._usage",
    "Leaderboard": "lineal.lineage._usage",
    "LeaderboardEntry": "lineal.lineage._usage",
    "LineageDiff": "lineal.lineage._diff",
    "PackageUse": "lineal.lineage._usage",
    "PackagesUnknown": "lineal.lineage._usage",
    "ParamsReport": "lineal.lineage.questions",
    "PipelineReport": "lineal.lineage.questions",
    "PipelineStep": "lineal.lineage.questions",
    "RunsUsing": "lineal.lineage._usage",
    "StepDiff": "lineal.lineage._diff",
    "TrainedOn": "lineal.lineage.questions",
    "diff": "lineal.lineage._diff",
    "environment": "lineal.lineage.questions",
    "last_deployed": "lineal.lineage._usage",
    "leaderboard": "lineal.lineage._usage",
    "params": "lineal.lineage.questions",
    "pipeline": "lineal.lineage.questions",
    "runs_using": "lineal.lineage._usage",
    "trained_on": "lineal.lineage.questions",
    "why_failed": "lineal.lineage._failure",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
