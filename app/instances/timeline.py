"""The audit timeline of an instance in the UI language: what each recorded action is called,
and the states an entry moved the request between."""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflows.models import AuditEntry, HumanTask, InstanceStatus, TaskKind

#: Every action `workflows` records on an instance (audit.record's `action`), and attach.
ACTION_LABELS = {
    "start": _l("提交申请"),
    "claim": _l("认领"),
    "unclaim": _l("取消认领"),
    "complete": _l("办理"),
    "approve": _l("同意"),
    "reject": _l("驳回"),
    "sign": _l("加签人同意"),
    "return": _l("退回"),
    "resubmit": _l("重新提交"),
    "withdraw": _l("撤回"),
    "transfer": _l("转交"),
    "add_signer_before": _l("加签（前）"),
    "add_signer_after": _l("加签（后）"),
    "copy": _l("抄送"),
    "comment": _l("评论"),
    "urge": _l("催办"),
    "timer": _l("定时触发"),
    "incident": _l("自动处理失败"),
    "retry": _l("重试"),
    "suspend": _l("挂起"),
    "resume": _l("恢复"),
    "terminate": _l("终止"),
    "report": _l("上报非本单位人员"),
    "attach": _l("上传附件"),
}

#: The statuses of an instance (workflows.runtime.STATUS_ZH), for badges and the timeline.
STATUS_LABELS = {
    InstanceStatus.RUNNING: _l("审批中"),
    InstanceStatus.RETURNED: _l("已退回"),
    InstanceStatus.SUSPENDED: _l("已挂起"),
    InstanceStatus.INCIDENT: _l("自动处理失败"),
    InstanceStatus.COMPLETED: _l("已办结"),
    InstanceStatus.WITHDRAWN: _l("已撤回"),
    InstanceStatus.TERMINATED: _l("已终止"),
}

#: The other words audit rows use for a state (the rest are the names of the waiting steps).
_STATE_WORDS = {"started": _l("已提交"), "waiting": _l("等待中")}


@dataclass(frozen=True)
class Event:
    """One row of the timeline as the page shows it."""

    seq: int
    at: datetime
    actor: str
    on_behalf_of: str
    action: str
    label: str
    step: str
    comment: str
    before: str
    after: str


def action_label(action: str) -> str:
    """The action's name in the UI language (the recorded name if it has none)."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def state_label(state: str | None) -> str:
    """A recorded state in the UI language: a status, or the waiting steps' names."""
    if not state:
        return ""
    label = STATUS_LABELS.get(state) or _STATE_WORDS.get(state)  # a StrEnum key is its value
    return str(label) if label is not None else state


def step_title(title: str, kind: TaskKind) -> str:
    """A task's step as the page names it (a return to the applicant has no BPMN name)."""
    return str(_l("修改后重新提交")) if kind == TaskKind.RESUBMIT else title


def timeline(session: Session, instance_id: int, zone: ZoneInfo) -> list[Event]:
    """The instance's audit rows in order, with times on the campus clock."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.instance_id == instance_id)
        .options(selectinload(AuditEntry.actor), selectinload(AuditEntry.on_behalf_of))
        .order_by(AuditEntry.seq)
    )
    rows = select(HumanTask.id, HumanTask.title, HumanTask.kind).where(
        HumanTask.instance_id == instance_id
    )
    steps = {key: step_title(title, kind) for key, title, kind in session.execute(rows)}
    return [_event(entry, steps, zone) for entry in session.scalars(query)]


def _event(entry: AuditEntry, steps: dict[int, str], zone: ZoneInfo) -> Event:
    return Event(
        seq=entry.seq,
        at=local_time(entry.at, zone),
        actor=entry.actor.display_name if entry.actor else str(_l("系统")),
        on_behalf_of=entry.on_behalf_of.display_name if entry.on_behalf_of else "",
        action=entry.action,
        label=action_label(entry.action),
        step=steps.get(entry.human_task_id, ""),
        comment=entry.comment or "",
        before=state_label(entry.state_before),
        after=state_label(entry.state_after),
    )


def local_time(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """`moment` (stored in UTC, naive on SQLite) on the campus clock."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)
