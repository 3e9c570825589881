"""audit rows note the request that wrote them

`audit_entries.request_id`: the X-Request-Id of the web or API request that wrote the row, so
that a row leads to that request's log lines (NULL for the worker's and CLI jobs' rows).
Existing rows keep NULL, and a NULL request id is left out of the row's hash, so their chains
verify as before. A plain ADD COLUMN (no batch copy on SQLite): the table's append-only
triggers stay in place and no row is rewritten.

Downgrading drops the ids; rows that had one then no longer verify under the older code,
whose hash does not know the column.

Revision ID: 8a2b3c4d5e6f
Revises: 7c1d2e3f4a5b
Create Date: 2026-12-07 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8a2b3c4d5e6f"
down_revision = "7c1d2e3f4a5b"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("audit_entries", sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column("audit_entries", "request_id")
