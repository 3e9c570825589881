"""The administrator's forms: a new user, a role grant, a new password, a reason."""

from marshmallow import fields, validate

from forms.common import FormSchema, bilingual, meta
from workflows.identity import Role

#: Decided: a password set by an administrator has at least this many characters.
MIN_PASSWORD = 8


def password_field(zh: str, en: str) -> fields.String:
    """A password of MIN_PASSWORD to 128 characters."""
    error = bilingual(f"密码须为 {MIN_PASSWORD} 至 128 个字符", f"{MIN_PASSWORD}-128 characters")
    return fields.String(
        required=True, validate=validate.Length(min=MIN_PASSWORD, max=128, error=error),
        metadata=meta(zh, en),
    )  # fmt: skip


class NewUserForm(FormSchema):
    """An account: its login name, the name the UI shows, its first password."""

    username = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9_.-]{2,64}$",
            error=bilingual(
                "用户名须为 2 至 64 位字母、数字或 _ . -", "2-64 letters, digits, _ . -"
            ),
        ),
        metadata=meta("用户名", "Username"),
    )
    display_name = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=100, error=bilingual("须为 1 至 100 字", "1-100 characters")
        ),
        metadata=meta("显示名称", "Display name"),
    )
    password = password_field("初始密码", "Initial password")


class GrantForm(FormSchema):
    """A role, for one department or (none chosen) for every department."""

    role = fields.String(
        required=True,
        validate=validate.OneOf([role.value for role in Role]),
        metadata=meta("角色", "Role", widget="select"),
    )
    department_id = fields.Integer(
        load_default=None,
        metadata=meta(
            "部门", "Department", widget="select",
            help_zh="不选表示全校所有部门", help_en="none chosen: every department",
        ),
    )  # fmt: skip


class PasswordForm(FormSchema):
    """A new password for a user who forgot theirs."""

    password = password_field("新密码", "New password")


def _username_field(zh: str, en: str, help_zh: str, help_en: str) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=64, error=bilingual("请填写用户名", "a username")),
        metadata=meta(zh, en, help_zh=help_zh, help_en=help_en),
    )


class DelegationForm(FormSchema):
    """A substitute named for a user who cannot name one (fell ill, say), for some days."""

    username = _username_field(
        "外出人（用户名）", "Absent user (username)", "其待办由代理人处理",
        "Whose tasks the substitute takes",
    )  # fmt: skip
    substitute = _username_field(
        "代理人（用户名）", "Substitute (username)", "须为启用的账号",
        "An active account",
    )  # fmt: skip
    starts_on = fields.Date(required=True, metadata=meta("开始日期", "From"))
    ends_on = fields.Date(
        required=True,
        metadata=meta("结束日期", "Until", help_zh="含当天", help_en="the day included"),
    )
