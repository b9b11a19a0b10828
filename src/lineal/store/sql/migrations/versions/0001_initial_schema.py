"""Initial schema: projects, runs (params, tags, metrics), artifact versions (tags, aliases),
lineage edges and the audit ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 12:32:34.148305
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=250), nullable=False),
    sa.Column('payload_digest', sa.String(length=71), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger'))
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entity_type_entity_id'), ['entity_type', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_ts'), ['ts'], unique=False)

    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_head'))
    )
    # The chain's genesis: every write transaction locks and advances this one row.
    op.bulk_insert(
        sa.table('ledger_head', sa.column('id'), sa.column('seq'), sa.column('hash')),
        [{'id': 1, 'seq': 0, 'hash': '0' * 64}],
    )
    op.create_table('projects',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_projects'))
    )
    op.create_table('artifacts',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['project'], ['projects.name'], name=op.f('fk_artifacts_project_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('project', 'name', name=op.f('uq_artifacts_project_name'))
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.Column('parent_id', sa.String(length=26), nullable=True),
    sa.Column('experiment', sa.String(length=128), nullable=True),
    sa.Column('error_type', sa.String(length=256), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_traceback', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('cache_key', sa.String(length=80), nullable=True),
    sa.Column('cached_from', sa.String(length=26), nullable=True),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['cached_from'], ['runs.id'], name=op.f('fk_runs_cached_from_runs')),
    sa.ForeignKeyConstraint(['parent_id'], ['runs.id'], name=op.f('fk_runs_parent_id_runs')),
    sa.ForeignKeyConstraint(['project'], ['projects.name'], name=op.f('fk_runs_project_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_cache_key'), ['cache_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_experiment'), ['experiment'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_project_name'), ['project', 'name'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_project_started_at'), ['project', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_status'), ['status'], unique=False)

    op.create_table('artifact_versions',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('artifact_id', sa.String(length=26), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('storage', sa.String(length=16), nullable=False),
    sa.Column('is_directory', sa.SmallInteger(), nullable=False),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('producer_run_id', sa.String(length=26), nullable=True),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_versions_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['producer_run_id'], ['runs.id'], name=op.f('fk_artifact_versions_producer_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_versions')),
    sa.UniqueConstraint('artifact_id', 'digest', name=op.f('uq_artifact_versions_artifact_id_digest')),
    sa.UniqueConstraint('artifact_id', 'version', name=op.f('uq_artifact_versions_artifact_id_version'))
    )
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_versions_digest'), ['digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_versions_producer_run_id'), ['producer_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_versions_project_kind_created_at'), ['project', 'kind', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_versions_project_name_version'), ['project', 'name', 'version'], unique=False)

    op.create_table('latest_metrics',
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_latest_metrics_run_id_runs')),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_latest_metrics'))
    )
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_latest_metrics_key_value'), ['key', 'value'], unique=False)

    op.create_table('metrics',
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metrics_run_id_runs'))
    )
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metrics_run_id_key_step'), ['run_id', 'key', 'step'], unique=False)

    op.create_table('run_params',
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_params_run_id_runs')),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_run_params'))
    )
    with op.batch_alter_table('run_params', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_params_key'), ['key'], unique=False)

    op.create_table('run_tags',
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_tags_run_id_runs')),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_run_tags'))
    )
    with op.batch_alter_table('run_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_tags_key'), ['key'], unique=False)

    op.create_table('artifact_aliases',
    sa.Column('artifact_id', sa.String(length=26), nullable=False),
    sa.Column('alias', sa.String(length=128), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_aliases_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_artifact_aliases_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('artifact_id', 'alias', name=op.f('pk_artifact_aliases'))
    )
    with op.batch_alter_table('artifact_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_aliases_version_id'), ['version_id'], unique=False)

    op.create_table('artifact_tags',
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_artifact_tags_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('version_id', 'key', name=op.f('pk_artifact_tags'))
    )
    with op.batch_alter_table('artifact_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_tags_key'), ['key'], unique=False)

    op.create_table('edges',
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('role', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_edges_run_id_runs')),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_edges_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('run_id', 'version_id', 'direction', 'role', name=op.f('pk_edges'))
    )
    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_edges_run_id_direction'), ['run_id', 'direction'], unique=False)
        batch_op.create_index(batch_op.f('ix_edges_version_id_direction'), ['version_id', 'direction'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_edges_version_id_direction'))
        batch_op.drop_index(batch_op.f('ix_edges_run_id_direction'))

    op.drop_table('edges')
    with op.batch_alter_table('artifact_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_tags_key'))

    op.drop_table('artifact_tags')
    with op.batch_alter_table('artifact_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_aliases_version_id'))

    op.drop_table('artifact_aliases')
    with op.batch_alter_table('run_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_tags_key'))

    op.drop_table('run_tags')
    with op.batch_alter_table('run_params', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_params_key'))

    op.drop_table('run_params')
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metrics_run_id_key_step'))

    op.drop_table('metrics')
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_latest_metrics_key_value'))

    op.drop_table('latest_metrics')
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_versions_project_name_version'))
        batch_op.drop_index(batch_op.f('ix_artifact_versions_project_kind_created_at'))
        batch_op.drop_index(batch_op.f('ix_artifact_versions_producer_run_id'))
        batch_op.drop_index(batch_op.f('ix_artifact_versions_digest'))

    op.drop_table('artifact_versions')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_status'))
        batch_op.drop_index(batch_op.f('ix_runs_project_started_at'))
        batch_op.drop_index(batch_op.f('ix_runs_project_name'))
        batch_op.drop_index(batch_op.f('ix_runs_parent_id'))
        batch_op.drop_index(batch_op.f('ix_runs_kind'))
        batch_op.drop_index(batch_op.f('ix_runs_experiment'))
        batch_op.drop_index(batch_op.f('ix_runs_cache_key'))

    op.drop_table('runs')
    op.drop_table('artifacts')
    op.drop_table('projects')
    op.drop_table('ledger_head')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_ts'))
        batch_op.drop_index(batch_op.f('ix_ledger_entity_type_entity_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_actor'))

    op.drop_table('ledger')
    # ### end Alembic commands ###
