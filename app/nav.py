"""The menu: the parts of the site the logged-in user may use, with their open-task count."""

from flask import g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.extensions import db
from app.web import has_any_role, inbox_scope
from workflows.identity import Role
from workflows.inbox import inbox_count

#: (endpoint, label, roles that see it; empty: everyone logged in).
MENU = (
    ("portal.start_list", _l("发起申请"), ()),
    ("portal.my_requests", _l("我的申请"), ()),
    ("inbox.index", _l("待办"), ()),
    ("counter.index", _l("柜台"), (Role.CARD_OFFICE,)),
    ("merchants.index", _l("商户与结算"), (Role.SETTLEMENT, Role.CARD_OFFICE)),
    ("admin.index", _l("系统管理"), (Role.ADMIN,)),
)

#: Pages of the portal that belong to a menu entry other than their own endpoint.
CURRENT_ENTRY = {
    "portal.start": "portal.start_list",
    "portal.drafts": "portal.start_list",
    "portal.print_request": "portal.my_requests",
}


def _is_current(endpoint: str) -> bool:
    blueprint = endpoint.partition(".")[0]
    if blueprint == "portal":
        return CURRENT_ENTRY.get(request.endpoint, request.endpoint) == endpoint
    return request.blueprint == blueprint


def menu_items() -> list[dict]:
    """The menu entries for this user: url, label, whether current, open-task count."""
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label, roles in MENU:
        if not roles or has_any_role(*roles, Role.ADMIN):
            items.append(
                {
                    "url": url_for(endpoint),
                    "label": str(label),
                    "current": _is_current(endpoint),
                    "count": open_task_count() if endpoint == "inbox.index" else None,
                }
            )
    return items


#: Open tasks are counted up to this many; the menu then shows "999+".
COUNT_CAP = 1000


def shown_count(count: int) -> str:
    """A task count as the menu and the inbox show it: "999+" from COUNT_CAP on."""
    return f"{COUNT_CAP - 1}+" if count >= COUNT_CAP else str(count)


def open_task_count() -> int:
    """How many open tasks the user's inbox holds (their own, their groups', stand-ins');
    counted once a request (the inbox page, unfiltered, counts it for the menu)."""
    if "open_task_count" not in g:
        g.open_task_count = inbox_count(db.session, inbox_scope(), at_most=COUNT_CAP)
    return g.open_task_count


def register_nav(app) -> None:
    """Give every template `menu_items`."""
    app.jinja_env.globals["menu_items"] = menu_items
    app.jinja_env.filters["task_count"] = shown_count
