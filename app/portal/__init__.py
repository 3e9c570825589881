"""The department portal: start a request (from its form, a draft or an uploaded roster),
the user's requests with their state and who holds them, withdraw, urge and print."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from app.portal import request_views, views  # noqa: E402,F401  (routes on bp)
