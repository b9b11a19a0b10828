"""Run heartbeats (runs.heartbeat_at) and faithful non-finite metrics (value_nonfinite).

runs.heartbeat_at: the last sign of life of a running run's process.

Written outside the audit ledger (one UPDATE every 30 s per active run); no digest covers it, so
the digests of existing rows stay valid. A running run whose heartbeat stopped shows as stale
and `lineal runs close --stale` ends it.

metrics/latest_metrics.value_nonfinite: 'nan', 'inf' or '-inf' where the backend cannot store
that value (MySQL/MariaDB: none of them; SQLite: NaN) and `value` is NULL. The ledger digest
covers the value logged; the verifier decodes the code back into it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.BigInteger(), nullable=True))
    for table in ('metrics', 'latest_metrics'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('value_nonfinite', sa.String(length=4), nullable=True))


def downgrade() -> None:
    for table in ('latest_metrics', 'metrics'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('value_nonfinite')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
