"""The security headers of every response (issue 8): a Content-Security-Policy that runs only
the app's own files, no framing, nosniff, same-origin referrers, and HSTS on HTTPS only
(behind a trusted proxy: its X-Forwarded-Proto); a policy a view set itself is kept. The
templates carry no inline script, event handler or style attribute that the policy refuses,
and in Chromium the main pages, the diagram, the API docs and a PDF work under it."""

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.security_headers import CONTENT_SECURITY_POLICY, UPLOADED_FILE_POLICY
from ledger.context import Ctx
from ledger.models.merchants import Settlement
from ledger.ops.settlement import run_settlement
from tests.web.access_support import instance_id
from tests.web.api_support import token_of
from workflows import runtime

TEMPLATES = Path(__file__).resolve().parents[2] / "app/templates"
HSTS = "max-age=31536000; includeSubDomains"
FIXED = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
         "X-Frame-Options": "DENY"}  # fmt: skip


def directives(policy: str) -> dict[str, str]:
    """A policy's directives by name: {"script-src": "'self'", "sandbox": "", ...}."""
    parts = (part.strip().partition(" ") for part in policy.split(";") if part.strip())
    return {name: value for name, _, value in parts}


def assert_protected(reply, what: str) -> None:
    """The reply carries the app's policy and the fixed headers."""
    assert reply.headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, what
    for name, value in FIXED.items():
        assert reply.headers.get(name) == value, (what, name)


def test_the_policy_allows_only_the_apps_own_files_and_no_framing():
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == policy["form-action"] == policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


# --- every kind of response ----------------------------------------------------------------


def test_pages_files_pdfs_csv_json_and_errors_carry_the_headers(as_user, in_db, web):
    request = in_db(lambda: instance_id("DEMO-LSK-1"))
    applicant = as_user("applicant")
    for path in ("/login", "/static/app.js", "/no-such-page", f"/requests/{request}/print"):
        reply = applicant.get(path)
        assert_protected(reply, path)
        reply.close()  # a static file's stream
    pdf = applicant.get(f"/requests/{request}/form.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert_protected(pdf, "the request's PDF")
    csv = as_user("settlement").get("/merchants/refunds/batch.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert_protected(csv, "the refund batch CSV")
    api = web.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token_of(web, 'approver')}"})
    assert me.status_code == 200 and me.json["username"] == "approver"
    assert_protected(me, "the API")
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert_protected(refused, "an API problem")


def test_an_attachment_downloads_whole_and_may_run_nothing(as_user, in_db):
    request = in_db(lambda: instance_id("DEMO-LSK-1"))
    sent = {"file": (BytesIO(b"%PDF-1.4 proof"), "proof.pdf")}
    reply = as_user("applicant").post(f"/instances/{request}/attachments", data=sent)
    assert reply.status_code == 302
    page = as_user("approver").get(f"/instances/{request}").get_data(as_text=True)
    (link,) = re.findall(r'href="(/attachments/\d+)"', page)
    download = as_user("approver").get(link)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 proof"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Security-Policy"] == UPLOADED_FILE_POLICY
    uploaded = directives(UPLOADED_FILE_POLICY)
    assert uploaded["default-src"] == "'none'" and "sandbox" in uploaded
    for name, value in FIXED.items():
        assert download.headers[name] == value, name


def test_a_policy_the_view_set_itself_is_kept(as_user, in_db):
    request = in_db(lambda: instance_id("DEMO-LSK-1"))
    reply = as_user("applicant").get(f"/instances/{request}/diagram.xml")
    assert reply.status_code == 200 and reply.mimetype == "application/xml"
    assert reply.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_the_api_docs_page_may_run_its_own_inline_script_and_no_other(web):
    reply = web.test_client().get("/api/v1/docs")
    assert reply.status_code == 200
    (script,) = re.findall(r"<script>(.*?)</script>", reply.get_data(as_text=True), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = directives(reply.headers["Content-Security-Policy"])
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["style-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    openapi = web.test_client().get("/api/v1/openapi.json")
    assert openapi.json["info"]["version"] == "v1"
    assert_protected(openapi, "the OpenAPI document")


# --- HSTS: on HTTPS only ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "base_url", "forwarded", "hsts"),
    [
        (0, "http://cards.example.edu", None, False),
        (0, "https://cards.example.edu", None, True),
        (0, "http://cards.example.edu", "https", False),  # no proxy trusted: a client's claim
        (1, "http://cards.example.edu", "https", True),  # nginx ended TLS
        (1, "http://cards.example.edu", "http", False),
    ],
)
def test_hsts_is_sent_on_secure_requests_only(proxies, base_url, forwarded, hsts):
    app = create_app({"APP_CONFIG": "testing", "TRUSTED_PROXIES": proxies})
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    try:
        reply = app.test_client().get("/static/app.css", base_url=base_url, headers=headers)
        assert reply.status_code == 200
        assert reply.headers.get("Strict-Transport-Security") == (HSTS if hsts else None)
        assert_protected(reply, base_url)
        reply.close()
    finally:
        with app.app_context():
            db.engine.dispose()


# --- the templates: nothing inline that the policy refuses ----------------------------------

#: A script element that runs (not a JSON data block), an event handler attribute, a
#: javascript: URL, a style attribute or element.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")"
    r"|\son[a-z]+\s*=|javascript:|\sstyle\s*=|<style\b",
    re.IGNORECASE,
)


