"""Alembic environment, run by Flask-Migrate inside the app: the URL and the MetaData (one
`Base.metadata` for every table) come from the app."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from ledger.base import UTCDateTime

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def render_item(type_, obj, autogen_context):
    """Write UTCDateTime as the plain column type it stores, so that a migration does not
    import application code that may later change."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure_args(dialect_name: str) -> dict:
    """Flask-Migrate's arguments, with batch mode on SQLite only and type comparison on."""
    args = dict(current_app.extensions["migrate"].configure_args)
    args["render_as_batch"] = dialect_name == "sqlite"
    args["compare_type"] = True
    args.setdefault("render_item", render_item)
    args.setdefault("process_revision_directives", skip_empty_revision)
    return args


def skip_empty_revision(context_, revision, directives):
    """An autogenerate that finds no change writes no file."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline():
    """Emit SQL for the URL without connecting (`flask db upgrade --sql`)."""
    url = config.get_main_option("sqlalchemy.url")
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        target_metadata=target_db.metadata,
        literal_binds=True,
        **configure_args(dialect_name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Migrate through a connection. On SQLite, foreign keys are off while batch operations
    copy tables (as Alembic advises) and checked before the transaction commits."""
    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On the DBAPI connection: the PRAGMA is a no-op inside a transaction.
        dbapi_connection = connection.connection.driver_connection
        if sqlite:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_db.metadata,
                **configure_args(connection.dialect.name),
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("migration left rows that break a foreign key")
        finally:
            if sqlite:
                dbapi_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
