"""The UI's languages: simplified Chinese by default, English by the user's choice.

Messages are written in Chinese (the msgid) and translated to English in the catalogs under
`app/translations/en/LC_MESSAGES/`, one `.po` file per part of the site. The catalogs are read
from their `.po` text when the app starts, so there is no compile step to forget.
"""

from contextlib import contextmanager
from functools import cached_property
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Blueprint, current_app, g, has_request_context, redirect, request, session
from flask_babel import Babel, Domain, get_locale

from app.urls import safe_next

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
bp = Blueprint("i18n", __name__)
#: Each language by its own name, for the switch.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def load_catalogs(directory: Path = TRANSLATIONS_DIR) -> dict[str, Translations]:
    """{language: its translations}, each merged from every `.po` file of the language."""
    result = {}
    for language_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        merged = Translations()
        for po in sorted((language_dir / "LC_MESSAGES").glob("*.po")):
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=language_dir.name)
            buffer = BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            merged.merge(Translations(fp=buffer))
        result[language_dir.name] = merged
    return result


class _PoDomain(Domain):
    """Flask-Babel's domain, served from the catalogs read at start-up."""

    def __init__(self, catalogs: dict[str, Translations]):
        super().__init__()
        self.catalogs = catalogs

    def get_translations(self):
        """The catalog of this request's language, looked up once per request."""
        if not has_request_context():
            return self.catalogs.get(str(get_locale()), NullTranslations())
        if "ui_translations" not in g:
            g.ui_translations = self.catalogs.get(current_language(), NullTranslations())
        return g.ui_translations


class CatalogBabel(Babel):
    """Babel whose domain reads the `.po` catalogs once."""

    @cached_property
    def domain_instance(self):
        return _PoDomain(load_catalogs())


def current_language() -> str:
    """The UI language of this request: the user's choice in the session, else the browser's
    preference among LANGUAGES, else the first of them (zh)."""
    languages = current_app.config.get("LANGUAGES", ("zh", "en"))
    if has_request_context() and "forced_language" in g:
        return g.forced_language
    chosen = session.get("lang") if request else None
    if chosen in languages:
        return chosen
    if not request:
        return languages[0]
    for value, quality in request.accept_languages:
        primary = value.replace("_", "-").split("-", 1)[0].lower()
        if quality > 0 and primary in languages:
            return primary
    return languages[0]


@contextmanager
def language(code: str):
    """Texts in the language `code` within the block, whatever this request's language is
    (printed forms are in Chinese for everyone)."""
    saved = {name: g.pop(name) for name in ("forced_language", "ui_translations") if name in g}
    g.forced_language = code
    try:
        yield
    finally:
        g.pop("forced_language", None)
        g.pop("ui_translations", None)
        for name, value in saved.items():
            setattr(g, name, value)


def pick(obj, field: str):
    """`obj.field_zh` or `obj.field_en` (or the dict keys), in the UI language."""
    name = f"{field}_{current_language()}"
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    if value:
        return value
    return obj.get(f"{field}_zh") if isinstance(obj, dict) else getattr(obj, f"{field}_zh", "")


def half(message: str) -> str:
    """The user's half of a bilingual "中文 / English" message (the whole if it has no half)."""
    zh, sep, en = str(message).partition(" / ")
    if not sep:
        return str(message)
    return en if current_language() == "en" else zh


@bp.post("/language")
def choose_language():
    """Remember the chosen UI language in the session and go back to where the user was."""
    language = request.form.get("lang", "")
    if language in current_app.config.get("LANGUAGES", ("zh", "en")):
        session["lang"] = language
    return redirect(safe_next(request.form.get("next")) or "/")


def _template_gettext(babel: CatalogBabel):
    # Templates call _() hundreds of times a page: straight to the request's catalog, without
    # Flask-Babel's per-call context look-ups (Jinja's newstyle gettext formats the result).
    def gettext(message: str) -> str:
        return babel.domain_instance.get_translations().gettext(message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return babel.domain_instance.get_translations().ngettext(singular, plural, n)

    return gettext, ngettext


def register_i18n(app) -> None:
    """Bind Babel, the language switch and the template helpers to `app`."""
    babel = CatalogBabel(app, locale_selector=current_language)
    gettext, ngettext = _template_gettext(babel)
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(lang=current_language, pick=pick, language_names=LANGUAGE_NAMES)
    app.jinja_env.filters["half"] = half
