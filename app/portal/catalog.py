"""What the portal knows about the processes a user may file: their names and descriptions in
both languages, the statuses of a request, the departments a user files for, and the
readable business keys of new requests."""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import current_language, pick
from ledger.errors import InvalidInput
from ledger.models.people import Department
from workflows.context import DEFAULT_ENGINE_CONFIG
from workflows.identity import User
from workflows.models import InstanceStatus, ProcessDefinition, ProcessInstance

#: process id -> (name, what it is for); `ProcessDefinition.name` is the Chinese name only.
PROCESSES = {
    "temporary_card": (
        _l("临时卡申请"),
        _l("为本单位临时聘用人员、短期访问学者等申请临时校园卡"),
    ),
    "temporary_card_extension": (
        _l("临时卡延期"),
        _l("延长本单位临时卡的有效期（最长自今日起一年）"),
    ),
    "card_reissue": (_l("补办校园卡"), _l("校园卡遗失或损坏时补办新卡")),
    "card_cancellation": (_l("校园卡注销"), _l("持卡人离校时注销校园卡并退还余额")),
    "forced_termination": (
        _l("校园卡强制终止"),
        _l("按名单终止毕业、退学、离职等人员的校园卡，可上传名单文件"),
    ),
    "merchant_onboarding": (_l("商户接入"), _l("新商户接入，或为商户增加、迁移终端")),
    "merchant_revocation": (_l("商户撤销"), _l("撤销商户的校园卡收款资格")),
}
STATUS_LABELS = {
    InstanceStatus.RUNNING: _l("审批中"),
    InstanceStatus.RETURNED: _l("已退回"),
    InstanceStatus.SUSPENDED: _l("已挂起"),
    InstanceStatus.INCIDENT: _l("自动处理失败"),
    InstanceStatus.COMPLETED: _l("已办结"),
    InstanceStatus.WITHDRAWN: _l("已撤回"),
    InstanceStatus.TERMINATED: _l("已终止"),
}
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


def process_name(process_id: str, fallback: str = "") -> str:
    """The process's name in the UI language (`fallback`, the definition's name, if unknown)."""
    known = PROCESSES.get(process_id)
    return str(known[0]) if known else fallback or process_id


def process_description(process_id: str) -> str:
    """What the process is for, in the UI language ("" if unknown)."""
    known = PROCESSES.get(process_id)
    return str(known[1]) if known else ""


def status_label(status: InstanceStatus) -> str:
    """A request's status in the UI language."""
    return str(STATUS_LABELS[InstanceStatus(status)])


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest version of every deployed process, by process id."""
    newest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    query = select(ProcessDefinition).join(
        newest,
        (ProcessDefinition.process_id == newest.c.process_id)
        & (ProcessDefinition.version == newest.c.v),
    )
    return list(session.scalars(query.order_by(ProcessDefinition.process_id)))


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


def department_choices(session: Session) -> list[tuple[str, str]]:
    """Every department as (id, name in the UI language), for `*department_id` fields."""
    name = Department.name_en if current_language() == "en" else Department.name_zh
    rows = session.execute(select(Department.id, name).order_by(Department.code))
    return [(str(dept_id), text) for dept_id, text in rows]


def department_source(session: Session):
    """A formfields ChoiceSource: the departments for any field named `*department_id`."""
    cached: list = []

    def source(key: str):
        if not key.endswith("department_id"):
            return None
        if not cached:
            cached.extend(department_choices(session))
        return cached

    return source


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


def campus_time(moment: datetime | None, with_time: bool = True) -> str:
    """`moment` on the campus clock (Asia/Shanghai), as 2026-11-27 14:05 or 2026-11-27."""
    if moment is None:
        return ""
    local = moment.astimezone(DEFAULT_ENGINE_CONFIG.ledger.zone)
    return f"{local:%Y-%m-%d %H:%M}" if with_time else f"{local:%Y-%m-%d}"


def template_helpers() -> dict:
    """What the portal's templates call: names and labels in the UI language, campus time."""
    return {
        "process_name": process_name,
        "process_description": process_description,
        "status_label": status_label,
        "statuses": list(STATUS_LABELS),
        "campus_time": campus_time,
    }
