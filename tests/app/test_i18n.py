"""Every string of the UI is translated: each message marked in app/ (Python and templates)
has its English in the catalogs, and no template writes Chinese outside a message."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from app.i18n import TRANSLATIONS_DIR, load_catalogs

APP = Path(__file__).resolve().parents[2] / "app"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def bpmn_step_names() -> set[str]:
    """The names of the BPMN files' user tasks: stored as task titles, shown translated."""
    names = set()
    for path in (APP.parent / "bpmn").glob("*.bpmn"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'<bpmn:(?:userTask|manualTask)\b[^>]*\bname="([^"]+)"', text))
    return names


def marked_messages() -> set[str]:
    found = bpmn_step_names()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(APP), METHODS, keywords=KEYWORDS
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.add(text)
    return found


def test_every_marked_message_has_its_english():
    english = load_catalogs(TRANSLATIONS_DIR)["en"]
    missing = sorted(m for m in marked_messages() if english.gettext(m) == m and CJK.search(m))
    assert missing == []


def test_catalogs_have_no_unused_message():
    messages = marked_messages()
    unused = []
    for po in sorted((TRANSLATIONS_DIR / "en" / "LC_MESSAGES").glob("*.po")):
        ids = re.findall(r'^msgid "(.+)"$', po.read_text(encoding="utf-8"), re.M)
        unused += [f"{po.name}: {i}" for i in ids if i.replace('\\"', '"') not in messages]
    assert unused == []


@pytest.mark.parametrize("template", sorted((APP / "templates").rglob("*.html")), ids=str)
def test_templates_write_no_chinese_outside_messages(template):
    literal = JINJA.sub("", template.read_text(encoding="utf-8"))
    assert CJK.findall(literal) == []


def test_a_message_in_two_catalogs_has_one_translation():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    pair = re.compile(r'^msgid "(.+)"\nmsgstr "(.*)"$', re.M)
    for po in sorted((TRANSLATIONS_DIR / "en" / "LC_MESSAGES").glob("*.po")):
        for msgid, msgstr in pair.findall(po.read_text(encoding="utf-8")):
            first = seen.setdefault(msgid, (po.name, msgstr))
            if first[1] != msgstr:
                clashes.append(f"{msgid}: {first[0]} '{first[1]}' vs {po.name} '{msgstr}'")
    assert clashes == []
