"""How the admin (and merchant) pages show things: campus times, instance statuses, audit
actions, and links to an instance's page."""

from datetime import datetime

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from app.engine import engine_config
from workflows.models import InstanceStatus

S = InstanceStatus
STATUS_LABELS = {
    S.RUNNING: _l("审批中"),
    S.RETURNED: _l("已退回"),
    S.SUSPENDED: _l("已挂起"),
    S.INCIDENT: _l("自动处理失败"),
    S.COMPLETED: _l("已办结"),
    S.WITHDRAWN: _l("已撤回"),
    S.TERMINATED: _l("已终止"),
}
ACTION_LABELS = {
    "start": _l("发起"),
    "claim": _l("认领"),
    "unclaim": _l("取消认领"),
    "approve": _l("同意"),
    "reject": _l("驳回"),
    "complete": _l("办理"),
    "sign": _l("加签人签署"),
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
    "report": _l("报告"),
}


def local_time(moment: datetime | None) -> str:
    """An aware moment on the campus clock, to the minute ("2026-03-18 14:05")."""
    if moment is None:
        return ""
    return moment.astimezone(engine_config().ledger.zone).strftime("%Y-%m-%d %H:%M")


def status_label(status) -> str:
    """An instance status in the UI language."""
    return str(STATUS_LABELS.get(status, status))


def action_label(action: str) -> str:
    """An audit action in the UI language (the action itself if it has no label)."""
    return str(ACTION_LABELS.get(action, action))


def instance_url(instance_id: int) -> str:
    """The instance's page (`instances.show`), as the URL contract names it."""
    if "instances.show" in current_app.view_functions:
        return url_for("instances.show", instance_id=instance_id)
    return f"/instances/{instance_id}"


def display_helpers() -> dict:
    """The helpers above, for a blueprint's templates."""
    return {
        "local_time": local_time,
        "status_label": status_label,
        "action_label": action_label,
        "instance_url": instance_url,
    }
