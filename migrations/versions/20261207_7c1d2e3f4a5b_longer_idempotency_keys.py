"""longer idempotency keys

The JSON API stores a caller's Idempotency-Key (up to 64 characters) after who calls, such as
`terminal:<code>:`, so a key may run to 120 characters. Existing keys keep their text.

Revision ID: 7c1d2e3f4a5b
Revises: 5b0e9d7c2a41
Create Date: 2026-12-07 16:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c1d2e3f4a5b"
down_revision = "5b0e9d7c2a41"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(length=80), type_=sa.String(length=120),
            existing_nullable=False,
        )  # fmt: skip


def downgrade():
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(length=120), type_=sa.String(length=80),
            existing_nullable=False,
        )  # fmt: skip
