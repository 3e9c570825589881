"""CSRF on every form: with protection on (as in production), every POST route refuses a
request without a valid token (400, nothing changed), for an administrator and for someone
who may use the route; and every form that posts, on every page, carries the token.

The routes, their arguments and who may use them are those of test_access_matrix."""

from html.parser import HTMLParser

import pytest

from app.demo import DEMO_PASSWORD
from app.extensions import db
from tests.web.access_support import USERS, build_world, csrf_field
from tests.web.test_access_matrix import EXPECTED_GET, EXPECTED_POST, PUBLIC, ROUTES

CSRF_ON = {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def web_config():
    """The per-test app with CSRF protection on."""
    return CSRF_ON


@pytest.fixture(scope="module")
def world(demo_database, tmp_path_factory):
    """The routes' world for this module, with CSRF protection on."""
    found = build_world(demo_database, tmp_path_factory.mktemp("csrf"), **CSRF_ON)
    yield found
    with found.app.app_context():
        db.engine.dispose()


def user_of(endpoint: str) -> str | None:
    """Someone other than an administrator who may post to the route (None: anonymous)."""
    allowed = EXPECTED_POST.get(endpoint, ())
    if allowed == PUBLIC:
        return None
    return next((login for login in USERS if login in allowed and login != "admin"), None)


def tokenless_cases() -> list:
    """Each POST route as admin, and as a user who may post to it, without a token and with a
    forged one."""
    found = []
    for method, endpoint, _rule in ROUTES:
        if method != "POST":
            continue
        logins = dict.fromkeys(["admin", user_of(endpoint)])
        if EXPECTED_POST.get(endpoint) != PUBLIC:
            logins.pop(None, None)
        for login in logins:
            for token in (None, "forged"):
                what = "a forged token" if token else "no token"
                name = f"POST {endpoint} as {login or 'anonymous'} with {what}"
                found.append(pytest.param(endpoint, login, token, id=name))
    return found


@pytest.mark.parametrize("endpoint, login, token", tokenless_cases())
def test_a_post_without_a_valid_token_is_refused_and_changes_nothing(world, endpoint, login, token):
    url, before = world.url(endpoint, "POST"), world.fingerprint()
    data = {"csrf_token": token} if token else {}
    reply = world.clients[login].post(url, data=data)
    changed = world.changes_since(before)
    assert not changed, f"POST {url} as {login} without a token changed {changed}"
    assert reply.status_code == 400, f"POST {url} as {login}: {reply.status_code}"
    assert "表单已失效" in reply.get_data(as_text=True)


def test_the_token_of_a_page_lets_its_form_through(world):
    client = world.clients["applicant"]
    token = csrf_field(client.get("/").get_data(as_text=True))
    reply = client.post("/language", data={"lang": "zh", "next": "/", **token})
    assert reply.status_code == 302 and reply.headers["Location"] == "/"


def test_a_login_without_a_token_is_refused_and_logs_nobody_in(web):
    client = web.test_client()
    reply = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    assert reply.status_code == 400
    assert client.get("/admin").status_code == 302  # still to log in


# --- every form that posts carries the token --------------------------------------------------


class FormReader(HTMLParser):
    """The forms of a page: method, action and the names and values of their fields."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        """A form opens, or a field of the open form."""
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self._open = {"method": method, "action": attrs.get("action"), "fields": {}}
            self.forms.append(self._open)
        elif self._open is not None and attrs.get("name"):
            self._open["fields"][attrs["name"]] = attrs.get("value")

    def handle_endtag(self, tag):
        """The open form closes."""
        if tag == "form":
            self._open = None


def posting_forms(page: str) -> list[dict]:
    """The forms of `page` that post."""
    reader = FormReader()
    reader.feed(page)
    return [form for form in reader.forms if form["method"] == "post"]


def page_cases() -> list:
    """Each GET route that answers with a page, as each login that may open it; the login
    page anonymously."""
    found = [pytest.param("auth.login", None, id="GET auth.login as anonymous")]
    for method, endpoint, _rule in ROUTES:
        expected = EXPECTED_GET.get(endpoint)
        if method != "GET" or expected is None or expected.status != 200:
            continue
        for login in sorted(expected.allowed):
            found.append(pytest.param(endpoint, login, id=f"GET {endpoint} as {login}"))
    return found


@pytest.mark.parametrize("endpoint, login", page_cases())
def test_every_form_that_posts_carries_the_csrf_token(world, endpoint, login):
    reply = world.clients[login].get(world.url(endpoint))
    assert reply.status_code == 200
    if reply.mimetype != "text/html":
        return  # a file: the diagram, an attachment, a CSV
    forms = posting_forms(reply.get_data(as_text=True))
    if login is not None:
        assert forms, "every page of a logged-in user posts at least its logout form"
    bare = [form["action"] for form in forms if not form["fields"].get("csrf_token")]
    assert not bare, f"forms without a CSRF token: {bare}"
