"""The audit trail is append-only: triggers refuse UPDATE and DELETE of its rows."""

from sqlalchemy import DDL, Connection, event

from ledger.base import Base
from ledger.ddl import append_only

TABLES = ("audit_entries",)


def install_triggers(connection: Connection) -> None:
    """Create the audit trail's triggers on `connection`'s database (the table must exist)."""
    dialect = connection.dialect.name
    for statement in append_only(dialect, TABLES, "workflows_append_only", "audit"):
        connection.execute(DDL(statement))


@event.listens_for(Base.metadata, "after_create")
def _after_create(_metadata, connection, **_kw):
    if "audit_entries" in Base.metadata.tables:
        install_triggers(connection)
