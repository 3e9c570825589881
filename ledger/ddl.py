"""Database triggers for the ledger's invariants that no single-row CHECK can express.

- The journal (entries and postings) and the card history are append-only.
- A card in a final state (replaced, cancelled, terminated) never changes state again, so a
  card voided by a reissue can never be unfrozen (R15).

`install_triggers` runs after `create_all` and from the Alembic migration alike.
"""

from sqlalchemy import DDL, Connection, event

from ledger.base import Base
from ledger.models.cards import FINAL_STATES

APPEND_ONLY_TABLES = ("journal_entries", "postings", "card_events")
_final_sql = ", ".join(f"'{s.value}'" for s in FINAL_STATES)


def append_only(dialect: str, tables, function: str, label: str) -> list[str]:
    """Statements making `tables` refuse UPDATE and DELETE on `dialect` ('postgresql' or
    'sqlite'); on PostgreSQL through the trigger function `function`. Errors say `label`."""
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '{label}: %% is append-only (%% refused)', TG_TABLE_NAME, TG_OP; END
    $$ LANGUAGE plpgsql"""
        ] + [
            f"""CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}()"""
            for table in tables
        ]
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER trg_{table}_no_{op.lower()} BEFORE {op} ON {table}
    BEGIN SELECT RAISE(ABORT, '{label}: {table} is append-only'); END"""
            for table in tables
            for op in ("UPDATE", "DELETE")
        ]
    return []


_POSTGRESQL = append_only("postgresql", APPEND_ONLY_TABLES, "ledger_append_only", "ledger") + [
    f"""CREATE OR REPLACE FUNCTION ledger_card_final_state() RETURNS trigger AS $$
    BEGIN
      IF OLD.state IN ({_final_sql}) AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'ledger: card %% is %% for good', OLD.card_no, OLD.state;
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER trg_cards_final_state BEFORE UPDATE ON cards
    FOR EACH ROW EXECUTE FUNCTION ledger_card_final_state()""",
]

_SQLITE = [
    f"""CREATE TRIGGER trg_cards_final_state BEFORE UPDATE OF state ON cards
    WHEN OLD.state IN ({_final_sql}) AND NEW.state <> OLD.state
    BEGIN SELECT RAISE(ABORT, 'ledger: a card in a final state never changes state'); END"""
] + append_only("sqlite", APPEND_ONLY_TABLES, "", "ledger")

TRIGGERS = {"postgresql": _POSTGRESQL, "sqlite": _SQLITE}


def install_triggers(connection: Connection) -> None:
    """Create the ledger's triggers on `connection`'s database (tables must exist)."""
    for statement in TRIGGERS.get(connection.dialect.name, []):
        connection.execute(DDL(statement))


@event.listens_for(Base.metadata, "after_create")
def _after_create(_metadata, connection, **_kw):
    if "postings" in Base.metadata.tables:
        install_triggers(connection)
