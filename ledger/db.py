"""Engine set-up shared by the app, the CLI, the tests and the benchmarks."""

from sqlalchemy import Engine, event


def configure_engine(engine: Engine) -> Engine:
    """Make SQLite behave as the ledger needs; PostgreSQL needs nothing here.

    On SQLite every transaction starts with BEGIN IMMEDIATE, so a write lock is taken before
    the first read and the checks made under it (balance, daily limit) stay true until commit.
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_ledger_configured", False):
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine._ledger_configured = True
    return engine
