"""What the portal knows about the processes a user may file: which ones, the departments a
user files for, and the readable business keys of new requests."""

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.display import PROCESSES
from app.i18n import pick
from ledger.errors import InvalidInput
from workflows.deploy import latest_definitions
from workflows.identity import User
from workflows.models import ProcessDefinition, ProcessInstance

#: The first part of each process's business keys (initials of its Chinese name).
KEY_PREFIXES = {
    "temporary_card": "LSK",
    "temporary_card_extension": "YQ",
    "card_reissue": "BB",
    "card_cancellation": "ZX",
    "forced_termination": "QZZZ",
    "merchant_onboarding": "SHJR",
    "merchant_revocation": "SHCX",
}
OTHER_PREFIX = "SQ"


def may_file(user: User, definition: ProcessDefinition) -> bool:
    """Whether `user` holds one of the roles that file `definition` (in any department)."""
    return any(user.has_role(role) for role in definition.start_roles)


def fileable(session: Session, user: User) -> list[ProcessDefinition]:
    """The processes `user` may file, newest versions, in the order of PROCESSES."""
    order = {pid: i for i, pid in enumerate(PROCESSES)}
    found = [d for d in latest_definitions(session) if may_file(user, d)]
    return sorted(found, key=lambda d: (order.get(d.process_id, len(order)), d.process_id))


@dataclass(frozen=True)
class DepartmentOption:
    """A department the user may file for: its id (None: for every department) and name."""

    id: int | None
    name: str

    @property
    def value(self) -> str:
        """The option's form value ("" for every department)."""
        return "" if self.id is None else str(self.id)


def department_options(user: User, definition: ProcessDefinition) -> list[DepartmentOption]:
    """The departments of the user's grants of the roles that file `definition`, each once."""
    options: dict[int | None, DepartmentOption] = {}
    for grant in user.grants:
        if grant.role in definition.start_roles and grant.department_id not in options:
            name = pick(grant.department, "name") if grant.department else _("全校")
            options[grant.department_id] = DepartmentOption(grant.department_id, name)
    return list(options.values())


def chosen_department(options: list[DepartmentOption], posted: str | None) -> int | None:
    """The department the form chose among `options` (the only one if there is one);
    InvalidInput if it chose none of them."""
    if len(options) == 1:
        return options[0].id
    for option in options:
        if option.value == (posted or "").strip():
            return option.id
    raise InvalidInput(reason_zh="请选择申请部门", reason_en="choose the filing department")


def next_business_key(session: Session, process_id: str, today: date) -> str:
    """The next readable business key of `process_id` on the campus day `today`.

    Keys read like ``LSK-20261127-0007``: the process's prefix (KEY_PREFIXES, the initials
    of its Chinese name), the campus day of filing, and the next number of that process on
    that day (four digits, one more than the day's highest). They can be read out over the
    phone, sort by filing day, and are unique per process (a unique constraint). Two people
    filing at the same moment may be given the same number: the second start fails on the
    constraint and is retried with the next number (see `app.portal.filing`). A day holds
    up to 9999 requests of one process.
    """
    prefix = f"{KEY_PREFIXES.get(process_id, OTHER_PREFIX)}-{today:%Y%m%d}-"
    highest = session.scalar(
        select(func.max(ProcessInstance.business_key)).where(
            ProcessInstance.process_id == process_id,
            ProcessInstance.business_key.like(f"{prefix}%"),
        )
    )
    suffix = highest[len(prefix) :] if highest else ""
    number = int(suffix) + 1 if suffix.isdigit() else 1
    return f"{prefix}{number:04d}"


def key_in_use(session: Session, process_id: str, business_key: str) -> bool:
    """Whether `process_id` already has a request with `business_key`."""
    query = select(ProcessInstance.id).where(
        ProcessInstance.process_id == process_id, ProcessInstance.business_key == business_key
    )
    return session.scalar(query) is not None
