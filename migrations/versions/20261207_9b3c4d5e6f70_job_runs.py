"""job runs

The scheduled jobs (`flask jobs run expire | settle | remind`) record each run: one row per job
and campus day, unique, inserted in the same transaction as the job's work, so a job started on
several nodes at once runs once and a failed run leaves its day unclaimed. A new table; no
existing row changes.

Revision ID: 9b3c4d5e6f70
Revises: 8a2b3c4d5e6f
Create Date: 2026-12-07 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9b3c4d5e6f70"
down_revision = "8a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("node", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "period", name="uq_job_runs_period"),
    )


def downgrade():
    op.drop_table("job_runs")
