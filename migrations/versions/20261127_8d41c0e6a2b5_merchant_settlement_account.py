"""merchant settlement account

The account a merchant opened with the finance office, which its payouts go to (R23). Nullable:
merchants admitted before it was recorded have none.

Revision ID: 8d41c0e6a2b5
Revises: 5b8e2f4a9c13
Create Date: 2026-11-27 22:44:53.792762
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8d41c0e6a2b5"
down_revision = "5b8e2f4a9c13"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settlement_account", sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("settlement_account")
