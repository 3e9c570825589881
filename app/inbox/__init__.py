"""The inbox pages."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)

from app.inbox import views  # noqa: E402,F401  (routes on bp)
