"""device keys

POS terminals, metering controllers and kiosks call the JSON API with a device key each. A key
belongs to one terminal or one kiosk and records the merchant and location the device was
registered with when it was issued (R23); it is kept as the SHA-256 of its text (unique: the
API finds it by that), with the first characters shown in lists. No existing row changes.

Revision ID: 5b0e9d7c2a41
Revises: bbf260a6bd42
Create Date: 2026-11-28 05:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b0e9d7c2a41"
down_revision = "bbf260a6bd42"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "device_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.Integer(), nullable=True),
        sa.Column("kiosk_id", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(terminal_id IS NULL) <> (kiosk_id IS NULL)", name=op.f("ck_device_keys_one_device")
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name=op.f("fk_device_keys_kiosk_id_kiosks")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_device_keys_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"], ["terminals.id"], name=op.f("fk_device_keys_terminal_id_terminals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_device_keys_key_hash")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_kiosk_id"), ["kiosk_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_keys_terminal_id"), ["terminal_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_terminal_id"))
        batch_op.drop_index(batch_op.f("ix_device_keys_kiosk_id"))

    op.drop_table("device_keys")
