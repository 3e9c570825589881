"""Personal API tokens: made with a name and a validity, kept hashed, found by their text
while live and their user active, revoked by their owner or an administrator."""

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput, NotFound
from tests.conftest import NOW
from workflows.apitokens import (
    MAX_DAYS,
    MAX_LIVE_TOKENS,
    ApiToken,
    InvalidTokenName,
    TooManyTokens,
    issue_token,
    revoke_token,
    tokens_of,
    user_of_token,
)
from workflows.identity import Role, User


@pytest.fixture
def owner(make_user):
    return make_user(Role.APPLICANT, name="owner")


def test_a_token_is_stored_as_its_hash_never_as_its_text(db_session, owner):
    token, plain = issue_token(db_session, owner, "  报表脚本  ", NOW)
    assert plain.startswith("cco_") and len(plain) > 40
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert token.prefix == plain[:12] and token.name == "报表脚本"
    assert (token.created_at, token.expires_at) == (NOW, NOW + timedelta(days=365))
    assert token.last_used_at is None and token.revoked_at is None
    row = db_session.execute(select(ApiToken.__table__)).one()
    assert plain not in [str(value) for value in row]


def test_each_token_is_new(db_session, owner):
    (first, one), (second, two) = (issue_token(db_session, owner, n, NOW) for n in "ab")
    assert one != two and first.token_hash != second.token_hash


def test_a_token_may_never_expire_or_last_some_days(db_session, owner):
    forever, _ = issue_token(db_session, owner, "永久", NOW, days=None)
    month, _ = issue_token(db_session, owner, "一个月", NOW, days=30)
    assert forever.expires_at is None and month.expires_at == NOW + timedelta(days=30)
    for days in (0, -1, MAX_DAYS + 1):
        with pytest.raises(InvalidInput):
            issue_token(db_session, owner, "不行", NOW, days=days)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_a_token_needs_a_name_of_1_to_80_characters(db_session, owner, name):
    with pytest.raises(InvalidTokenName) as refused:
        issue_token(db_session, owner, name, NOW)
    assert refused.value.status == 422
    assert "80" in refused.value.message("zh") and "80" in refused.value.message("en")
    assert tokens_of(db_session, owner) == []


def test_a_name_of_80_characters_is_taken(db_session, owner):
    token, _ = issue_token(db_session, owner, "名" * 80, NOW)
    assert token.name == "名" * 80


def test_the_21st_live_token_is_refused_until_one_is_revoked_or_expires(db_session, owner):
    made = [issue_token(db_session, owner, f"t{n}", NOW)[0] for n in range(MAX_LIVE_TOKENS - 1)]
    issue_token(db_session, owner, "short", NOW, days=30)
    with pytest.raises(TooManyTokens) as refused:
        issue_token(db_session, owner, "one more", NOW)
    assert refused.value.status == 409 and "20" in refused.value.message("zh")
    revoke_token(db_session, owner, made[0].id, NOW)
    issue_token(db_session, owner, "instead of t0", NOW)
    # Thirty-one days on, the short one has expired and no longer counts.
    issue_token(db_session, owner, "instead of short", NOW + timedelta(days=31))
    assert len(tokens_of(db_session, owner)) == MAX_LIVE_TOKENS + 2


def test_the_limit_is_per_user(db_session, owner, make_user):
    for n in range(MAX_LIVE_TOKENS):
        issue_token(db_session, owner, f"t{n}", NOW)
    other = make_user(Role.APPLICANT)
    issue_token(db_session, other, "mine", NOW)


def test_a_live_token_finds_its_user(db_session, owner):
    _token, plain = issue_token(db_session, owner, "脚本", NOW)
    assert user_of_token(db_session, plain, NOW + timedelta(days=364)) is owner


@pytest.mark.parametrize("plain", ["", "cco_", "cco_nonsense", "not a token"])
def test_an_unknown_token_finds_nobody(db_session, owner, plain):
    issue_token(db_session, owner, "脚本", NOW)
    assert user_of_token(db_session, plain, NOW) is None


def test_a_token_hash_is_not_a_token(db_session, owner):
    token, plain = issue_token(db_session, owner, "脚本", NOW)
    assert user_of_token(db_session, token.token_hash, NOW) is None
    assert user_of_token(db_session, plain[:-1], NOW) is None


