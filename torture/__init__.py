"""lineal's torture campaigns: ``make torture`` runs ``torture/run.py``, which writes
``docs/reliability.md``; ``tests/torture/`` runs a short version of each campaign."""
