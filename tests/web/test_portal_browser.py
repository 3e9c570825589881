"""The start form in headless Chromium: a double click sends it once (with the button's
action), a form whose confirmation was cancelled can still be sent, and a page the browser
brings back can be sent again."""

from datetime import timedelta

import pytest

from forms.common import campus_today

pytestmark = pytest.mark.browser


def extension_page(live_server) -> str:
    """The 临时卡延期 form, pre-filled as the expiry reminder's link fills it."""
    new_expiry = (campus_today() + timedelta(days=200)).isoformat()
    query = f"card_no=88001234&new_expiry={new_expiry}"
    return f"{live_server.url}/start/temporary_card_extension?{query}"


def posts_to(page, path: str) -> list:
    """A list that fills with the POST requests the page sends to `path`."""
    sent = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" and path in r.url else None)
    return sent


def test_a_double_click_files_once_with_the_buttons_action(live_server, page):
    live_server.log_in(page, "applicant")
    page.goto(extension_page(live_server))
    page.fill("[name=reason]", "项目延期")
    sent = posts_to(page, "/start/")
    page.locator("button[value=file]").dblclick()
    page.wait_for_url("**/instances/*")
    assert len(sent) == 1
    assert 'name="action"\r\n\r\nfile\r\n' in sent[0].post_data_buffer.decode()
    assert "申请已提交" in page.locator(".flash").first.inner_text()
    assert page.errors == []


def test_a_cancelled_confirmation_leaves_the_form_ready_to_send(live_server, page):
    live_server.log_in(page, "applicant")
    page.goto(extension_page(live_server))
    page.locator("button[value=draft]").click()
    page.wait_for_url("**draft=*")
    sent = posts_to(page, "/delete")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("button.danger").click()
    assert sent == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("button.danger").click()
    page.wait_for_url("**/start")
    assert len(sent) == 1


def test_a_page_brought_back_can_be_sent_again(live_server, page):
    live_server.log_in(page, "applicant")
    page.goto(extension_page(live_server))
    page.fill("[name=reason]", "项目延期")
    page.locator("button[value=draft]").click()
    page.wait_for_url("**draft=*")
    page.go_back()
    sent = posts_to(page, "/start/")
    page.locator("button[value=draft]").click()
    page.wait_for_url("**draft=*")
    assert len(sent) == 1


def test_a_page_restored_from_the_back_forward_cache_forgets_it_was_sending(live_server, page):
    live_server.log_in(page, "applicant")
    page.goto(extension_page(live_server))
    restored = page.evaluate("""() => {
        const form = document.querySelector("form.start-form");
        form.dataset.sending = "1";
        window.dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true}));
        return form.dataset.sending === undefined && !form.hasAttribute("aria-busy");
    }""")
    assert restored