def test_a_revoked_token_finds_nobody(db_session, owner):
    token, plain = issue_token(db_session, owner, "脚本", NOW)
    revoke_token(db_session, owner, token.id, NOW + timedelta(hours=1))
    assert user_of_token(db_session, plain, NOW + timedelta(hours=1)) is None
    assert token.revoked_at == NOW + timedelta(hours=1)


def test_an_expired_token_finds_nobody(db_session, owner):
    _token, plain = issue_token(db_session, owner, "脚本", NOW, days=30)
    assert user_of_token(db_session, plain, NOW + timedelta(days=30, seconds=-1)) is owner
    assert user_of_token(db_session, plain, NOW + timedelta(days=30)) is None


def test_the_token_of_a_deactivated_user_finds_nobody(db_session, owner):
    _token, plain = issue_token(db_session, owner, "脚本", NOW)
    owner.active = False
    assert user_of_token(db_session, plain, NOW) is None
    owner.active = True
    assert user_of_token(db_session, plain, NOW) is owner


def test_the_last_use_is_noted_at_most_once_a_minute(db_session, owner):
    token, plain = issue_token(db_session, owner, "脚本", NOW)
    user_of_token(db_session, plain, NOW)
    assert token.last_used_at == NOW
    user_of_token(db_session, plain, NOW + timedelta(seconds=59))
    assert token.last_used_at == NOW
    user_of_token(db_session, plain, NOW + timedelta(seconds=60))
    assert token.last_used_at == NOW + timedelta(seconds=60)


def test_a_refused_token_notes_no_use(db_session, owner):
    token, plain = issue_token(db_session, owner, "脚本", NOW, days=1)
    user_of_token(db_session, plain, NOW + timedelta(days=2))
    assert token.last_used_at is None


def test_revoking_twice_keeps_the_first_revocation(db_session, owner):
    token, _ = issue_token(db_session, owner, "脚本", NOW)
    revoke_token(db_session, owner, token.id, NOW)
    again = revoke_token(db_session, owner, token.id, NOW + timedelta(days=1))
    assert again is token and token.revoked_at == NOW


def test_nobody_revokes_someone_elses_token_but_an_admin(db_session, owner, make_user):
    token, plain = issue_token(db_session, owner, "脚本", NOW)
    other = make_user((Role.DEPT_APPROVER, None), Role.CARD_OFFICE)
    with pytest.raises(NotFound):
        revoke_token(db_session, other, token.id, NOW)
    assert token.revoked_at is None and user_of_token(db_session, plain, NOW) is owner
    admin = make_user(Role.ADMIN)
    revoke_token(db_session, admin, token.id, NOW)
    assert user_of_token(db_session, plain, NOW) is None


def test_revoking_a_token_that_does_not_exist_is_not_found(db_session, owner):
    with pytest.raises(NotFound):
        revoke_token(db_session, owner, 999_999, NOW)


def test_tokens_of_lists_a_users_own_newest_first(db_session, owner, make_user):
    older, _ = issue_token(db_session, owner, "旧", NOW)
    newer, _ = issue_token(db_session, owner, "新", NOW + timedelta(minutes=1))
    revoke_token(db_session, owner, older.id, NOW)
    issue_token(db_session, make_user(Role.APPLICANT), "别人的", NOW)
    assert tokens_of(db_session, owner) == [newer, older]


def test_a_token_made_while_another_is_being_made_waits_to_count(committed_engine):
    """The limit holds for tokens made at once: the second waits for the first to commit
    before it counts the user's live tokens."""
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two counts can overlap")
    with Session(committed_engine) as session, session.begin():
        user = User(username="racer", display_name="并发", password_hash="-")
        session.add(user)
        session.flush()
        user_id = user.id
    made = []

    def make_second() -> None:
        with Session(committed_engine) as second, second.begin():
            made.append(issue_token(second, second.get(User, user_id), "second", NOW))

    with Session(committed_engine) as first, first.begin():
        issue_token(first, first.get(User, user_id), "first", NOW)
        thread = threading.Thread(target=make_second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive() and made == []  # waiting for the first's lock
    thread.join(timeout=30)
    assert len(made) == 1
