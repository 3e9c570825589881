"""A session ends when it should: on logout (a copy of its cookie no longer works), when the
password changes (an administrator's reset, or one's own), after 8 hours without a request,
and for a session cookie of the old kind (the user id alone)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.auth.accounts import find_user
from app.demo import DEMO_PASSWORD
from app.extensions import db


def sent_to_log_in(reply) -> bool:
    """Whether the reply sends the visitor to the login page."""
    return reply.status_code == 302 and reply.headers["Location"].startswith("/login")


def copy_of_session(web, client):
    """Another client (another browser) holding a copy of `client`'s session cookie."""
    other = web.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def user_id(in_db, username: str) -> int:
    return in_db(lambda: find_user(db.session, username).id)


def test_a_session_cookie_copied_before_logout_no_longer_works_after_it(web, as_user):
    client = as_user("approver")
    copy = copy_of_session(web, client)
    assert copy.get("/inbox").status_code == 200
    assert sent_to_log_in(client.post("/logout"))
    assert sent_to_log_in(copy.get("/inbox"))


def test_logging_in_again_after_logout_works(as_user):
    client = as_user("approver")
    client.post("/logout")
    client.post("/login", data={"username": "approver", "password": DEMO_PASSWORD})
    assert client.get("/inbox").status_code == 200


def test_after_an_administrators_password_reset_the_old_session_is_refused(as_user, in_db):
    approver, admin = as_user("approver"), as_user("admin")
    assert approver.get("/inbox").status_code == 200
    reset = {"password": "a-new-password-1"}
    reply = admin.post(f"/admin/users/{user_id(in_db, 'approver')}/password", data=reset)
    assert reply.status_code == 302
    assert sent_to_log_in(approver.get("/inbox"))
    as_user("approver", "a-new-password-1")


def test_changing_ones_password_keeps_this_session_and_ends_the_others(web, as_user):
    here = as_user("approver")
    elsewhere = as_user("approver")
    change = {"current": DEMO_PASSWORD, "new": "a-new-password-1", "repeat": "a-new-password-1"}
    assert here.post("/account/password", data=change).status_code == 302
    assert here.get("/inbox").status_code == 200
    assert sent_to_log_in(elsewhere.get("/inbox"))


def test_a_login_lasts_8_hours_after_the_last_request(web, as_user):
    assert web.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    client = as_user("approver")
    start = datetime.now(UTC)
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        assert client.get("/inbox").status_code == 200  # renews the cookie
    with time_machine.travel(start + timedelta(hours=14), tick=False):
        assert client.get("/inbox").status_code == 200
    with time_machine.travel(start + timedelta(hours=22, minutes=1), tick=False):
        assert sent_to_log_in(client.get("/inbox"))


def test_the_session_cookie_expires_8_hours_after_the_last_request(as_user):
    client = as_user("approver")
    client.get("/inbox")
    left = client.get_cookie("session").expires - datetime.now(UTC)
    assert timedelta(hours=7, minutes=59) < left <= timedelta(hours=8)


@pytest.mark.parametrize("session_id", ["{id}", "{id}:", "{id}:not-the-token", "{id}:令牌"])
def test_a_session_without_the_users_token_is_refused(web, in_db, session_id):
    client = web.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id.format(id=user_id(in_db, "approver"))
        session["_fresh"] = True
    assert sent_to_log_in(client.get("/inbox"))
