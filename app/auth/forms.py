"""The login form and the form that changes one's own password (Flask-WTF, so they carry the
CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

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
