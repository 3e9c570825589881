"""How every part of the site names and shows the engine's things in the user's language:
processes, instance statuses, audit actions and states, steps and who holds them, campus
times, file sizes, departments, and a filed form's data under its schema's labels."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.accounts import find_user
from app.engine import engine_config
from app.formfields import ChoiceSource
from app.i18n import current_language, pick
from app.web import shown_id_number
from forms import get_form
from forms.choices import choice_label
from ledger.models.people import Department
from workflows import runtime, spiff
from workflows.context import Env
from workflows.identity import Role
from workflows.models import InstanceStatus, ProcessDefinition, ProcessInstance, TaskKind

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

#: The statuses of an instance (workflows.runtime.STATUS_ZH).
STATUS_LABELS = {
    InstanceStatus.RUNNING: _l("审批中"),
    InstanceStatus.RETURNED: _l("已退回"),
    InstanceStatus.SUSPENDED: _l("已挂起"),
    InstanceStatus.INCIDENT: _l("自动处理失败"),
    InstanceStatus.COMPLETED: _l("已办结"),
    InstanceStatus.WITHDRAWN: _l("已撤回"),
    InstanceStatus.TERMINATED: _l("已终止"),
}

#: Every action recorded on an instance's audit trail (audit.record's `action`).
ACTION_LABELS = {
    "start": _l("提交申请"),
    "claim": _l("认领"),
    "unclaim": _l("取消认领"),
    "approve": _l("同意"),
    "reject": _l("驳回"),
    "complete": _l("办理"),
    "sign": _l("加签人同意"),
    "return": _l("退回"),
    "resubmit": _l("重新提交"),
    "transfer": _l("转交"),
    "add_signer_before": _l("前加签"),
    "add_signer_after": _l("后加签"),
    "withdraw": _l("撤回"),
    "urge": _l("催办"),
    "copy": _l("抄送"),
    "comment": _l("评论"),
    "suspend": _l("挂起"),
    "resume": _l("恢复"),
    "terminate": _l("终止"),
    "incident": _l("自动处理失败"),
    "retry": _l("重试"),
    "timer": _l("定时触发"),
    "report": _l("上报非本单位人员"),
    "attach": _l("上传附件"),
}

#: The other words audit rows use for a state (the rest are the names of the waiting steps).
_STATE_WORDS = {"started": _l("已提交"), "waiting": _l("等待中")}

_FORMATS = {"day": "%Y-%m-%d", "minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S"}


def process_name(process_id: str, fallback: str = "") -> str:
    """The process's name in the UI language (`fallback`, the definition's name, if unknown)."""
    known = PROCESSES.get(process_id)
    return str(known[0]) if known else fallback or process_id


def process_description(process_id: str) -> str:
    """What the process is for, in the UI language ("" if unknown)."""
    known = PROCESSES.get(process_id)
    return str(known[1]) if known else ""


def process_choices(session: Session) -> list[tuple[str, str]]:
    """(process id, name) of every deployed process, by name: for filters."""
    query = select(ProcessDefinition.process_id, ProcessDefinition.name).order_by(
        ProcessDefinition.process_id, ProcessDefinition.version
    )
    newest = dict(session.execute(query).all())  # the last version of each wins
    return sorted(((pid, process_name(pid, name)) for pid, name in newest.items()),
                  key=lambda item: item[1])  # fmt: skip


def status_label(status) -> str:
    """An instance status in the UI language (the value itself if it has no label)."""
    label = STATUS_LABELS.get(status)  # a StrEnum key is its value
    return str(label) if label is not None else str(status)


def action_label(action: str) -> str:
    """An audit action in the UI language (the recorded name if it has no label)."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def state_label(state: str | None) -> str:
    """A state an audit row records, in the UI language: a status, or the waiting steps."""
    if not state:
        return ""
    label = STATUS_LABELS.get(state) or _STATE_WORDS.get(state)
    return str(label) if label is not None else state


def step_title(title: str, kind: TaskKind = TaskKind.TASK) -> str:
    """A task's step as pages name it, in the UI language: its BPMN name through the `bpmn`
    catalog (a return to the applicant has no BPMN name)."""
    return str(_l("修改后重新提交")) if kind == TaskKind.RESUBMIT else _(title)


def task_label(row) -> str:
    """A task as messages name it: its request's business key and its step."""
    return f"{row.business_key} {step_title(row.title)}"


def holder(assignee: str | None, role: Role | None, department: str | None) -> str:
    """Who holds a task: the person it is assigned to, else its role in its department
    ("全校": in every department)."""
    if assignee:
        return assignee
    if role is None:
        return ""
    return _(
        "%(role)s（%(department)s）",
        role=Role(role).label(current_language()), department=department or _("全校"),
    )  # fmt: skip


