"""Lineage: the taints table (artifact versions marked bad, with reason, actor and time).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:56:59.727768
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('taints',
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_taints_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_taints'))
    )
    with op.batch_alter_table('taints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taints_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('taints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taints_created_at'))

    op.drop_table('taints')
