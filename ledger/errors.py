"""Domain errors: one base class, each error with a code, an HTTP-ish status and a message
in simplified Chinese and English. Nothing here knows HTTP; `app/` maps `status`."""


class DomainError(Exception):
    """Base of every error the product reports to a user."""

    status = 400
    code = "domain_error"
    zh = "操作无法完成"
    en = "The operation cannot be completed"

    def __init__(self, **params):
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh") -> str:
        """The message in `lang` ('zh...' gives Chinese, anything else English)."""
        template = self.zh if lang.lower().startswith("zh") else self.en
        return template.format(**self.params)


class NotFound(DomainError):
    status = 404
    code = "not_found"
    zh = "未找到{what_zh}：{key}"
    en = "No {what_en} found: {key}"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    zh = "输入无效：{reason_zh}"
    en = "Invalid input: {reason_en}"


class InvalidAmount(DomainError):
    status = 422
    code = "invalid_amount"
    zh = "金额无效：须为 1 分至 {max_yuan} 元之间的整数分"
    en = "Invalid amount: must be a whole number of fen from 0.01 to {max_yuan} yuan"


class InsufficientBalance(DomainError):
    status = 409
    code = "insufficient_balance"
    zh = "余额不足：余额 {balance_yuan} 元，需要 {amount_yuan} 元"
    en = "Insufficient balance: {balance_yuan} yuan available, {amount_yuan} yuan needed"


class CardNotActive(DomainError):
    status = 409
    code = "card_not_active"
    zh = "卡片 {card_no} 当前状态为“{state_zh}”，不能办理此业务"
    en = "Card {card_no} is {state}; this operation is not possible"


class CardExpired(DomainError):
    status = 409
    code = "card_expired"
    zh = "卡片 {card_no} 已于 {expires_on} 到期"
    en = "Card {card_no} expired on {expires_on}"


class TransitionNotAllowed(DomainError):
    status = 409
    code = "transition_not_allowed"
    zh = "卡片 {card_no} 不能从“{from_zh}”变为“{to_zh}”"
    en = "Card {card_no} cannot go from {from_state} to {to_state}"


class OneCardPerPerson(DomainError):
    status = 409
    code = "one_card_per_person"
    zh = "一人一卡：{name} 已有可用卡片 {card_no}"
    en = "One person, one card: {name} already holds usable card {card_no}"


class PasswordRequired(DomainError):
    status = 401
    code = "password_required"
    zh = "超过当日消费限额，请输入消费密码"
    en = "Above the daily limit: the consumption password is required"


class WrongPassword(DomainError):
    status = 401
    code = "wrong_password"
    zh = "密码错误"
    en = "Wrong password"


class NotAllowed(DomainError):
    status = 403
    code = "not_allowed"
    zh = "不允许：{reason_zh}"
    en = "Not allowed: {reason_en}"


class IdempotencyConflict(DomainError):
    status = 422
    code = "idempotency_conflict"
    zh = "幂等键 {key} 已用于另一笔不同的请求"
    en = "Idempotency key {key} was already used for a different request"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    zh = "无法办理：{reason_zh}"
    en = "Cannot proceed: {reason_en}"
