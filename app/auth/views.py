"""GET/POST /login, POST /logout and GET/POST /account/password (one's own password)."""

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth.accounts import authenticate, check_password, set_password
from app.auth.forms import LoginForm, PasswordForm
from app.extensions import db
from app.uow import unit_of_work
from app.urls import safe_next
from app.web import now
from workflows import webstate

bp = Blueprint("auth", __name__)


def _next_page() -> str:
    return safe_next(request.args.get("next")) or url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; with a right username and password, log in and go to `next`.
    Too many failures for a username or from an address refuse further tries for a while."""
    if current_user.is_authenticated:
        return redirect(_next_page())
    form = LoginForm()
    if form.validate_on_submit():
        username, address = form.username.data, request.remote_addr or "-"
        with unit_of_work():
            if _blocked(username, address):
                return _too_many_failures("auth/login.html", form)
            user = authenticate(form.username.data, form.password.data)
            if user is None:
                webstate.record_failed_login(db.session, username, address, now())
            else:
                webstate.clear_failed_logins(db.session, username)
        if user is not None:
            _open_session(user)
            return redirect(_next_page())
        flash(_("用户名或密码错误。"), "error")
    return render_template("auth/login.html", form=form)


def _open_session(user) -> None:
    """Log `user` in for PERMANENT_SESSION_LIFETIME since their last request (shared
    counter PCs: an unattended session ends)."""
    session.permanent = True
    login_user(user)


def _too_many_failures(template: str, form):
    minutes = _window_minutes()
    flash(_("登录失败次数过多，请 %(minutes)s 分钟后再试。", minutes=minutes), "error")
    return render_template(template, form=form), 429


def _window_minutes() -> int:
    return current_app.config["LOGIN_WINDOW_MINUTES"]


def _blocked(username: str, address: str) -> bool:
    config = current_app.config
    return webstate.login_blocked(
        db.session, username, address, now(), timedelta(minutes=_window_minutes()),
        config["LOGIN_MAX_FAILURES_PER_USER"], config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    )  # fmt: skip


@bp.post("/logout")
def logout():
    """Log out (a POST, so a link on another site cannot do it) and go to the login page.
    The user's session token changes, so a copy of the session cookie no longer works."""
    if current_user.is_authenticated:
        with unit_of_work():
            current_user.end_sessions()
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password: the current one, the new one twice. The user's other
    sessions end; this one goes on. A wrong current password counts as a failed login."""
    form, user = PasswordForm(), current_user._get_current_object()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form), 422 if form.is_submitted() else 200
    address = request.remote_addr or "-"
    with unit_of_work():
        if _blocked(user.username, address):
            return _too_many_failures("auth/password.html", form)
        right = check_password(user, form.current.data)
        if right:
            set_password(user, form.new.data)
        else:
            webstate.record_failed_login(db.session, user.username, address, now())
    if not right:
        form.current.errors.append(_("当前密码不正确"))
        return render_template("auth/password.html", form=form), 422
    _open_session(user)
    flash(_("密码已修改。"), "success")
    return redirect(url_for("main.index"))
