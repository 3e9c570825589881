"""GET/POST /login and POST /logout."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from app.auth.accounts import authenticate
from app.auth.forms import LoginForm

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: no scheme, no host, no '//' or
    backslash that a browser could read as another host, no control characters."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _next_page() -> str:
    return safe_next(request.args.get("next")) or url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; with a right username and password, log in and go to `next`."""
    if current_user.is_authenticated:
        return redirect(_next_page())
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_next_page())
        flash("用户名或密码错误。", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """Log out (a POST, so a link on another site cannot do it) and go to the login page."""
    logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for("auth.login"))
