"""The landing page and the health check."""

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    """Who is logged in and the roles granted to them."""
    return render_template("index.html", user=current_user)


def database_is_up() -> bool:
    """Whether `SELECT 1` succeeds.

    It goes through a raw DBAPI connection: a Session would begin a transaction, which on
    SQLite is BEGIN IMMEDIATE and would wait for the write lock behind any running write.
    """
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            connection.close()
    except (SQLAlchemyError, db.engine.dialect.loaded_dbapi.Error):
        current_app.logger.warning("health check: database unavailable", exc_info=True)
        return False
    return True


@bp.get("/health")
def health():
    """{"status": "ok", "database": "ok"}; 503 with "database": "unavailable" if it is down."""
    if database_is_up():
        return jsonify(status="ok", database="ok")
    return jsonify(status="error", database="unavailable"), 503
