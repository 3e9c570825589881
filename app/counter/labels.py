"""What the counter calls the ledger's values (categories, card types and states, journal
entry kinds, refund routes), in the user's language."""

from flask_babel import lazy_gettext as _l

from app.i18n import current_language
from forms.choices import choice_label
from ledger.models.cards import CardState, CardType
from ledger.models.journal import EntryKind
from ledger.models.money import RefundRoute
from ledger.models.people import PersonCategory

C, T, S, E = PersonCategory, CardType, CardState, EntryKind
# By type: two enums may share a value ("employee" is a category and a card type).
LABELS = {
    PersonCategory: {
        C.FACULTY: _l("在编教职工"),
        C.POSTDOC: _l("博士后"),
        C.RETIREE: _l("离退休人员"),
        C.AGENCY_STAFF: _l("人事代理人员"),
        C.EXTERNAL_EXPERT: _l("外聘专家"),
        C.EMPLOYEE: _l("职员（员工）"),
        C.UNDERGRADUATE: _l("本科生"),
        C.POSTGRADUATE: _l("研究生"),
        C.INTERNATIONAL_STUDENT: _l("留学生"),
        C.OTHER: _l("临时人员"),
    },
    CardType: {
        T.STAFF: _l("职工卡"),
        T.EMPLOYEE: _l("员工卡"),
        T.STUDENT: _l("学生卡"),
        T.TEMPORARY: _l("临时卡"),
    },
    CardState: {
        S.ACTIVE: _l("正常"),
        S.LOST: _l("已挂失"),
        S.FROZEN: _l("冻结"),
        S.EXPIRED: _l("过期"),
        S.REPLACED: _l("已补办作废"),
        S.CANCELLED: _l("已注销"),
        S.TERMINATED: _l("已强制终止"),
    },
    EntryKind: {
        E.CARD_FEE: _l("工本费"),
        E.TOPUP_CASH: _l("现金充值"),
        E.TOPUP_BANK: _l("银行圈存"),
        E.TOPUP_WECHAT: _l("微信充值（过渡余额）"),
        E.CLAIM_TRANSITIONAL: _l("过渡余额入卡"),
        E.PURCHASE: _l("消费"),
        E.HOLD: _l("水控预扣"),
        E.HOLD_SETTLE: _l("预扣结算"),
        E.NETWORK_FEE: _l("网费"),
        E.CLOSE_ACCOUNT: _l("销户转待退款"),
        E.REFUND_PAYOUT: _l("退款支付"),
        E.SETTLEMENT: _l("商户结算"),
        E.ADJUSTMENT: _l("调账退回"),
    },
    RefundRoute: {
        RefundRoute.CASH: _l("柜台现金"),
        RefundRoute.BANK: _l("退至银行卡"),
        RefundRoute.CLAIMANT: _l("合法领取人领取"),
    },
}

#: Why a refund is owed (Refund.reason): a cancellation, or a termination's reason.
REFUND_REASONS = {
    "cancelled": _l("持卡人注销"),
    "graduated": _l("毕业"),
    "withdrawn": _l("退学"),
    "left": _l("离职"),
    "breach": _l("违规使用"),
    "missing": _l("失踪"),
    "deceased": _l("死亡"),
}


def refund_reason(reason: str) -> str:
    """Why a refund is owed, in the user's language."""
    return str(REFUND_REASONS.get(reason, reason))


def label(value) -> str:
    """The name of a ledger value (an enum member above, or a form choice such as 'lost' or
    'resident_id') in the user's language; anything else as it is."""
    if value is None:
        return ""
    found = LABELS.get(type(value), {}).get(value)
    return str(found) if found is not None else choice_label(str(value), current_language())
