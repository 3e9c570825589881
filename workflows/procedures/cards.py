"""Card reissue (R03, R15-R17) and cancellation (R14, R18) at the counter: the checks that end
a request the card system shows to be wrong (the department is told why), the reissue and
the cancellation themselves, and a reissue request that nobody came to the counter for.

The checks only read; the ledger operations check again under their locks, so a card that
changes in between makes an incident rather than a wrong posting.
"""

from ledger.errors import Conflict
from ledger.models.cards import STATE_ZH, Card, CardState, CardType, Channel
from ledger.ops.closing import cancel_card
from ledger.ops.common import lock_card, yuan
from ledger.ops.reissue import REISSUABLE, reissue_card
from workflows.context import Env
from workflows.procedures.common import (
    Problems,
    checked,
    find_card,
    tell_department,
    unknown_card,
    verdict,
)
from workflows.registry import action

CANCELLABLE = (CardState.ACTIVE, CardState.LOST, CardState.EXPIRED)
#: R14: who may take the balance in cash at the counter, by card type (graduates are cancelled
#: in bulk and refunded to their subsidy bank card: they have nothing to file).
LEAVING_FOR = {
    CardType.STUDENT: "withdrawn",
    CardType.STAFF: "left",
    CardType.EMPLOYEE: "left",
    CardType.TEMPORARY: "stay_ended",
}
LAPSE_DAYS = 30


def _same_id(number: str | None, other: str) -> bool:
    """ID numbers compare case-insensitively: a resident ID's check character may be x or X."""
    return (number or "").upper() == other.upper()


def _delegate_problems(card: Card, delegate: dict | None) -> Problems:
    if delegate and _same_id(delegate["id_number"], card.person.id_number):
        return [("代办人不能是持卡人本人", "the delegate cannot be the holder")]
    return []


def _found(card: Card, problems: Problems) -> dict:
    """The verdict, with what the counter needs to see of the card when it passed: a request
    that fails (another department's card, say) does not learn its holder or balance."""
    if problems:
        return verdict(problems)
    account = card.account
    return verdict(
        problems,
        card_type=card.card_type.value,
        state=card.state.value,
        holder=card.person.name,
        holder_id=card.person.masked_id,
        balance=account.purse.balance + account.transitional.balance,
    )


@action("cards.check_reissue", inert=True)
def check_reissue(
    env: Env,
    instance_id: int,
    card_no: str,
    department_id: int | None = None,
    delegate: dict | None = None,
) -> dict:
    """R15, R16: the card exists and is active or lost; a department files only for its own
    people (R20); a delegate is not the holder. Its type decides the fee (R03)."""
    card = find_card(env, card_no)
    if card is None:
        return checked(env, instance_id, unknown_card(card_no))
    problems = _delegate_problems(card, delegate)
    if card.state not in REISSUABLE:
        state = STATE_ZH[card.state]
        problems.append(
            (
                f"该卡状态为“{state}”，只有正常或挂失的卡可以补办",
                f"the card is {card.state.value}; only active or lost cards are reissued",
            )
        )
    if department_id is not None and card.person.department_id != department_id:
        problems.append(("持卡人不是本单位人员", "the holder is not the department's"))
    if card.expires_on is not None and card.expires_on < env.today:
        problems.append(("临时卡已过期，请先申请延期", "the temporary card has expired"))
    return checked(env, instance_id, _found(card, problems))


@action("cards.check_fee", inert=True)
def check_fee(env: Env, instance_id: int, card_no: str, fee: int, fee_from_balance: bool) -> dict:
    """R03, R08: a fee taken from the balance needs that much on the card."""
    balance = find_card(env, card_no).account.purse.balance
    problems = []
    if fee_from_balance and balance < fee:
        problems.append(
            (
                f"卡内余额 {yuan(balance)} 元不足以支付工本费 {yuan(fee)} 元，请改用现金",
                f"the balance of {yuan(balance)} yuan does not cover the {yuan(fee)} yuan fee",
            )
        )
    return checked(env, instance_id, verdict(problems, fee=fee, balance=balance))


@action("cards.reissue")
def reissue(
    env: Env,
    instance_id: int,
    card_no: str,
    fee: int,
    fee_from_balance: bool = False,
    new_card_no: str | None = None,
    delegate: dict | None = None,
) -> dict:
    """R15-R17: the new card carries the account and balance, the old one is void at once; a
    delegate's identity and evidence are recorded. The department hears the new number."""
    done = reissue_card(
        env.ledger_ctx(),
        card_no,
        channel=Channel.COUNTER,
        fee_from_balance=fee_from_balance,
        new_card_no=new_card_no or None,
        delegate=delegate or None,
        fee=fee,
    )
    tell_department(
        env, instance_id, "reissued",
        f"卡号 {card_no} 已补办，新卡号 {done['card_no']}，原卡作废；补办当天新卡不能在图书馆、"
        "校医院、校车上使用，次日起可正常使用",
        f"Card {card_no} was replaced by {done['card_no']}, the old card is void; the new card "
        "works at the library, hospital and bus from tomorrow",
    )  # fmt: skip
    return done


