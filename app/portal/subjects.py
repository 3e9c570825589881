"""Whom or what a request is about: in Chinese for the title stored with the request (titles
are data, like the processes' names), in the user's language for the drafts list."""

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import gettext as _


class SubjectKind(StrEnum):
    """What a form's data names."""

    NAME = "name"  # one person, or a merchant, by name
    PEOPLE = "people"  # the first of several people, and how many
    CARD = "card"  # a card number
    MERCHANT = "merchant"  # a merchant code


@dataclass(frozen=True)
class Subject:
    """Whom or what a form is about: its kind, the name or number, how many people."""

    kind: SubjectKind
    text: str
    count: int = 1


def subject_of(data: dict) -> Subject | None:
    """What the form's `data` is about: the first person listed (and how many), a
    merchant's name, a card or a merchant code; None if it names none yet."""
    for value in data.values():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            first = value[0].get("name")
            if first:
                kind = SubjectKind.NAME if len(value) == 1 else SubjectKind.PEOPLE
                return Subject(kind, str(first), len(value))
    for value in data.values():
        if isinstance(value, dict) and value.get("name"):
            return Subject(SubjectKind.NAME, str(value["name"]))
    if data.get("card_no"):
        return Subject(SubjectKind.CARD, str(data["card_no"]))
    if data.get("merchant_code"):
        return Subject(SubjectKind.MERCHANT, str(data["merchant_code"]))
    return None


def stored_subject(subject: Subject) -> str:
    """The subject in Chinese, as the request's stored title says it: "马文博等 2 人",
    "卡号 20260001", "商户 MARKET", "学苑超市"."""
    if subject.kind == SubjectKind.PEOPLE:
        return f"{subject.text}等 {subject.count} 人"
    if subject.kind == SubjectKind.CARD:
        return f"卡号 {subject.text}"
    if subject.kind == SubjectKind.MERCHANT:
        return f"商户 {subject.text}"
    return subject.text


def shown_subject(data: dict) -> str:
    """What the form's `data` is about, in the user's language; "" if it names none yet."""
    subject = subject_of(data)
    if subject is None:
        return ""
    if subject.kind == SubjectKind.PEOPLE:
        return _("%(name)s等 %(n)s 人", name=subject.text, n=subject.count)
    if subject.kind == SubjectKind.CARD:
        return _("卡号 %(card_no)s", card_no=subject.text)
    if subject.kind == SubjectKind.MERCHANT:
        return _("商户 %(code)s", code=subject.text)
    return subject.text


def request_title(name: str, data: dict) -> str:
    """The request's stored title: the process's name and whom or what it is about, as
    "临时卡申请：马文博等 2 人", "临时卡延期：卡号 20260001" or "商户接入：学苑超市"."""
    subject = subject_of(data)
    return f"{name}：{stored_subject(subject)}" if subject else name
