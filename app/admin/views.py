"""Routes of the admin blueprint: the overview here; users, delegations, definitions,
instances, incidents and the audit trail in their own modules, imported here. Every route is
for administrators only."""

from flask import render_template

from app.admin import audit_trail, bp, engine, queries, users  # noqa: F401  (routes on bp)
from app.web import env, requires
from workflows.identity import Role


@bp.get("/admin")
@requires(Role.ADMIN)
def index():
    """The overview: active users, live and suspended requests, open incidents."""
    return render_template("admin/index.html", figures=queries.overview(env().session))
