"""Ways in from other tools: MLflow histories and clients, OpenLineage events.

Each module converts another tool's records into lineal's own entities and writes them through
the store contract, so every lineal question works on what was imported.
"""
