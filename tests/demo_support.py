"""The demo database of the web, observability and fault tests."""

from datetime import UTC, datetime

from flask import Flask

from app.demo_requests import load_demo_with_requests
from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from ledger.base import Base


def fill_with_demo(app: Flask) -> None:
    """Every table, the demo data and one demo request of each process, in `app`'s database;
    the pool's connections are closed after."""
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            bpmn_dir, config = app.config["BPMN_DIR"], engine_config(app)
            load_demo_with_requests(db.session, datetime.now(UTC), bpmn_dir, config)
        db.engine.dispose()
