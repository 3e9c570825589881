"""The instances pages."""

from flask import Blueprint

bp = Blueprint("instances", __name__)

from app.instances import views  # noqa: E402,F401  (routes on bp)
