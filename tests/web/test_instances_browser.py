"""The instance page in headless Chromium: the vendored bpmn-js viewer really draws the
request's diagram, with its current and done elements marked, from the app's own files."""

import pytest
from sqlalchemy import select

from app.extensions import db
from workflows.models import ProcessInstance

pytestmark = pytest.mark.browser


def _instance_id(in_db, business_key: str) -> int:
    query = select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)
    return in_db(lambda: db.session.scalar(query))


def test_the_diagram_is_drawn_with_the_current_step_marked(live_server, page, in_db):
    instance_id = _instance_id(in_db, "DEMO-LSK-1")
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    live_server.log_in(page, "applicant")

    page.goto(f"{live_server.url}/instances/{instance_id}")
    page.wait_for_selector("#diagram.ready")

    assert page.locator("#diagram svg .djs-element").count() > 5
    current = page.locator("#diagram .djs-element.state-current")
    assert current.count() >= 1
    assert current.first.get_attribute("data-element-id") == "dept_certify"
    done = page.locator("#diagram .djs-element.state-done")
    assert "submit" in [done.nth(i).get_attribute("data-element-id") for i in range(done.count())]
    assert page.locator(".diagram-error").is_hidden()
    assert page.errors == []
    assert all(url.startswith(live_server.url) for url in requested), "nothing from a CDN"


def test_the_timeline_stays_readable_without_javascript(live_server, browser, in_db):
    instance_id = _instance_id(in_db, "DEMO-LSK-1")
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    try:
        page = context.new_page()
        live_server.log_in(page, "applicant")
        page.goto(f"{live_server.url}/instances/{instance_id}")
        assert page.locator("#timeline li").count() >= 1
        assert page.locator(".request-data").first.is_visible()
        assert page.locator("#diagram svg").count() == 0
    finally:
        context.close()
