"""Security beside the route matrix: the session cookie is HttpOnly and SameSite=Lax, and
Secure in production (with CSRF on); logging out takes a POST; login attempts are limited per
username and per address, with one message whatever was wrong; a deactivated account's open
sessions end with it; ID numbers are shown whole to the card office and administrators only."""

import shutil
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from app import create_app
from app.auth.accounts import find_user
from app.config import ProductionConfig
from app.demo import DEMO_PASSWORD
from app.extensions import db
from tests.web.access_support import USERS, env_of, instance_id
from workflows import runtime, tasks
from workflows.models import HumanTask, TaskState

WRONG = "用户名或密码错误"
BLOCKED = "登录失败次数过多"
DECIDE = "dept_review"  # the approver's task of the demo extension DEMO-YQ-1


def session_cookie(reply) -> str:
    """The Set-Cookie header of the session cookie."""
    found = [c for c in reply.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert found, "the reply sets no session cookie"
    return found[-1]


def log_in(client, username: str, password: str = DEMO_PASSWORD, address: str = "10.0.0.1"):
    """POST /login from `address`."""
    data = {"username": username, "password": password}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


# --- the session cookie ------------------------------------------------------------------


def test_the_session_cookie_after_login_is_http_only_and_same_site_lax(web):
    reply = log_in(web.test_client(), "approver")
    assert reply.status_code == 302
    cookie = session_cookie(reply)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_sends_the_session_cookie_over_https_only_and_checks_csrf(
    demo_database, tmp_path
):
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    path = tmp_path / "production.sqlite3"
    shutil.copy(demo_database, path)
    app = create_app({
        "APP_CONFIG": "production", "SECRET_KEY": "a-secret-key-for-this-test-only",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "DEPLOY_BPMN_ON_START": False,
    })  # fmt: skip
    try:
        client = app.test_client()
        reply = client.get("/login", base_url="https://cards.example.edu")
        cookie = session_cookie(reply)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert 'name="csrf_token"' in reply.get_data(as_text=True)
        refused = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
        assert refused.status_code == 400  # no token: CSRF is on in production
    finally:
        with app.app_context():
            db.engine.dispose()


def test_logging_out_takes_a_post(as_user):
    client = as_user("approver")
    assert client.get("/logout").status_code == 405
    assert client.get("/inbox").status_code == 200  # still logged in
    assert client.post("/logout").status_code == 302
    assert client.get("/inbox").status_code == 302  # to log in


# --- login attempts ------------------------------------------------------------------------


def test_an_unknown_username_and_a_wrong_password_get_the_same_answer(web):
    unknown = log_in(web.test_client(), "nobody", "demo2026")
    wrong = log_in(web.test_client(), "approver", "not-the-password")
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.get_data(as_text=True) and WRONG in wrong.get_data(as_text=True)


def test_too_many_failures_from_one_address_refuse_every_login_from_it_for_a_while(web):
    limit = web.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    client = web.test_client()
    for n in range(limit):
        assert log_in(client, f"guess{n}", "x", address="10.9.9.9").status_code == 200
    refused = log_in(client, "admin", address="10.9.9.9")
    assert refused.status_code == 429 and BLOCKED in refused.get_data(as_text=True)
    assert log_in(web.test_client(), "admin", address="10.0.0.2").status_code == 302
    later = datetime.now(UTC) + timedelta(minutes=web.config["LOGIN_WINDOW_MINUTES"] + 1)
    with time_machine.travel(later, tick=False):
        assert log_in(web.test_client(), "admin", address="10.9.9.9").status_code == 302


def test_the_failures_of_one_username_lock_it_from_every_address(web):
    for n in range(web.config["LOGIN_MAX_FAILURES_PER_USER"]):
        log_in(web.test_client(), "approver", "x", address=f"10.1.1.{n}")
    assert log_in(web.test_client(), "approver", address="10.2.2.2").status_code == 429
    assert log_in(web.test_client(), "applicant", address="10.2.2.2").status_code == 302


# --- deactivated accounts ------------------------------------------------------------------


def test_a_deactivated_account_loses_its_open_session(as_user, in_db):
    approver, admin = as_user("approver"), as_user("admin")
    user_id = in_db(lambda: find_user(db.session, "approver").id)
    assert admin.post(f"/admin/users/{user_id}/active", data={"active": "0"}).status_code == 302
    decide = select(HumanTask.id).where(HumanTask.task_name == DECIDE)
    task = in_db(lambda: db.session.scalar(decide))
    reply = approver.post(f"/tasks/{task}/decide", data={"decision": "approve"})
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/login")
    assert in_db(lambda: db.session.get(HumanTask, task).state) == TaskState.OPEN
    assert approver.get("/inbox").headers.get("Location", "").startswith("/login")


# --- ID numbers: whole for the card office and administrators only ---------------------------

#: The visitors of the demo temporary card request DEMO-LSK-1, whole and masked.
WHOLE = ("110108198506123015", "130203199203184525")
MASKED = ("1101**********3015", "1302**********4525")


def test_id_numbers_are_whole_for_the_card_office_and_admins_only(as_user, in_db):
    def certify():
        request = instance_id("DEMO-LSK-1")
        (task,) = runtime.open_tasks(db.session, request)
        decision = {"decision": "approve", "certified": True}
        tasks.complete(env_of("approver", datetime.now(UTC)), task.id, decision)
        (review,) = runtime.open_tasks(db.session, request)
        return request, review.id

    request, review = in_db(certify)
    pages = {login: as_user(login).get(f"/instances/{request}") for login in USERS}
    for login, reply in pages.items():
        page = reply.get_data(as_text=True)
        if login in ("cardoffice", "admin"):
            assert all(number in page for number in WHOLE), login
        elif login in ("applicant", "approver"):
            assert all(number in page for number in MASKED), login
            assert not any(number in page for number in WHOLE), login
        else:
            assert reply.status_code == 404, login
    clerk_task = as_user("cardoffice").get(f"/tasks/{review}").get_data(as_text=True)
    assert all(number in clerk_task for number in WHOLE)
    printed = as_user("applicant").get(f"/requests/{request}/print").get_data(as_text=True)
    assert MASKED[0] in printed and WHOLE[0] not in printed
