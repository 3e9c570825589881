"""session tokens of users, filed start form pages

A user's sessions carry the user's session token: logging out and a new password change it,
so that an old session cookie no longer logs anyone in. Every existing user is given a
random token (their open sessions, which carry none, end). `filings` keeps the token of each
start form page that filed a request, so that a page sent twice files once.

Revision ID: cdec88a2c8e3
Revises: f7ae1d1f1d23
Create Date: 2026-11-28 00:55:12.679632
"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "cdec88a2c8e3"
down_revision = "f7ae1d1f1d23"
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))


def upgrade():
    op.create_table(
        "filings",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_filings_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_filings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_filings")),
    )
    with op.batch_alter_table("filings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_filings_instance_id"), ["instance_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)):
        token = secrets.token_hex(16)  # as workflows.identity.new_session_token
        connection.execute(users.update().where(users.c.id == user_id).values(session_token=token))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_token")

    with op.batch_alter_table("filings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_filings_instance_id"))

    op.drop_table("filings")
