"""start roles and notification links

Who may file a request: the start lane's role and the roles a start event's `start_roles`
property adds (definitions deployed before get their start lane's role). A notification's
link: where to act on it, such as a pre-filled request form.

Revision ID: 5b8e2f4a9c13
Revises: 3e1a9d2b7c40
Create Date: 2026-11-27 22:36:14.436685
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b8e2f4a9c13"
down_revision = "3e1a9d2b7c40"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_roles", sa.JSON(), nullable=True))
    table = sa.table(
        "process_definitions",
        sa.column("id", sa.Integer),
        sa.column("start_role", sa.String),
        sa.column("start_roles", sa.JSON),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(table.c.id, table.c.start_role)).all():
        roles = [row.start_role] if row.start_role else []
        connection.execute(table.update().where(table.c.id == row.id).values(start_roles=roles))
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.alter_column("start_roles", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("link")
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.drop_column("start_roles")
