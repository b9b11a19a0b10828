"""Drop two indexes no query reads: run_params(key) and latest_metrics(key, value).

Params and latest metrics are read by run (their primary keys). Each of those indexes cost every
run start and every metric flush one page write per key, about a sixth of the time to record a
short run (bench/RESULTS.md, (b)).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:40:00
"""
from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run_params', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_params_key'))
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_latest_metrics_key_value'))


def downgrade() -> None:
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_latest_metrics_key_value'), ['key', 'value'], unique=False)
    with op.batch_alter_table('run_params', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_params_key'), ['key'], unique=False)
