"""Who may use each route: every rule of the URL map, with every demo login and anonymously.

GET: the logins EXPECTED_GET names get the page (200, or 302 where the page sends them on),
every other login gets 403 or 404, an anonymous visitor is sent to log in; no GET changes the
database. POST: every login that may not use the route gets 403 or 404 with an empty form, an
anonymous visitor is sent to log in, and the database does not change at all.

The expectations follow the issue's rules, not the code: the counter is the card office's
(and administrators'); merchant pages the settlement centre's and the card office's, settling
the settlement centre's; the admin pages administrators'; a task its holder's; a request its
applicant's, its task holders' and administrators'; a start form its process's start roles'.
A new route without an expectation, or with an argument this module cannot fill from the
demo data, fails here by name.

The routes are walked on one copy of the demo database per module (plus a few objects made
for the routes that name them), each login logged in once: nothing a refused request does may
change it, and the whole database is compared before and after each request.
"""

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.extensions import db
from tests.web.access_support import USERS, build_world, instance_id
from workflows import runtime
from workflows.models import ProcessInstance

EVERYONE = frozenset(USERS)
ADMINS = frozenset({"admin"})
COUNTER = frozenset({"cardoffice", "admin"})
MERCHANT_READERS = frozenset({"settlement", "cardoffice", "admin"})
SETTLERS = frozenset({"settlement", "admin"})
#: DEMO-LSK-1, a temporary card request filed by CS's applicant, waiting for CS's approver.
REQUEST_VIEWERS = frozenset({"applicant", "approver", "admin"})
TASK_HOLDERS = frozenset({"approver"})
ATTACHERS = frozenset({"applicant", "approver"})  # its applicant and its task's holder
OWN_REQUEST = frozenset({"applicant"})
#: Who files each process: the roles of its start lane (R21-R24, R15, R18, R19).
STARTERS = {
    "temporary_card": frozenset({"applicant", "logistics"}),
    "temporary_card_extension": frozenset({"applicant", "logistics"}),
    "card_reissue": frozenset({"applicant", "logistics", "cardoffice"}),
    "card_cancellation": frozenset({"cardoffice"}),
    "forced_termination": frozenset({"hr", "registrar", "cardoffice"}),
    "merchant_onboarding": frozenset({"applicant", "logistics"}),
    "merchant_revocation": frozenset({"applicant", "logistics"}),
}
TO_LOGIN, PUBLIC = "login", "public"
ADMIN_PAGES = "index users new_user user delegations definitions instances instance incidents audit"
ADMIN_PAGES += " verify_audit"
ADMIN_ACTIONS = "new_user set_active grant revoke reset_password end_delegation act_on_instance"
ADMIN_ACTIONS += " retry_incident cancel_incident name_delegation"
TASK_ACTIONS = "decide claim unclaim return_task transfer add_signer copy"


@dataclass(frozen=True)
class Get:
    """Who gets a GET route's page, with which status; what an anonymous visitor gets."""

    allowed: frozenset
    status: int = 200
    anonymous: str | int = TO_LOGIN


EXPECTED_GET = {
    "main.index": Get(EVERYONE),
    "main.health": Get(EVERYONE, anonymous=200),
    "observability.healthz": Get(EVERYONE, anonymous=200),
    "observability.readyz": Get(EVERYONE, anonymous=200),
    "observability.metrics": Get(EVERYONE, anonymous=200),  # testing: open without METRICS_TOKEN
    "auth.login": Get(EVERYONE, 302, anonymous=200),  # logged in already: sent on
    "auth.change_password": Get(EVERYONE),
    "auth.tokens": Get(EVERYONE),
    "portal.start_list": Get(EVERYONE),
    "portal.drafts": Get(EVERYONE),
    "portal.my_requests": Get(EVERYONE),
    "portal.start": Get(STARTERS["temporary_card"]),
    "portal.print_request": Get(REQUEST_VIEWERS),
    "printouts.request_form": Get(REQUEST_VIEWERS),
    "inbox.index": Get(EVERYONE),
    "inbox.away": Get(EVERYONE),
    "inbox.notifications": Get(EVERYONE),
    "inbox.task": Get(TASK_HOLDERS),
    "instances.show": Get(REQUEST_VIEWERS),
    "instances.diagram": Get(REQUEST_VIEWERS),
    "instances.attachment": Get(REQUEST_VIEWERS),
    "counter.index": Get(COUNTER),
    "counter.person": Get(COUNTER),
    "counter.receipt": Get(COUNTER),
    "counter.receipt_as_pdf": Get(COUNTER),
    "counter.statement_pdf": Get(COUNTER),
    "counter.operation": Get(COUNTER),
    "merchants.index": Get(MERCHANT_READERS),
    "merchants.show": Get(MERCHANT_READERS),
    "merchants.settlements": Get(MERCHANT_READERS),
    "merchants.statement": Get(MERCHANT_READERS),
    "merchants.statement_pdf": Get(MERCHANT_READERS),
    "merchants.refunds": Get(MERCHANT_READERS),
    "merchants.confirm_run": Get(SETTLERS),
    "merchants.new_adjustment": Get(SETTLERS),
    "merchants.batch": Get(SETTLERS, 302),  # no refund chosen: back to the list
    "merchants.batch_csv": Get(SETTLERS),
    "merchants.batch_pdf": Get(SETTLERS, 302),  # no refund chosen: back to the list
    **{f"admin.{name}": Get(ADMINS) for name in ADMIN_PAGES.split()},
}
#: Who may use each POST route (on the objects the resolvers name); PUBLIC: anyone at all.
EXPECTED_POST = {
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.change_password": EVERYONE,
    "auth.tokens": EVERYONE,  # makes a token of one's own
    "auth.revoke_token": frozenset({"applicant", "admin"}),  # the token's owner; admins
    "i18n.choose_language": PUBLIC,
    "portal.start": STARTERS["temporary_card"],
    "portal.delete_draft": frozenset({"applicant"}),  # the draft's owner
    "portal.withdraw": OWN_REQUEST,
    "portal.urge": OWN_REQUEST,
    **{f"inbox.{name}": TASK_HOLDERS for name in TASK_ACTIONS.split()},
    # Everyone's own: which tasks and notifications they touch is checked in the body below.
    "inbox.bulk_approve": EVERYONE,
    "inbox.mark_read": EVERYONE,
    "inbox.save_filter": EVERYONE,
    "inbox.name_substitute": EVERYONE,
    "inbox.delete_filter": frozenset({"approver"}),  # the filter's owner
    "inbox.end_substitution": frozenset({"approver", "admin"}),  # who named it; admins
    "instances.comment": REQUEST_VIEWERS,
    "instances.upload": ATTACHERS,
    "counter.operation": COUNTER,
    "merchants.run": SETTLERS,
    "merchants.post": SETTLERS,
    "merchants.pay": SETTLERS,
    **{f"admin.{name}": ADMINS for name in ADMIN_ACTIONS.split()},
}


