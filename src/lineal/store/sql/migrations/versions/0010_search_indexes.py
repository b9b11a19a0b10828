"""Covering indexes that let run search find runs by a metric, param or tag value.

- latest_metrics(key, value, run_id): a metric term (``metrics.auc > 0.9``) reads one range of
  it, and a search sorted by a metric walks it in order instead of sorting every run.
- run_params(key, value, run_id) and run_tags(key, value, run_id): an equality term
  (``params.lr = '0.1'``, ``tags.team = 'ml'``) reads the runs that match straight from the
  index. Values are TEXT of up to 64 KiB: MySQL indexes their first 255 characters, and on
  PostgreSQL (whose index entries hold at most about 2.7 KB) only rows whose key and value fit in
  2,000 bytes are indexed; search adds that same condition when the value it looks for is short.

0004 dropped run_params(key) for its write cost; these indexes cost a run start one index entry
per param again, measured in bench/bench_search.py (write curve).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Search (store/sql/search_plan.py, index_match) adds this same condition to a term whose value
# is short: PostgreSQL uses a partial index only for a query that carries its condition.
_SHORT = sa.text("octet_length(key) + octet_length(value) < 2000")


def upgrade() -> None:
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_latest_metrics_key_value_run_id'),
                              ['key', 'value', 'run_id'], unique=False)
    for table in ('run_params', 'run_tags'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_key_value_run_id'),
                                  ['key', 'value', 'run_id'], unique=False,
                                  mysql_length={'value': 255}, postgresql_where=_SHORT)


def downgrade() -> None:
    for table in ('run_tags', 'run_params'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_key_value_run_id'))
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_latest_metrics_key_value_run_id'))
