"""The merchants pages."""

from flask import Blueprint

bp = Blueprint("merchants", __name__)

from app.merchants import views  # noqa: E402,F401  (routes on bp)