@action("cards.lapse", inert=True)
def lapse(env: Env, instance_id: int, card_no: str) -> dict:
    """Nobody came to the counter within LAPSE_DAYS: the request lapses; the card stays as it
    is (a lost card stays lost)."""
    tell_department(
        env, instance_id, "lapsed",
        f"卡号 {card_no} 的补办申请 {LAPSE_DAYS} 日内无人到卡务中心（中油大厦A座105室）办理，"
        "已作废",
        f"Nobody came to the counter within {LAPSE_DAYS} days to replace card {card_no}; the "
        "request lapsed",
    )  # fmt: skip
    return {"card_no": card_no, "state": "lapsed"}


def _state_problems(card: Card) -> Problems:
    if card.state == CardState.FROZEN:
        return [("冻结的卡须先解除冻结，才能注销", "a frozen card is cancelled once unfrozen")]
    if card.state not in CANCELLABLE:
        state = STATE_ZH[card.state]
        return [(f"该卡状态为“{state}”，不能注销", f"the card is {card.state.value}")]
    return []


def _leaving_problems(card: Card, reason: str, card_presented: bool) -> Problems:
    problems = []
    if LEAVING_FOR[card.card_type] != reason:
        problems.append(
            (
                "离校原因与卡类型不符：柜台只为退学学生、离职教职工和离校临时人员注销并退还余额；"
                "毕业生校园卡统一注销，余额离校后退至发放补助的银行卡，无需办理",
                "the counter cancels for withdrawing students, leaving staff and temporary "
                "holders; graduates' cards are cancelled in bulk and refunded to their bank card",
            )
        )
    needs_card = card.card_type != CardType.TEMPORARY and card.state != CardState.LOST
    if needs_card and not card_presented:
        problems.append(("注销须交回校园卡", "the card must be handed in"))
    return problems


def _cancelling_delegate_problems(env: Env, card: Card, delegate: dict | None) -> Problems:
    """R18: a delegate brings their own campus card, unless the card is a temporary one."""
    problems = _delegate_problems(card, delegate)
    if not delegate or card.card_type == CardType.TEMPORARY:
        return problems
    own = find_card(env, delegate.get("card_no"))
    usable = (
        own is not None
        and _same_id(delegate["id_number"], own.person.id_number)
        and own.state == CardState.ACTIVE
        and (own.expires_on is None or own.expires_on >= env.today)
    )
    if not usable:
        problems.append(
            (
                "代办人须出示本人有效的校园卡（卡号须为代办人本人的）",
                "the delegate shows their own valid campus card",
            )
        )
    return problems


def cancellation_problems(
    env: Env, card: Card, reason: str, card_presented: bool, delegate: dict | None
) -> Problems:
    """R14, R18: what stands in the way of cancelling `card` at the counter: its state, the
    leaving reason against its type, the card handed in, a delegate's own card."""
    problems = _state_problems(card)
    problems += _leaving_problems(card, reason, card_presented)
    return problems + _cancelling_delegate_problems(env, card, delegate)


@action("cards.check_cancellation", inert=True)
def check_cancellation(
    env: Env,
    instance_id: int,
    card_no: str,
    reason: str,
    card_presented: bool = False,
    delegate: dict | None = None,
) -> dict:
    """R14, R18: the card exists and is active, lost or expired (a frozen card waits for the
    freeze to be lifted); the counter pays out where R14 allows; the card is handed in
    (a temporary or lost one excepted); a delegate is not the holder and shows their own
    card. Shows the balance to pay out."""
    card = find_card(env, card_no)
    if card is None:
        return checked(env, instance_id, unknown_card(card_no))
    problems = cancellation_problems(env, card, reason, card_presented, delegate)
    return checked(env, instance_id, _found(card, problems))


@action("cards.cancel")
def cancel(
    env: Env, card_no: str, expected: int | None = None, delegate: dict | None = None
) -> dict:
    """R18, R14: cancel the card and pay its whole balance in cash; a delegate is recorded.

    `expected` is the balance the check showed and the clerk handed over: the card is locked
    first, and a balance that moved since (a purchase before the counter step) is a Conflict,
    so the request becomes an incident and nothing is paid out. Instances started on a
    definition that does not pass it (None) are paid what the ledger holds."""
    ctx = env.ledger_ctx()
    card = lock_card(ctx, card_no)
    account = card.account
    balance = account.purse.balance + account.transitional.balance
    if expected is not None and balance != expected:
        raise Conflict(
            reason_zh=f"卡内余额已由核验时的 {yuan(expected)} 元变为 {yuan(balance)} 元，"
            "请撤销本申请后重新受理",
            reason_en=f"the balance moved from {yuan(expected)} to {yuan(balance)} yuan since "
            "the check; cancel this request and file it again",
        )
    return cancel_card(ctx, card_no, delegate=delegate or None)
