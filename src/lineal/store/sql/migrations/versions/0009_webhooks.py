"""Webhooks: registered endpoints (ledgered), their secrets, the delivery log, and the cursor of
events enqueued so far.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhooks',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('events', sa.Text(), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=True),
    sa.Column('active', sa.SmallInteger(), nullable=False),
    sa.Column('since_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('removed_at', sa.BigInteger(), nullable=True),
    sa.Column('removed_by', sa.String(length=128), nullable=True),
    sa.Column('ledger_seq', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    op.create_table('webhook_cursor',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_cursor'))
    )
    op.create_table('webhook_secrets',
    sa.Column('webhook_id', sa.String(length=26), nullable=False),
    sa.Column('secret', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_secrets_webhook_id_webhooks')),
    sa.PrimaryKeyConstraint('webhook_id', name=op.f('pk_webhook_secrets'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('webhook_id', sa.String(length=26), nullable=False),
    sa.Column('event_id', sa.String(length=26), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.BigInteger(), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('delivered_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('webhook_id', 'event_seq', name=op.f('uq_webhook_deliveries_webhook_id_event_seq'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_webhook_id_created_at'), ['webhook_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_webhook_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_status_next_attempt_at'))
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_secrets')
    op.drop_table('webhook_cursor')
    op.drop_table('webhooks')
