"""Reproduce a run: write down what is needed to recreate its outputs, or re-execute it and compare.

    lineal reproduce churn-model@v3 -o repro/    # README.md, checkout.sh, requirements.txt,
                                                 # fetch_inputs.sh, run.sh, lineage.json
    lineal reproduce churn-model@v3 --run        # re-execute here, compare output digests

    import lineal

    plan = lineal.reproduce.plan("churn-model@v3")       # the run that produced it, as recorded
    lineal.reproduce.write_bundle(plan, "repro/")
    verdict = lineal.reproduce.execute(plan)              # in the current git checkout
    verdict.reproducible, verdict.report["differences"]

A plan is read from what every run records at start (:mod:`lineal.capture`): the ``code``
artifact (git remote, commit, dirty diff digest, entry point and its sha256), the
``environment`` artifact (Python, OS, packages), and the run tags ``lineal.argv``,
``lineal.cwd`` and ``lineal.env`` (allowlisted environment variables).

:func:`execute` does not clone or build an environment: it runs the recorded entry point in the
checkout and interpreter it is given, after checking (and warning about) the commit and the
package versions, then compares the new run's output digests with the recorded ones and records
the verdict as a run of kind ``reproduce``.
"""

from __future__ import annotations

from ._execute import Execution, Verdict, execute, prepare
from ._plan import BUNDLE_FILES, REPORT_TAG, VERDICT_TAG, Plan, plan, write_bundle

__all__ = [
    "BUNDLE_FILES",
    "Execution",
    "REPORT_TAG",
    "VERDICT_TAG",
    "Plan",
    "Verdict",
    "execute",
    "plan",
    "prepare",
    "write_bundle",
]
