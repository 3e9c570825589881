"""GET/POST /login and POST /logout."""

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.auth.accounts import authenticate
from app.auth.forms import LoginForm
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
                minutes = _window_minutes()
                message = _("登录失败次数过多，请 %(minutes)s 分钟后再试。", minutes=minutes)
                flash(message, "error")
                return render_template("auth/login.html", form=form), 429
            user = authenticate(form.username.data, form.password.data)
            if user is None:
                webstate.record_failed_login(db.session, username, address, now())
            else:
                webstate.clear_failed_logins(db.session, username)
        if user is not None:
            login_user(user)
            return redirect(_next_page())
        flash(_("用户名或密码错误。"), "error")
    return render_template("auth/login.html", form=form)


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
    """Log out (a POST, so a link on another site cannot do it) and go to the login page."""
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))