# --- the routes ---------------------------------------------------------------------------


def route_table(app: Flask) -> list[tuple[str, str, str]]:
    """(method, endpoint, rule) of every rule but `static` and the JSON API's (which a session
    does not authorise: tests/web/test_api_*.py cover them by token), GET and POST each once."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.endpoint, rule.rule))
    return sorted(found, key=lambda row: (row[1], row[0]))


ROUTES = route_table(create_app({"APP_CONFIG": "testing"}))


def cases(method: str) -> list:
    """One case per route of `method` and login (None: anonymous), named like
    'GET counter.person as applicant'."""
    found = []
    for verb, endpoint, _rule in ROUTES:
        if verb != method:
            continue
        for login in (*USERS, None):
            name = f"{method} {endpoint} as {login or 'anonymous'}"
            found.append(pytest.param(endpoint, login, id=name))
    return found


@pytest.fixture(scope="module")
def world(demo_database, tmp_path_factory):
    """The routes' world for this module (CSRF off)."""
    found = build_world(demo_database, tmp_path_factory.mktemp("access"))
    yield found
    with found.app.app_context():
        db.engine.dispose()


def expectation(table: dict, endpoint: str):
    """The route's expectation, or a failure naming the route that has none."""
    if endpoint not in table:
        pytest.fail(f"{endpoint}: no expectation; add the route to the table of this module")
    return table[endpoint]


def sent_to_log_in(reply) -> bool:
    """Whether the reply sends the visitor to the login page."""
    return reply.status_code == 302 and reply.headers["Location"].startswith("/login")


def refused_posts() -> list:
    """The POST cases of logins that may not use the route, and of anonymous visitors."""
    return [
        case
        for case in cases("POST")
        if EXPECTED_POST.get(case.values[0]) != PUBLIC
        and case.values[1] not in EXPECTED_POST.get(case.values[0], ())
    ]


# --- every route ----------------------------------------------------------------------------


def test_every_route_has_an_expectation_and_its_arguments_are_known(world):
    missing = [f"GET {e}" for m, e, _r in ROUTES if m == "GET" and e not in EXPECTED_GET]
    missing += [f"POST {e}" for m, e, _r in ROUTES if m == "POST" and e not in EXPECTED_POST]
    assert not missing, "routes without an expectation: " + ", ".join(missing)
    routed = {(m, e) for m, e, _r in ROUTES}
    stale = [e for e in EXPECTED_GET if ("GET", e) not in routed]
    stale += [e for e in EXPECTED_POST if ("POST", e) not in routed]
    assert not stale, "expectations of routes that are gone: " + ", ".join(stale)
    assert not [m for m, _e, _r in ROUTES if m not in ("GET", "POST")]
    for method, endpoint, _rule in ROUTES:
        world.url(endpoint, method)  # fails naming the rule if an argument has no value


