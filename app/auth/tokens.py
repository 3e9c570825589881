"""GET/POST /account/tokens and POST /account/tokens/<id>/revoke: one's personal API tokens,
listed, made and revoked. A new token's text is shown once, in the reply to the POST that
made it: never in a URL, a flash message or the session, and never again."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.forms import TokenForm
from app.auth.views import bp
from app.extensions import db
from app.i18n import current_language
from app.web import now, perform
from ledger.errors import DomainError
from workflows import apitokens


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """The user's API tokens and the form to make one. A valid form makes the token and shows
    its text this once (201); a refused one stays on the page, saying why (422)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 422 if form.is_submitted() else 200)
    try:
        user, name, days = current_user._get_current_object(), form.name.data, form.days.data
        token, plain = perform(apitokens.issue_token, db.session, user, name, now(), days)
    except DomainError as exc:
        # The name's rule beside the name; any other refusal (too many tokens) above the form.
        named = isinstance(exc, apitokens.InvalidTokenName)
        (form.name.errors if named else form.form_errors).append(exc.message(current_language()))
        return _page(form, 422)
    page, status = _page(TokenForm(formdata=None), 201, new_token=token, plain=plain)
    # The token's text must not stay in a browser's or a proxy's cache.
    return page, status, {"Cache-Control": "no-store"}


def _page(form: TokenForm, status: int, **shown) -> tuple[str, int]:
    user = current_user._get_current_object()
    listed = apitokens.tokens_of(db.session, user)
    return render_template("auth/tokens.html", form=form, tokens=listed, now=now(), **shown), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the user's tokens (an administrator: anyone's); 404 for another's."""
    user = current_user._get_current_object()
    token = perform(apitokens.revoke_token, db.session, user, token_id, now())
    flash(_("令牌“%(name)s”已吊销，使用它的程序不能再访问。", name=token.name), "success")
    return redirect(url_for("auth.tokens"))
