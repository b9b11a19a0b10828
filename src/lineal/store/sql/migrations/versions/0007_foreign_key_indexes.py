"""Index every foreign key column, and serve run listings from an index.

- runs(cached_from) and five columns of deployments referenced other tables without an index:
  with foreign keys enforced, writing a run's key made the database scan runs for
  ``cached_from`` on every run end, so ending a run got slower as the store grew.
- runs(started_at, id) serves the store-wide listing (newest first, ties by id) and searches
  ordered by start time without sorting the table; runs(project, started_at) gains ``id`` so
  that a project's listing is served the same way.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:40:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_DEPLOYMENT_FKS = ('version_id', 'artifact_version_id', 'run_id', 'replaces_id', 'restores_id')


def upgrade() -> None:
    # The wider index first: MySQL refuses to drop the index a foreign key (runs.project) uses
    # until another one can serve it.
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_started_at_id'), ['started_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_project_started_at_id'),
                              ['project', 'started_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_cached_from'), ['cached_from'], unique=False)
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_project_started_at'))
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        for column in _DEPLOYMENT_FKS:
            batch_op.create_index(batch_op.f(f'ix_deployments_{column}'), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        for column in _DEPLOYMENT_FKS:
            batch_op.drop_index(batch_op.f(f'ix_deployments_{column}'))
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_project_started_at'), ['project', 'started_at'],
                              unique=False)
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_cached_from'))
        batch_op.drop_index(batch_op.f('ix_runs_project_started_at_id'))
        batch_op.drop_index(batch_op.f('ix_runs_started_at_id'))
