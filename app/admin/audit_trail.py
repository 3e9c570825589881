"""The audit trail: search it, and verify every instance's hash chain."""

from flask import render_template, request

from app.admin import bp, queries
from app.paging import Page, page_number, parse_day
from app.web import env, requires
from workflows.audit import verify_chains
from workflows.identity import Role


@bp.get("/admin/audit")
@requires(Role.ADMIN)
def audit():
    """Audit rows by business key, actor (username or name, acting or on whose behalf),
    action and dates; latest first, a page at a time."""
    return _audit_page(verification=None)


@bp.get("/admin/audit/verify")
@requires(Role.ADMIN)
def verify_audit():
    """Recompute every chain; the page says OK or lists each broken link."""
    session = env().session
    broken = verify_chains(session)
    keys = queries.business_keys(session, {link.instance_id for link in broken})
    return _audit_page(verification=[(link, keys.get(link.instance_id, "")) for link in broken])


def _audit_page(verification):
    context = env()
    wanted = queries.AuditFilter(
        key=request.args.get("key", "").strip(),
        actor=request.args.get("actor", "").strip(),
        action=request.args.get("action", ""),
        since=parse_day(request.args.get("since")),
        until=parse_day(request.args.get("until")),
    )
    zone, session = context.config.ledger.zone, context.session
    page = Page(page_number(request.args), queries.count_audit(session, wanted, zone))
    return render_template(
        "admin/audit.html",
        rows=queries.audit_rows(session, wanted, zone, page.offset, page.size),
        page=page, wanted=wanted, actions=queries.audit_actions(session),
        verification=verification,
    )  # fmt: skip
