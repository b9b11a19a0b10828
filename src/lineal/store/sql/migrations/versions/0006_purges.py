"""Purges: artifact versions whose bytes were deleted on request, with when, who and why.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('purges',
    sa.Column('version_id', sa.String(length=26), nullable=False),
    sa.Column('purged_at', sa.BigInteger(), nullable=False),
    sa.Column('purged_by', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_purges_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_purges'))
    )


def downgrade() -> None:
    op.drop_table('purges')
