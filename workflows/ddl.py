"""The audit trail is append-only: triggers refuse UPDATE and DELETE of its rows."""

from sqlalchemy import DDL, Connection, event

from ledger.base import Base

_POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION workflows_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit: %% is append-only (%% refused)', TG_TABLE_NAME, TG_OP; END
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER trg_audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION workflows_append_only()""",
]
_SQLITE = [
    f"""CREATE TRIGGER trg_audit_entries_no_{op.lower()} BEFORE {op} ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit: audit_entries is append-only'); END"""
    for op in ("UPDATE", "DELETE")
]
TRIGGERS = {"postgresql": _POSTGRESQL, "sqlite": _SQLITE}


def install_triggers(connection: Connection) -> None:
    """Create the audit trail's triggers on `connection`'s database (the table must exist)."""
    for statement in TRIGGERS.get(connection.dialect.name, []):
        connection.execute(DDL(statement))


@event.listens_for(Base.metadata, "after_create")
def _after_create(_metadata, connection, **_kw):
    if "audit_entries" in Base.metadata.tables:
        install_triggers(connection)
