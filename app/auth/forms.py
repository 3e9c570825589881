"""The login form, the form that changes one's own password and the one that makes a personal
API token (Flask-WTF, so they carry the CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from workflows.apitokens import NAME_MAX

#: The shortest password a user may choose (as an administrator's, app.admin.forms).
MIN_PASSWORD = 8
MAX_PASSWORD = 128


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(
        _l("用户名"), validators=[DataRequired(message=_l("请输入用户名")), Length(max=64)]
    )
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))])


class PasswordForm(FlaskForm):
    """The current password, and the new one twice."""

    min_length = MIN_PASSWORD

    current = PasswordField(_l("当前密码"), validators=[DataRequired(message=_l("请输入当前密码"))])
    new = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(message=_l("请输入新密码")),
            # WTForms puts in the limits.
            Length(MIN_PASSWORD, MAX_PASSWORD, message=_l("新密码须为 %(min)d 至 %(max)d 个字符")),
        ],
    )
    repeat = PasswordField(
        _l("再次输入新密码"),
        validators=[
            DataRequired(message=_l("请再次输入新密码")),
            EqualTo("new", message=_l("两次输入的新密码不一致")),
        ],
    )


#: How long a new API token may be valid, in days (the longest first: the default).
TOKEN_DAYS = (365, 90, 30)


class TokenForm(FlaskForm):
    """A new API token: the user's name for it and how many days it is valid. The name is
    checked by workflows.apitokens.issue_token, the one place that knows the rule."""

    name = StringField(_l("令牌名称"), render_kw={"maxlength": NAME_MAX})
    days = RadioField(
        _l("有效期"),
        coerce=int,
        choices=[SelectChoice(days, _l("%(days)s 天", days=days)) for days in TOKEN_DAYS],
        default=TOKEN_DAYS[0],
    )
