"""The login form (Flask-WTF, so it carries the CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(
        _l("用户名"), validators=[DataRequired(message=_l("请输入用户名")), Length(max=64)]
    )
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))])
