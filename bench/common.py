"""What the benchmarks share: a PostgreSQL database of their own for a run."""

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def database(admin_url: str, name: str, create: bool = True):
    """(Re)create database `name` on the server of `admin_url`, or just drop it; its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name)
