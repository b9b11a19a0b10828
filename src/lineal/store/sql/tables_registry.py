"""Model registry and deployment tables (registered models, model versions, aliases, stages,
approvals, registry events, deployments). Defined on the shared ``metadata``."""

from __future__ import annotations