def campus_moment(moment: datetime | None) -> datetime | None:
    """`moment` (stored in UTC, naive on SQLite) on the campus clock (Asia/Shanghai)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(engine_config().ledger.zone)


def campus_time(moment: datetime | None, to: str = "minute") -> str:
    """`moment` on the campus clock, to the "day", "minute" or "second": "2026-11-27 14:05"."""
    local = campus_moment(moment)
    return local.strftime(_FORMATS[to]) if local else ""


def file_size(size: int) -> str:
    """A byte count as people read it: 512 B, 12.3 KB, 4.5 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def departments(session: Session) -> list[Department]:
    """Every department, by code."""
    return list(session.scalars(select(Department).order_by(Department.code)))


def department_names(session: Session) -> dict[int, str]:
    """{department id: its name in the UI language}."""
    return {d.id: pick(d, "name") for d in departments(session)}


def department_source(session: Session) -> ChoiceSource:
    """Choices for the forms' `*department_id` fields: every department (read once)."""
    options: list[tuple[str, str]] = []

    def source(key: str) -> list[tuple[str, str]] | None:
        if not key.endswith("department_id"):
            return None
        if not options:
            options.extend((str(d.id), pick(d, "name")) for d in departments(session))
        return options

    return source


# --- a filed form's data, read only -----------------------------------------------------

#: The name of a department from its id (None if unknown).
DepartmentName = Callable[[int], str | None]


@dataclass
class Shown:
    """One field of the data: a value (`text`), a group (`children`) or a table."""

    label: str
    text: str = ""
    children: list["Shown"] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def start_data(env: Env, instance: ProcessInstance, workflow=None) -> dict:
    """The request's start form data as it stands (resubmissions included)."""
    workflow = workflow or runtime.open_workflow(env, instance)
    return dict(spiff.start_task(workflow).data)


def request_data(session: Session, instance: ProcessInstance, data: Mapping) -> list[Shown]:
    """The request's start form `data` under the form's labels (none without a form)."""
    form = instance.definition.start_form
    if not form:
        return []
    return shown_data(get_form(form), data, department_names(session).get)


def shown_data(schema: Schema, data: Mapping, department_name: DepartmentName) -> list[Shown]:
    """The fields of `schema` that `data` fills, in the schema's order, nested groups and
    tables included: choices by their labels, departments by their names, ID numbers
    masked as the user may see them."""
    result = []
    for key, obj in schema.fields.items():
        value = data.get(key)
        if _empty(value):
            continue
        item = Shown(label=_label(obj, key))
        if isinstance(obj, fields.Nested) and isinstance(value, Mapping):
            item.children = shown_data(obj.schema, value, department_name)
        elif isinstance(obj, fields.List) and isinstance(obj.inner, fields.Nested):
            inner = obj.inner.schema
            item.columns = [_label(o, k) for k, o in inner.fields.items()]
            item.rows = [_row(inner, row, department_name) for row in value]
        else:
            item.text = _text(key, obj, value, department_name)
        result.append(item)
    return result


def _row(schema: Schema, row, department_name: DepartmentName) -> list[str]:
    row = row if isinstance(row, Mapping) else {}
    return [
        "" if _empty(row.get(k)) else _text(k, o, row.get(k), department_name)
        for k, o in schema.fields.items()
    ]


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _label(obj: fields.Field, key: str) -> str:
    meta = obj.metadata
    return meta.get(f"label_{current_language()}") or meta.get("label_zh") or key


def _text(key: str, obj: fields.Field, value, department_name: DepartmentName) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(_text(key, obj, v, department_name) for v in value)
    if key.endswith("id_number"):
        return shown_id_number(str(value))
    if key.endswith("department_id") and str(value).isdigit():
        return department_name(int(value)) or str(value)
    if _has_choices(obj):
        return choice_label(value, current_language())
    return str(value)


def _has_choices(obj: fields.Field) -> bool:
    if isinstance(obj, fields.List):
        obj = obj.inner
    validators = obj.validators if isinstance(obj.validators, list) else [obj.validate]
    return any(isinstance(v, validate.OneOf) for v in validators)


def register_display(app) -> None:
    """Give every template the helpers above."""
    app.jinja_env.globals.update(
        {
            "process_name": process_name,
            "process_description": process_description,
            "status_label": status_label,
            "action_label": action_label,
            "state_label": state_label,
            "step_title": step_title,
            "campus_time": campus_time,
            "campus_moment": campus_moment,
            "file_size": file_size,
        }
    )


def actor_name(session: Session, actor: str) -> str:
    """Who the ledger recorded as acting ("user:cardoffice"), by their display name and login:
    卡务中心柜员（cardoffice）; the record as it is if no such user exists."""
    username = actor.removeprefix("user:")
    user = find_user(session, username)
    return _("%(what)s（%(detail)s）", what=user.display_name, detail=username) if user else actor
