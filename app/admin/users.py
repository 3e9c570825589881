"""Users, their roles per department, and everyone's substitutions (代理)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from app.admin import accounts, bp, queries
from app.admin.forms import DelegationForm, GrantForm, NewUserForm, PasswordForm
from app.auth.accounts import create_user, find_user, grant_role
from app.display import departments
from app.formfields import describe, flat_errors, parse
from app.i18n import current_language, pick
from app.web import env, perform, perform_and_tell, requires
from ledger.errors import DomainError
from ledger.models.people import Department
from workflows import away
from workflows.identity import Role

NEW_USER, GRANT, PASSWORD = NewUserForm(), GrantForm(), PasswordForm()
DELEGATION = DelegationForm()


@bp.get("/admin/users")
@requires(Role.ADMIN)
def users():
    """Every user, with their roles; narrowed by username or name."""
    q = request.args.get("q", "").strip()
    return render_template("admin/users.html", users=queries.users(env().session, q), q=q)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_user():
    """Create an account (username, display name, first password); roles follow on its page."""
    errors, values = {}, dict(request.form)
    if request.method == "POST":
        try:
            data = NEW_USER.load(parse(NEW_USER, request.form))
            user = perform(
                create_user, env().session, data["username"], data["password"], data["display_name"]
            )
        except ValidationError as exc:
            errors = flat_errors(exc.messages)
        except DomainError as exc:
            errors = {"_schema": exc.message(current_language())}
        else:
            flash(_("已创建用户 %(name)s，请为其授予角色。", name=user.username), "success")
            return redirect(url_for("admin.user", user_id=user.id))
    values.pop("password", None)
    fields = describe(NEW_USER, values, errors)
    status = 422 if errors else 200
    return render_template("admin/new_user.html", fields=fields, errors=errors), status


@bp.get("/admin/users/<int:user_id>")
@requires(Role.ADMIN)
def user(user_id: int):
    """A user's account: state, roles with revoke, a grant form, a password reset."""
    return _user_page(user_id)


def _user_page(user_id: int, grant_errors=None, password_errors=None, status: int = 200):
    session = env().session
    account = accounts.get_user(session, user_id)
    lang = current_language()

    def choices(key: str):
        if key == "role":
            return [(role.value, role.label(lang)) for role in Role]
        if key == "department_id":
            return [(str(d.id), f"{d.code} {pick(d, 'name')}") for d in departments(session)]
        return None

    grant_values = dict(request.form) if grant_errors else {}
    return render_template(
        "admin/user.html",
        account=account,
        grant_fields=describe(GRANT, grant_values, grant_errors or {}, choices),
        grant_errors=grant_errors or {},
        password_fields=describe(PASSWORD, {}, password_errors or {}),
        password_errors=password_errors or {},
    ), status


@bp.post("/admin/users/<int:user_id>/active")
@requires(Role.ADMIN)
def set_active(user_id: int):
    """Activate (active=1) or deactivate (active=0) the account."""
    active = request.form.get("active") == "1"
    done = _("账号已启用。") if active else _("账号已停用，该用户不能再登录。")
    perform_and_tell(accounts.set_active, env(), user_id, active, done=done)
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/grants")
@requires(Role.ADMIN)
def grant(user_id: int):
    """Grant a role for one department or for all."""
    try:
        data = GRANT.load(parse(GRANT, request.form))
        code = _department_code(data["department_id"])
        account = accounts.get_user(env().session, user_id)
        perform(grant_role, env().session, account, data["role"], code)
    except ValidationError as exc:
        return _user_page(user_id, grant_errors=flat_errors(exc.messages), status=422)
    except DomainError as exc:
        errors = {"_schema": exc.message(current_language())}
        return _user_page(user_id, grant_errors=errors, status=exc.status)
    flash(_("已授予角色。"), "success")
    return redirect(url_for("admin.user", user_id=user_id))


def _department_code(department_id: int | None) -> str | None:
    """The code of the chosen department, None for every department."""
    if department_id is None:
        return None
    found = env().session.get(Department, department_id)
    if found is None:
        raise ValidationError({"department_id": [_("未知部门")]})
    return found.code


@bp.post("/admin/users/<int:user_id>/grants/<int:grant_id>/revoke")
@requires(Role.ADMIN)
def revoke(user_id: int, grant_id: int):
    """Take one role grant away."""
    perform_and_tell(accounts.revoke_role, env(), user_id, grant_id, done=_("已撤销角色。"))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/password")
@requires(Role.ADMIN)
def reset_password(user_id: int):
    """Set a new password for a user who forgot theirs."""
    try:
        data = PASSWORD.load(parse(PASSWORD, request.form))
    except ValidationError as exc:
        return _user_page(user_id, password_errors=flat_errors(exc.messages), status=422)
    perform(accounts.reset_password, env(), user_id, data["password"])
    flash(_("已重置密码，请告知用户并提醒其尽快修改。"), "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.get("/admin/delegations")
@requires(Role.ADMIN)
def delegations():
    """Every substitution under way or to come (all of them with ?all=1), with an end button,
    and the form to name a substitute for anyone (?user= fills in the absent user)."""
    return _delegations_page()


def _delegations_page(errors: dict | None = None, status: int = 200):
    context, ended_too = env(), request.args.get("all") == "1"
    rows = queries.substitutions(context.session, context.today, ended_too)
    if errors:
        values = dict(request.form)
    else:
        values = {"username": request.args.get("user", ""), "starts_on": context.today.isoformat()}
    page = render_template(
        "admin/delegations.html", rows=rows, today=context.today, ended_too=ended_too,
        fields=describe(DELEGATION, values, errors or {}), errors=errors or {},
    )  # fmt: skip
    return page, status


@bp.post("/admin/delegations")
@requires(Role.ADMIN)
def name_delegation():
    """Name a substitute for a user who cannot name one (fell ill, say), for some days."""
    context = env()
    try:
        data = DELEGATION.load(parse(DELEGATION, request.form))
        absent = _user_named(data["username"], "username")
        substitute = _user_named(data["substitute"], "substitute")
        perform(
            away.name_substitute, context, substitute.id, data["starts_on"], data["ends_on"],
            for_user_id=absent.id,
        )  # fmt: skip
    except ValidationError as exc:
        return _delegations_page(flat_errors(exc.messages), 422)
    except DomainError as exc:  # a form refused: 422 whatever the engine's status
        return _delegations_page({"_schema": exc.message(current_language())}, 422)
    names = {"user": absent.display_name, "substitute": substitute.display_name}
    flash(_("已指定 %(substitute)s 代理 %(user)s。", **names), "success")
    return redirect(url_for("admin.delegations"))


def _user_named(username: str, field: str):
    """The user called `username`, or a ValidationError beside `field`."""
    found = find_user(env().session, username.strip())
    if found is None:
        raise ValidationError({field: [_("找不到用户：%(names)s", names=username.strip())]})
    return found


@bp.post("/admin/delegations/<int:substitution_id>/end")
@requires(Role.ADMIN)
def end_delegation(substitution_id: int):
    """End a substitution now, as its absent user would on return."""
    perform_and_tell(accounts.end_any_substitution, env(), substitution_id, done=_("代理已结束。"))
    return redirect(url_for("admin.delegations"))
