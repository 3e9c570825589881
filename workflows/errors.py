"""The engine's domain errors; `app/` maps each `status` to HTTP and shows the message."""

from ledger.errors import DomainError, InvalidInput, NotAllowed, NotFound

__all__ = [
    "DomainError",
    "FormInvalid",
    "InvalidBpmn",
    "InvalidInput",
    "NotAllowed",
    "NotFound",
    "StaleInstance",
    "TaskNotReady",
    "UrgedTooOften",
    "WrongInstanceState",
]


class InvalidBpmn(DomainError):
    status = 422
    code = "invalid_bpmn"
    zh = "流程文件 {file} 第 {line} 行无效：{reason}；未部署任何内容"
    en = "Process file {file}, line {line} is invalid: {reason}; nothing was deployed"


class StaleInstance(DomainError):
    status = 409
    code = "stale_instance"
    zh = "申请 {business_key} 已被他人处理，请刷新后重试"
    en = "Request {business_key} was changed by someone else; reload and try again"


class TaskNotReady(DomainError):
    status = 409
    code = "task_not_ready"
    zh = "任务“{title}”已{state_zh}，不能再处理"
    en = "Task '{title}' is {state}; it cannot be acted on"


class WrongInstanceState(DomainError):
    status = 409
    code = "wrong_instance_state"
    zh = "申请 {business_key} 当前状态为“{status_zh}”，不能{action_zh}"
    en = "Request {business_key} is {status}; it cannot be {action_en}"


class UrgedTooOften(DomainError):
    status = 429
    code = "urged_too_often"
    zh = "申请 {business_key} 一小时内只能催办一次，请于 {next_at} 后再试"
    en = "Request {business_key} can be urged once an hour; try again after {next_at}"


class FormInvalid(DomainError):
    """Form data failed its marshmallow schema; `errors` maps field to messages."""

    status = 422
    code = "form_invalid"
    zh = "表单“{form}”填写有误：{fields}"
    en = "The form '{form}' has errors: {fields}"

    def __init__(self, form: str, errors: dict):
        self.errors = errors
        super().__init__(form=form, fields=", ".join(sorted(map(str, errors))))