def test_no_template_has_inline_script_handlers_or_styles():
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        '<button onclick="window.print()">',
        '<p style="color: red">',
        "<script>go()</script>",
        '<a href="javascript:go()">',
        "<style>p {}</style>",
    ],
)
def test_the_template_check_finds_each_kind_of_inline_code(line):
    assert INLINE.search(line)


def test_the_template_check_lets_script_files_and_data_blocks_be():
    assert not INLINE.search('<script src="/static/app.js" defer></script>')
    assert not INLINE.search('<script type="application/json" id="marks">{}</script>')
    assert not INLINE.search('<a href="/x" data-confirm="确定？" aria-label="x">')


# --- in Chromium -----------------------------------------------------------------------------

VIOLATION = "Content Security Policy"
#: The frame of Chromium's own PDF viewer.
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"


class Watch:
    """What a page reports that the policy or a script refused: CSP messages on the console
    and uncaught script errors."""

    def __init__(self, page):
        self.page, self.problems = page, []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def console(self, message) -> None:
        if VIOLATION in message.text:
            self.problems.append(f"{message.type}: {message.text}")

    def visit(self, url: str, ready: str = "body") -> None:
        """Open `url` (which must carry the app's policy) and wait for `ready` to show."""
        reply = self.page.goto(url)
        assert reply.status == 200, url
        assert "script-src 'self'" in reply.header_value("content-security-policy"), url
        self.wait_for(ready)

    def wait_for(self, selector: str, timeout: int | None = None) -> None:
        """Wait for `selector` to show; failing that, fail with what the page reported."""
        try:
            self.page.wait_for_selector(selector, timeout=timeout)
        except PlaywrightTimeout as error:
            raise AssertionError(f"no {selector} on {self.page.url}: {self.problems}") from error

    def print_page(self) -> None:
        """Click the page's print button: window.print (stubbed by the test) must run."""
        self.page.evaluate("delete document.body.dataset.printed")
        self.page.click("[data-print]")
        self.wait_for("body[data-printed=yes]", timeout=3_000)  # window.print ran


@pytest.mark.browser
def test_the_check_sees_a_page_the_policy_refuses(live_server, page):
    refused = "<p style='color: red' onclick='go()'>x</p><script>document.title = 'ran'</script>"
    page.route(f"{live_server.url}/probe", lambda route: route.fulfill(
        body=refused, content_type="text/html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    ))  # fmt: skip
    watch = Watch(page)
    page.goto(f"{live_server.url}/probe")
    page.wait_for_timeout(200)
    assert page.title() != "ran"
    assert len(watch.problems) >= 2, watch.problems  # the script and the style attribute


def assert_pdf_viewer_opened(page) -> None:
    """Chromium's PDF viewer shows the page's PDF (within a few seconds)."""
    for _ in range(50):
        if any(frame.url.startswith(PDF_VIEWER) for frame in page.frames):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no PDF viewer among {[frame.url for frame in page.frames]}")


def _settle(in_db) -> int:
    """A settlement run a week later: the newest statement's id."""
    later = datetime.now(UTC) + timedelta(days=8)

    def settle():
        run_settlement(Ctx(db.session, "user:settlement", later))
        return db.session.scalar(select(Settlement.id).order_by(Settlement.id.desc()))

    return in_db(settle)


@pytest.mark.browser
def test_the_main_pages_run_under_the_policy_in_chromium(live_server, page, in_db):
    request = in_db(lambda: instance_id("DEMO-LSK-1"))
    task = in_db(lambda: runtime.open_tasks(db.session, request)[0].id)
    statement = _settle(in_db)
    url, watch = live_server.url, Watch(page)
    page.add_init_script("window.print = () => { document.body.dataset.printed = 'yes'; };")

    watch.visit(f"{url}/api/v1/docs", ".opblock-summary")
    page.locator(".opblock-summary").first.click()
    watch.wait_for(".opblock-body")
    live_server.log_in(page, "applicant")
    watch.visit(f"{url}/start")
    watch.visit(f"{url}/start/temporary_card", "[data-add-row]")
    rows = page.locator("[data-rows] tbody tr")
    before = rows.count()
    page.locator("[data-add-row]").first.click()
    assert rows.count() == before + 1  # app.js copied the row template
    watch.visit(f"{url}/requests")
    watch.visit(f"{url}/instances/{request}", "#diagram.ready")
    assert page.locator("#diagram .djs-element.state-current").count() >= 1
    watch.visit(f"{url}/requests/{request}/print", "[data-print]")
    watch.print_page()
    watch.visit(f"{url}/requests/{request}/form.pdf")
    assert_pdf_viewer_opened(page)

    page.context.clear_cookies()
    live_server.log_in(page, "approver")
    watch.visit(f"{url}/inbox", "table.tasks")
    watch.visit(f"{url}/tasks/{task}", "form")

    page.context.clear_cookies()
    live_server.log_in(page, "cardoffice")
    watch.visit(f"{url}/counter")
    watch.visit(f"{url}/merchants/settlements/{statement}", "[data-print]")
    watch.print_page()  # was an onclick attribute, which the policy refuses

    page.context.clear_cookies()
    live_server.log_in(page, "admin")
    for path in ("/admin", "/admin/definitions", "/admin/audit", "/account/tokens"):
        watch.visit(f"{url}{path}", "main")
    assert watch.problems == []