@pytest.mark.parametrize("endpoint, login", cases("GET"))
def test_get_answers_each_login_as_the_rules_say_and_changes_nothing(world, endpoint, login):
    expected = expectation(EXPECTED_GET, endpoint)
    url, before = world.url(endpoint), world.fingerprint()
    reply = world.clients[login].get(url)
    status, changed = reply.status_code, world.changes_since(before)
    assert not changed, f"GET {url} as {login} changed {changed}"
    if login is None and expected.anonymous == TO_LOGIN:
        assert sent_to_log_in(reply), f"anonymous GET {url}: {status}"
    elif login is None:
        assert status == expected.anonymous, f"anonymous GET {url}: {status}"
    elif login in expected.allowed:
        assert status == expected.status, f"{login} GET {url}: {status}"
        assert not sent_to_log_in(reply)
    else:
        assert status in (403, 404), f"{login} GET {url}: {status}, not refused"


@pytest.mark.parametrize("endpoint, login", refused_posts())
def test_post_refuses_whoever_may_not_use_it_and_changes_nothing(world, endpoint, login):
    expectation(EXPECTED_POST, endpoint)
    url, before = world.url(endpoint, "POST"), world.fingerprint()
    reply = world.clients[login].post(url, data={})
    changed = world.changes_since(before)
    assert not changed, f"POST {url} as {login or 'anonymous'} changed {changed}"
    if login is None:
        assert sent_to_log_in(reply), f"anonymous POST {url}: {reply.status_code}"
    else:
        assert reply.status_code in (403, 404), f"{login} POST {url}: {reply.status_code}"


# --- what a form names: tasks, notifications and drafts of others ---------------------------


@pytest.mark.parametrize("login", sorted(EVERYONE - TASK_HOLDERS))
def test_bulk_approving_a_task_one_does_not_hold_changes_nothing(world, login):
    before = world.fingerprint()
    data = {"task_id": [str(world.ids["task"])], "comment": "同意"}
    reply = world.clients[login].post("/inbox/bulk-approve", data=data)
    assert world.changes_since(before) == []
    assert reply.status_code == 302


@pytest.mark.parametrize("login", sorted(EVERYONE - {"approver"}))
def test_marking_someone_elses_notifications_read_changes_nothing(world, login):
    before = world.fingerprint()
    data = {"notification_id": [str(i) for i in world.ids["notifications"]]}
    world.clients[login].post("/notifications/read", data=data)
    assert world.changes_since(before) == []


def test_a_draft_saved_over_someone_elses_draft_is_refused(world):
    before = world.fingerprint()
    data = {"action": "draft", "draft_id": str(world.ids["draft"]), "reason": "借用"}
    reply = world.clients["logistics"].post("/start/temporary_card", data=data)
    assert world.changes_since(before) == []
    assert reply.status_code == 404


# --- departments: each demo request and task, and each process's start form -----------------

#: Who sees each demo request: its applicant, its task holders (past and present), admins.
#: DEMO-BB-1 was decided at the counter (its reissue then failed: the incident).
VIEWERS = {
    "DEMO-LSK-1": {"applicant", "approver", "admin"},  # CS
    "DEMO-YQ-1": {"applicant", "approver", "admin"},  # CS
    "DEMO-SHJR-1": {"logistics", "supervisor", "admin"},  # LOGI, its supervising department
    "DEMO-BB-1": {"cardoffice", "admin"},
    "DEMO-QZZZ-1": {"registrar", "itcenter", "admin"},  # ACAD, then the IT centre
}
#: Who holds the open task of each demo request.
HOLDERS = {
    "DEMO-LSK-1": "approver",
    "DEMO-YQ-1": "approver",
    "DEMO-SHJR-1": "supervisor",
    "DEMO-QZZZ-1": "itcenter",
}


def by_login(table: dict, what: str) -> list:
    return [
        pytest.param(key, login, id=f"{what} {key} as {login}") for key in table for login in USERS
    ]


@pytest.mark.parametrize("key, login", by_login(VIEWERS, "GET instances.show"))
def test_a_request_is_seen_by_its_applicant_its_handlers_and_admins_only(world, key, login):
    with world.app.app_context():
        found = instance_id(key)
    reply = world.clients[login].get(f"/instances/{found}")
    assert reply.status_code == (200 if login in VIEWERS[key] else 404)


@pytest.mark.parametrize("key, login", by_login(HOLDERS, "GET inbox.task"))
def test_a_task_page_opens_for_its_holder_only(world, key, login):
    with world.app.app_context():
        (task,) = runtime.open_tasks(db.session, instance_id(key))
    reply = world.clients[login].get(f"/tasks/{task.id}")
    if login == HOLDERS[key]:
        assert reply.status_code == 200
    else:
        assert reply.status_code == (403 if login in VIEWERS[key] else 404)


@pytest.mark.parametrize("process, login", by_login(STARTERS, "GET portal.start"))
def test_a_start_form_opens_for_its_start_roles_only(world, process, login):
    reply = world.clients[login].get(f"/start/{process}")
    assert reply.status_code == (200 if login in STARTERS[process] else 403)


def test_every_deployed_process_has_its_starters_here(world):
    with world.app.app_context():
        deployed = set(db.session.scalars(select(ProcessInstance.process_id).distinct()))
    assert deployed <= set(STARTERS)
