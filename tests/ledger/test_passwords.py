"""The query and consumption passwords (R06): initial values, salted hashes, change, reset."""

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    InvalidInput,
    NotFound,
    PasswordRequired,
    WrongPassword,
)
from ledger.models.accounts import CardAccount
from ledger.models.cards import CardState, Channel
from ledger.models.journal import JournalEntry
from ledger.models.people import IdType, PersonCategory
from ledger.ops.cards import report_loss
from ledger.ops.money import purchase
from ledger.ops.reissue import reissue_card
from ledger.ops.services import PasswordKind, change_password, reset_password
from ledger.passwords import hash_password, initial_password, verify_password
from tests.ledger.helpers import count, password_of

QUERY, CONSUME = PasswordKind.QUERY, PasswordKind.CONSUME


def hashes(card) -> tuple[str, str]:
    account = card.account
    return account.query_password_hash, account.consume_password_hash


@pytest.mark.parametrize(
    ("id_number", "password"),
    [
        ("110105199001011234", "011234"),
        ("11010519900101123X", "101123"),  # the X does not count
        ("11010519900101123x", "101123"),
        ("E12345678", "345678"),  # a passport
        ("G1234", "001234"),  # fewer than six digits: left-padded (decided)
    ],
)
def test_r06_initial_password_is_last_six_digits_without_x(id_number, password):
    assert initial_password(id_number) == password


def test_r06_new_card_starts_with_initial_passwords_stored_only_as_hashes(ctx, make):
    person = make.person(id_number="11010519900101123X")
    card = make.card(person=person)
    for stored in hashes(card):
        assert stored.startswith("scrypt$")
        assert "101123" not in stored
        assert verify_password("101123", stored)
        assert not verify_password("01123X", stored)


def test_r06_hashes_are_salted():
    first, second = hash_password("123456", 2**4), hash_password("123456", 2**4)
    assert first != second
    assert verify_password("123456", first) and verify_password("123456", second)


def test_r06_passport_holder_gets_padded_initial_password(ctx, make):
    person = make.person(
        PersonCategory.INTERNATIONAL_STUDENT, id_type=IdType.PASSPORT, id_number="G1234"
    )
    card = make.card(person=person)
    assert verify_password("001234", card.account.query_password_hash)


@pytest.mark.parametrize("which", [QUERY, CONSUME])
def test_r06_holder_changes_a_password_with_the_old_one(ctx, make, which):
    card = make.card()
    initial = password_of(card)
    other_before = hashes(card)[1 if which == QUERY else 0]
    assert change_password(ctx, card.card_no, which, initial, "258369")["changed"] == which
    query_hash, consume_hash = hashes(card)
    changed, other = (query_hash, consume_hash) if which == QUERY else (consume_hash, query_hash)
    assert verify_password("258369", changed) and not verify_password(initial, changed)
    assert "258369" not in changed
    assert other == other_before  # the other password is untouched


def test_r06_changed_query_password_guards_self_service(ctx, make):
    card = make.card()
    change_password(ctx, card.card_no, QUERY, password_of(card), "147258")
    with pytest.raises(WrongPassword):
        report_loss(ctx, card.card_no, Channel.WEB, query_password=password_of(card))
    assert report_loss(ctx, card.card_no, Channel.WEB, query_password="147258")["state"] == (
        CardState.LOST
    )


def test_r06_r07_changed_consumption_password_guards_spending_above_the_limit(ctx, make):
    card = make.card(balance=20000)
    canteen = make.terminal()
    change_password(ctx, card.card_no, CONSUME, password_of(card), "369258")
    with pytest.raises(PasswordRequired):
        purchase(ctx, card.card_no, canteen, 6000)
    with pytest.raises(WrongPassword):
        purchase(
            ctx,
            card.card_no,
            canteen,
            6000,
            consume_password=password_of(card),
        )
    assert purchase(ctx, card.card_no, canteen, 6000, consume_password="369258")["balance"] == (
        14000
    )
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("which", [QUERY, CONSUME])
def test_r06_wrong_old_password_changes_nothing(ctx, make, which):
    card = make.card()
    before = hashes(card)
    with pytest.raises(WrongPassword) as refused:
        change_password(ctx, card.card_no, which, "000000", "258369")
    assert refused.value.message("zh") == "密码错误"
    assert refused.value.message("en") == "Wrong password"
    ctx.session.expire_all()
    assert hashes(card) == before


@pytest.mark.parametrize("new", ["12345", "1234567", "abcdef", "12 345", "", None])
def test_r06_new_password_is_six_digits(ctx, make, new):
    card = make.card()
    before = hashes(card)
    with pytest.raises(InvalidInput) as refused:
        change_password(ctx, card.card_no, QUERY, password_of(card), new)
    assert "6 位数字" in refused.value.message("zh")
    ctx.session.expire_all()
    assert hashes(card) == before


@pytest.mark.parametrize("which", [QUERY, CONSUME])
def test_r06_counter_resets_a_forgotten_password_to_the_initial_one(ctx, make, which):
    card = make.card()
    initial = password_of(card)
    for kind in (QUERY, CONSUME):
        change_password(ctx, card.card_no, kind, initial, "975310")
    assert reset_password(ctx, card.card_no, which) == {"card_no": card.card_no, "reset": which}
    query_hash, consume_hash = hashes(card)
    reset, kept = (query_hash, consume_hash) if which == QUERY else (consume_hash, query_hash)
    assert verify_password(initial, reset) and not verify_password("975310", reset)
    assert verify_password("975310", kept)


@pytest.mark.parametrize("end", ["reissued", "lost"])
def test_r06_r15_only_an_active_card_changes_the_accounts_password(ctx, make, end):
    """A card voided by a reissue shares its account with the new card; a lost card may be
    in a finder's hands."""
    old = make.card()
    if end == "reissued":
        reissue_card(ctx, old.card_no)
    else:
        report_loss(ctx, old.card_no, Channel.COUNTER)
    initial = password_of(old)
    before = hashes(old)
    with pytest.raises(CardNotActive):
        change_password(ctx, old.card_no, QUERY, initial, "258369")
    ctx.session.expire_all()
    assert hashes(old) == before


def test_r06_password_operations_write_no_journal(ctx, make):
    card = make.card(balance=1000)
    entries = count(ctx, JournalEntry)
    change_password(ctx, card.card_no, QUERY, password_of(card), "111222")
    reset_password(ctx, card.card_no, QUERY)
    assert count(ctx, JournalEntry) == entries


@pytest.mark.parametrize(
    "operation",
    [
        lambda ctx: change_password(ctx, "0000000000", QUERY, "123456", "654321"),
        lambda ctx: reset_password(ctx, "0000000000", CONSUME),
    ],
    ids=["change", "reset"],
)
def test_password_operations_on_unknown_card_are_not_found(ctx, operation):
    stored = ctx.session.scalars(select(CardAccount.query_password_hash)).all()
    with pytest.raises(NotFound):
        operation(ctx)
    assert ctx.session.scalars(select(CardAccount.query_password_hash)).all() == stored
