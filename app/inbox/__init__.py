"""The inbox pages: the task list, the task page and its actions, delegation while away,
and notifications."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)

from app.inbox import away_views, task_views, views  # noqa: E402,F401  (routes on bp)
