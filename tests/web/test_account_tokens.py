"""The API token page: a token made there is shown once (never in a URL, a flash or the
session, never on a later page), refused names stay on the page, one's own tokens are
revoked there, someone else's are not found, and every form carries its CSRF token."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.auth.accounts import find_user
from app.extensions import db
from tests.web.access_support import csrf_field, log_in
from workflows.apitokens import MAX_LIVE_TOKENS, ApiToken, issue_token, user_of_token

PLAIN = re.compile(r"cco_[A-Za-z0-9_-]{43}")


def count_tokens(in_db) -> int:
    return in_db(lambda: db.session.scalar(select(func.count()).select_from(ApiToken)))


def token_of(in_db, username: str, name: str = "报表脚本") -> tuple[int, str]:
    """The id and text of a new token of `username`."""

    def make():
        token, plain = issue_token(db.session, find_user(db.session, username), name, now())
        return token.id, plain

    return in_db(make)


def now() -> datetime:
    return datetime.now(UTC)


def revoked_at(in_db, token_id: int):
    return in_db(lambda: db.session.get(ApiToken, token_id).revoked_at)


def user_id_of(in_db, plain: str) -> int | None:
    """The id of the user the API would find for the token `plain`, if any."""
    return in_db(lambda: getattr(user_of_token(db.session, plain, now()), "id", None))


def test_the_account_menu_links_the_page(as_user):
    page = as_user("applicant").get("/").get_data(as_text=True)
    assert 'href="/account/tokens"' in page


def test_the_page_lists_ones_own_tokens_only(as_user, in_db):
    token_of(in_db, "applicant", "我的脚本")
    token_of(in_db, "approver", "别人的脚本")
    reply = as_user("applicant").get("/account/tokens")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "我的脚本" in page and "别人的脚本" not in page
    assert 'name="name"' in page and 'name="days"' in page


def test_a_new_token_is_shown_once_and_works(as_user, in_db):
    client = as_user("applicant")
    reply = client.post("/account/tokens", data={"name": "报表脚本", "days": "90"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 201
    assert reply.headers["Cache-Control"] == "no-store"
    (plain,) = set(PLAIN.findall(page))
    assert "只显示这一次" in page
    assert user_id_of(in_db, plain) == in_db(lambda: find_user(db.session, "applicant").id)
    later = client.get("/account/tokens").get_data(as_text=True)
    assert plain not in later and plain[:12] in later and "报表脚本" in later
    assert plain not in client.get_cookie("session").value
    assert plain not in client.get("/").get_data(as_text=True)  # no flash keeps it either


def test_the_validity_chosen_is_the_tokens(as_user, in_db):
    as_user("applicant").post("/account/tokens", data={"name": "一个月", "days": "30"})
    made, expires = in_db(lambda: db.session.execute(
        select(ApiToken.created_at, ApiToken.expires_at)
    ).one())  # fmt: skip
    assert (expires - made).days == 30


@pytest.mark.parametrize(
    "form",
    [{"name": "", "days": "30"}, {"name": "   "}, {"name": "x" * 81}, {"name": "a", "days": "7"}],
    ids=["empty", "blank", "too long", "no such validity"],
)
def test_a_refused_form_stays_on_the_page_and_makes_nothing(as_user, in_db, form):
    reply = as_user("applicant").post("/account/tokens", data=form)
    assert reply.status_code == 422
    assert not PLAIN.search(reply.get_data(as_text=True))
    assert count_tokens(in_db) == 0


def test_a_name_refused_says_why_beside_it(as_user):
    reply = as_user("applicant").post("/account/tokens", data={"name": " "})
    assert "令牌名称须为 1 至 80 个字符" in reply.get_data(as_text=True)


def test_the_21st_live_token_is_refused_on_the_page(as_user, in_db):
    for n in range(MAX_LIVE_TOKENS):
        token_of(in_db, "applicant", f"t{n}")
    reply = as_user("applicant").post("/account/tokens", data={"name": "再来一个"})
    assert reply.status_code == 422
    assert "最多持有 20 个有效令牌" in reply.get_data(as_text=True)
    assert count_tokens(in_db) == MAX_LIVE_TOKENS


def test_revoking_ones_own_token(as_user, in_db):
    token_id, plain = token_of(in_db, "applicant")
    client = as_user("applicant")
    reply = client.post(f"/account/tokens/{token_id}/revoke")
    assert reply.status_code == 302 and reply.headers["Location"] == "/account/tokens"
    assert revoked_at(in_db, token_id) is not None
    assert user_id_of(in_db, plain) is None
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "已吊销" in page and "令牌“报表脚本”已吊销" in page


def test_someone_elses_token_is_not_found_and_stays_live(as_user, in_db):
    token_id, plain = token_of(in_db, "approver")
    reply = as_user("applicant").post(f"/account/tokens/{token_id}/revoke")
    assert reply.status_code == 404
    assert revoked_at(in_db, token_id) is None
    assert user_id_of(in_db, plain) is not None


def test_an_administrator_revokes_anyones_token(as_user, in_db):
    token_id, _plain = token_of(in_db, "approver")
    assert as_user("admin").post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert revoked_at(in_db, token_id) is not None


@pytest.mark.parametrize("web_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_forms_need_the_pages_csrf_token(web, in_db, web_config):
    client = log_in(web.test_client(), "applicant")
    assert client.post("/account/tokens", data={"name": "脚本"}).status_code == 400
    token_id, _plain = token_of(in_db, "applicant")
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert count_tokens(in_db) == 1 and revoked_at(in_db, token_id) is None
    page = client.get("/account/tokens").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 3  # the menu's logout, the new token, a revoke
    made = client.post("/account/tokens", data={"name": "脚本", **csrf_field(page)})
    assert made.status_code == 201
    revoked = client.post(f"/account/tokens/{token_id}/revoke", data=csrf_field(page))
    assert revoked.status_code == 302 and revoked_at(in_db, token_id) is not None
