"""Lineage-side tables (taints, step cache, reproductions). Defined on the shared ``metadata``."""

from __future__ import annotations
