"""Model registry and deployments: registered models, versions, tags, aliases, approvals, the
registry event history, registry settings (admins) and deployment records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:46:47.151262
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_settings',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_registry_settings'))
    )
    op.create_table('registered_models',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['project'], ['projects.name'], name=op.f('fk_registered_models_project_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registered_models')),
    sa.UniqueConstraint('project', 'name', name=op.f('uq_registered_models_project_name'))
    )
    op.create_table('registered_model_tags',
    sa.Column('model_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_registered_model_tags_model_id_registered_models')),
    sa.PrimaryKeyConstraint('model_id', 'key', name=op.f('pk_registered_model_tags'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('model_id', sa.String(length=26), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('artifact_version_id', sa.String(length=26), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_model_versions_artifact_version_id_artifact_versions')),
    sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_model_versions_model_id_registered_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('model_id', 'artifact_version_id', name=op.f('uq_model_versions_model_id_artifact_version_id')),
    sa.UniqueConstraint('model_id', 'version', name=op.f('uq_model_versions_model_id_version'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_versions_artifact_version_id'), ['artifact_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_model_id_stage'), ['model_id', 'stage'], unique=False)

    op.create_table('deployments',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('environment', sa.String(length=128), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.String(length=26), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('artifact_version_id', sa.String(length=26), nullable=False),
    sa.Column('run_id', sa.String(length=26), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.Column('replaces_id', sa.String(length=26), nullable=True),
    sa.Column('restores_id', sa.String(length=26), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_deployments_artifact_version_id_artifact_versions')),
    sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_deployments_model_id_registered_models')),
    sa.ForeignKeyConstraint(['project'], ['projects.name'], name=op.f('fk_deployments_project_projects')),
    sa.ForeignKeyConstraint(['replaces_id'], ['deployments.id'], name=op.f('fk_deployments_replaces_id_deployments')),
    sa.ForeignKeyConstraint(['restores_id'], ['deployments.id'], name=op.f('fk_deployments_restores_id_deployments')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_deployments_run_id_runs')),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_deployments_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_environment_started_at'), ['environment', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_model_id_started_at'), ['model_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_project_name_environment_started_at'), ['project', 'name', 'environment', 'started_at'], unique=False)

    op.create_table('model_aliases',
    sa.Column('model_id', sa.String(length=26), nullable=False),
    sa.Column('alias', sa.String(length=128), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_model_aliases_model_id_registered_models')),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_model_aliases_version_id_model_versions')),
    sa.PrimaryKeyConstraint('model_id', 'alias', name=op.f('pk_model_aliases'))
    )
    with op.batch_alter_table('model_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_aliases_version_id'), ['version_id'], unique=False)

    op.create_table('model_approvals',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_model_approvals_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_approvals'))
    )
    with op.batch_alter_table('model_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_approvals_version_id_created_at'), ['version_id', 'created_at'], unique=False)

    op.create_table('model_version_tags',
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_model_version_tags_version_id_model_versions')),
    sa.PrimaryKeyConstraint('version_id', 'key', name=op.f('pk_model_version_tags'))
    )
    op.create_table('registry_events',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('model_id', sa.String(length=26), nullable=False),
    sa.Column('version_id', sa.String(length=26), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('alias', sa.String(length=128), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('before_state', sa.Text(), nullable=True),
    sa.Column('after_state', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_registry_events_model_id_registered_models')),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_registry_events_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_events'))
    )
    with op.batch_alter_table('registry_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_events_model_id_alias_ts'), ['model_id', 'alias', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_events_model_id_ts'), ['model_id', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_events_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('registry_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_events_version_id'))
        batch_op.drop_index(batch_op.f('ix_registry_events_model_id_ts'))
        batch_op.drop_index(batch_op.f('ix_registry_events_model_id_alias_ts'))

    op.drop_table('registry_events')
    op.drop_table('model_version_tags')
    with op.batch_alter_table('model_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_approvals_version_id_created_at'))

    op.drop_table('model_approvals')
    with op.batch_alter_table('model_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_aliases_version_id'))

    op.drop_table('model_aliases')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployments_project_name_environment_started_at'))
        batch_op.drop_index(batch_op.f('ix_deployments_model_id_started_at'))
        batch_op.drop_index(batch_op.f('ix_deployments_environment_started_at'))
        batch_op.drop_index(batch_op.f('ix_deployments_ended_at'))

    op.drop_table('deployments')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_model_id_stage'))
        batch_op.drop_index(batch_op.f('ix_model_versions_artifact_version_id'))

    op.drop_table('model_versions')
    op.drop_table('registered_model_tags')
    op.drop_table('registered_models')
    op.drop_table('registry_settings')
