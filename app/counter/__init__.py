"""The counter pages."""

from flask import Blueprint

bp = Blueprint("counter", __name__)

from app.counter import views  # noqa: E402,F401  (routes on bp)
