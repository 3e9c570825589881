"""Tests in a real browser: the app served over HTTP on a free port (werkzeug in a thread), and
Debian's headless Chromium driven by Playwright for Python.

A pytest plugin module: `tests/web/conftest.py` imports its hook and fixtures, so that every
test below tests/web can use them:

- `live_server`: the `web` app (its own copy of the demo database) served at `live_server.url`;
  `live_server.log_in(page, "approver")` logs a page in as a demo login.
- `browser`: one headless Chromium for the whole run (skipped if Chromium is missing, failed
  instead with CI=true); `page`: a fresh browser context and page for one test, in Chinese.
- The `browser` marker: `pytest -m "not browser"` leaves these tests out.

Set CHROMIUM to use another Chromium binary than /usr/bin/chromium.
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from app.demo import DEMO_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: How long a page may take to load or an element to appear (ms).
TIMEOUT_MS = 15_000


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without a log line per request."""

    def log_request(self, *args, **kwargs):
        pass


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _login_post(reply) -> bool:
    return reply.request.method == "POST" and "/login" in reply.url


@dataclass(frozen=True)
class LiveServer:
    """The app served over HTTP."""

    url: str
    app: Flask

    def log_in(self, page, username: str, password: str = DEMO_PASSWORD) -> None:
        """Log `page` in through the login form; fails the test if the login is refused."""
        page.goto(f"{self.url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_response(_login_post) as login:
            page.click("form.login button[type=submit]")
        assert login.value.status == 302, f"{username} could not log in"
        page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def live_server(web) -> Iterator[LiveServer]:
    """The `web` app served on a free port for the test."""
    with serving(web) as url:
        yield LiveServer(url, web)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, at CHROMIUM) for every browser test of the run."""
    if not os.path.exists(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A new page in a fresh context (no cookies), in Chinese, that records script errors in
    `page.errors`."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()
