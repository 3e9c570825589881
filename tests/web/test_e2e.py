"""End to end in headless Chromium: a clerk's steps through the pages, from a department's
application to the card office's counter, as the issue tells them.

Each test drives the real pages (forms, buttons, the language switch) of the app served on its
own copy of the demo database, and checks the outcome in the database afterwards.
"""

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from forms.common import CAMPUS, resident_id_valid
from ledger.models.cards import Card, CardState, CardType, Delegation
from ledger.models.people import Person
from workflows.models import HumanTask, InstanceStatus, ProcessInstance, TaskState

pytestmark = pytest.mark.browser

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    """A resident ID number: the 17 digits and their GB 11643 check character."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def test_resident_id_has_the_gb11643_check_character():
    assert resident_id("11010819850612301") == "110108198506123015"  # a demo visitor's
    assert resident_id_valid(resident_id("44030519880214561"))


def _campus_today():
    return datetime.now(CAMPUS).date()


def _accept_confirmations(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def _instance(in_db, key: str) -> tuple[int, InstanceStatus]:
    """The id and status of request `key`."""
    query = select(ProcessInstance.id, ProcessInstance.status).where(
        ProcessInstance.business_key == key
    )
    return in_db(lambda: db.session.execute(query).one())


def _business_key(page) -> str:
    """The business key the flash message after filing names ("业务编号 LSK-...")."""
    flash = page.locator(".flash-success", has_text="业务编号").inner_text()
    return flash.split("业务编号", 1)[1].strip(" 。.")


def _submit(page, button) -> None:
    """Click a submit `button` and wait for the page it leads to (after any redirect)."""
    with page.expect_navigation():
        button.click()


def _switch_to(page, live_server, username: str) -> None:
    """Log out (the header's button) and log in as `username`."""
    _submit(page, page.get_by_role("button", name="退出登录"))
    live_server.log_in(page, username)


def _open_task(page, url: str, key: str, title: str | None = None) -> None:
    """From the inbox, open the task of request `key` (the one titled `title`, if given)."""
    page.goto(f"{url}/inbox")
    row = page.locator("table.tasks tbody tr", has_text=key)
    if title:
        row = row.filter(has_text=title)
    row.first.get_by_role("link", name=key).click()
    page.wait_for_url("**/tasks/*")


def _decide(page, *boxes: str, decision: str = "同意", comment: str = "") -> None:
    """On a task page: tick `boxes`, choose `decision`, and submit."""
    form = page.locator("section.decide")
    for box in boxes:
        form.get_by_label(box).check()
    form.get_by_role("radio", name=decision, exact=True).check()
    if comment:
        form.get_by_label("意见说明").fill(comment)
    _submit(page, form.get_by_role("button", name="提交", exact=True))
    assert page.locator(".flash-error").count() == 0, page.locator(".flash-error").all_inner_texts()
    expect(page.locator(".flash-success")).to_contain_text("已办理")


def _fill_person(row, person: dict) -> None:
    for field, value in person.items():
        row.locator(f"[name$='.{field}']").fill(value)


def test_a_department_files_a_temporary_card_the_approver_certifies_and_the_counter_issues_it(
    live_server, page, in_db
):
    _accept_confirmations(page)
    today = _campus_today()
    people = [
        {"name": "赵临风", "id_number": resident_id("44030519880214561"), "phone": "13800002222",
         "post": "项目研究助理", "work_from": today.isoformat(),
         "work_until": (today + timedelta(days=90)).isoformat()},
        {"name": "钱映雪", "id_number": resident_id("31011519950623782"), "phone": "13800003333",
         "post": "短期访问学者", "work_from": today.isoformat(),
         "work_until": (today + timedelta(days=60)).isoformat()},
    ]  # fmt: skip

    # The department's secretary files the application for two people.
    live_server.log_in(page, "applicant")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="发起申请").click()
    page.get_by_role("link", name="临时卡申请").click()
    page.get_by_role("heading", name="临时卡申请").wait_for()
    table = page.locator("fieldset[data-rows=people]")
    table.get_by_role("button", name="添加一行").click()
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    for row, person in zip([rows.nth(0), rows.nth(1)], people, strict=True):
        _fill_person(row, person)
    page.get_by_label("申请事由").fill("科研项目临时聘用两名人员")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/instances/*")
    key = _business_key(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("赵临风等 2 人")

    # The department head certifies the people and approves, from the inbox.
    _switch_to(page, live_server, "approver")
    _open_task(page, live_server.url, key)
    _decide(page, "所列人员均为本单位人员，信息属实")

    # The card office reviews, then issues each person's card at the counter.
    _switch_to(page, live_server, "cardoffice")
    _open_task(page, live_server.url, key, "卡务中心审核")
    _decide(page)
    for _person in people:
        _open_task(page, live_server.url, key, "核验证件并收取工本费")
        assert page.locator("section.decide").count() == 1
        _decide(page, "已当面核验身份证件", "已收取工本费")
    page.goto(f"{live_server.url}/inbox")
    assert page.locator("table.tasks tbody tr", has_text=key).count() == 0

    # The applicant prints the completed form with its people and decisions.
    instance_id, status = _instance(in_db, key)
    _switch_to(page, live_server, "applicant")
    page.goto(f"{live_server.url}/requests/{instance_id}/print")
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    printout = page.locator("article.printout")
    for person in people:
        assert printout.get_by_text(person["name"]).count() >= 1
    decisions = printout.locator("table.decisions")
    assert decisions.get_by_text("同意").count() >= 2
    expect(printout.locator("dl.facts").first).to_contain_text("已办结")
    assert page.errors == []

    # The ledger holds an active temporary card for each of them.
    assert status == InstanceStatus.COMPLETED
    numbers = [person["id_number"] for person in people]
    query = (
        select(Person.name, Card.card_type, Card.state)
        .join(Card, Card.person_id == Person.id)
        .where(Person.id_number.in_(numbers))
    )
    cards = in_db(lambda: db.session.execute(query).all())
    assert sorted(cards) == sorted(
        (person["name"], CardType.TEMPORARY, CardState.ACTIVE) for person in people
    )
    open_tasks = select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.state == TaskState.OPEN
    )
    assert in_db(lambda: db.session.scalars(open_tasks).all()) == []


def test_a_delegate_has_a_students_lost_card_reissued_through_the_counter_task(
    live_server, page, in_db
):
    _accept_confirmations(page)
    delegate_id = resident_id("44010619750318231")

    # The clerk finds the student at the counter and reads off the card's number.
    live_server.log_in(page, "cardoffice")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="柜台").click()
    page.get_by_label("姓名、卡号或证件号码后 4 至 6 位").fill("吴俊杰")
    page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name="吴俊杰").click()
    old_card = page.locator("table.cards tbody tr").first.locator("td").first.inner_text().strip()

    # The delegate's request: the lost card, the delegate's own ID and the holder's ID.
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="发起申请").click()
    page.get_by_role("link", name="补办校园卡").click()
    page.get_by_label("需补办的卡号").fill(old_card)
    page.get_by_label("遗失").check()
    page.get_by_label("他人代办").check()
    delegate = page.locator("fieldset.group", has_text="代办人")
    delegate.get_by_label("姓名").fill("吴建华")
    delegate.get_by_label("证件号码").fill(delegate_id)
    delegate.get_by_label("委托凭证").select_option(label="持卡人有效证件")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/instances/*")
    key = _business_key(page)

    # The counter task: both IDs checked, the fee taken, approved.
    _open_task(page, live_server.url, key, "核验身份并收费")
    expect(page.locator("section.decide")).to_be_visible()
    _decide(page, "已核验证件（代办：代办人本人证件及持卡人证件或委托证明）",
            "已收取工本费（现金，或确认从卡内余额扣除）")  # fmt: skip
    assert page.errors == []

    # The student has a new active card; the lost one is replaced; the delegate is on record.
    assert _instance(in_db, key)[1] == InstanceStatus.COMPLETED
    person_cards = (
        select(Card.card_no, Card.state)
        .join(Person, Card.person_id == Person.id)
        .where(Person.name == "吴俊杰")
        .order_by(Card.id)
    )
    cards = in_db(lambda: db.session.execute(person_cards).all())
    assert cards[0] == (old_card, CardState.REPLACED)
    assert cards[-1][1] == CardState.ACTIVE and cards[-1][0] != old_card
    delegations = select(Delegation.delegate_name, Delegation.delegate_id_number)
    assert ("吴建华", delegate_id) in in_db(lambda: db.session.execute(delegations).all())


def test_the_approver_returns_a_request_and_sees_it_again_once_the_applicant_corrects_it(
    live_server, page
):
    _accept_confirmations(page)
    key = "DEMO-LSK-1"  # the demo's temporary card application, waiting for the approver

    live_server.log_in(page, "approver")
    _open_task(page, live_server.url, key)
    returning = page.locator("form.action-form", has=page.get_by_role("heading", name="退回"))
    returning.get_by_label("退回到").select_option(label="申请人（修改后重新提交）")
    returning.get_by_label("退回理由").fill("请写明聘用项目名称")
    _submit(page, returning.get_by_role("button", name="退回"))
    expect(page.locator(".flash-success")).to_contain_text("已退回")
    assert page.locator("table.tasks tbody tr", has_text=key).count() == 0

    # The applicant finds it returned, with the reason, and resubmits it corrected.
    _switch_to(page, live_server, "applicant")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="我的申请").click()
    row = page.locator("table.requests tbody tr", has_text=key)
    expect(row.locator(".badge")).to_have_text("已退回")
    row.get_by_role("link", name="修改后重新提交").click()
    page.wait_for_url("**/tasks/*")
    expect(page.get_by_role("region", name="审批记录")).to_contain_text("请写明聘用项目名称")
    reason = page.locator("section.decide").get_by_label("申请事由")
    expect(reason).to_have_value("科研项目临时聘用")
    reason.fill("国家重点研发计划项目临时聘用")
    _submit(page, page.get_by_role("button", name="重新提交"))
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    page.goto(f"{live_server.url}/requests")
    row = page.locator("table.requests tbody tr", has_text=key)
    expect(row.locator(".badge")).to_have_text("审批中")
    expect(row.get_by_role("link", name="修改后重新提交")).to_have_count(0)

    # The approver has it in the inbox again, corrected.
    _switch_to(page, live_server, "approver")
    _open_task(page, live_server.url, key)
    request = page.get_by_role("region", name="申请", exact=True)
    expect(request).to_contain_text("国家重点研发计划项目临时聘用")
    assert page.errors == []


def _menu(page):
    return page.get_by_role("navigation", name=re.compile("主菜单|Main menu"))


def test_the_language_button_switches_the_pages_to_english_and_back(live_server, page):
    heading = page.get_by_role("heading", level=1)
    live_server.log_in(page, "applicant")
    page.goto(f"{live_server.url}/requests")
    expect(_menu(page).get_by_role("link", name="我的申请")).to_be_visible()

    _submit(page, page.get_by_role("button", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(heading).to_have_text("My requests")
    for item in ("New request", "My requests", "Inbox"):
        expect(_menu(page).get_by_role("link", name=item)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # The choice holds on the next pages.
    _menu(page).get_by_role("link", name="New request").click()
    expect(heading).to_have_text("New request")
    page.get_by_role("link").filter(has=page.get_by_text("Temporary card", exact=True)).click()
    expect(page.get_by_role("button", name="Add a row")).to_be_visible()
    page.goto(f"{live_server.url}/inbox")
    expect(heading).to_contain_text("Inbox")

    _submit(page, page.get_by_role("button", name="中文"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(heading).to_contain_text("待办")
    _menu(page).get_by_role("link", name="我的申请").click()
    expect(heading).to_have_text("我的申请")
    expect(page.get_by_role("button", name="English")).to_be_visible()
    assert page.errors == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize(
    ("username", "path"),
    [("approver", "/inbox"), ("applicant", "/start/temporary_card"),
     ("admin", "/admin/instances"), ("cardoffice", "/counter?q=吴")],
)  # fmt: skip
def test_a_phone_sized_page_does_not_scroll_sideways(live_server, browser, username, path, locale):
    # Not is_mobile: a mobile viewport widens itself to the content, which hides the overflow.
    # The browser's language picks the UI's (English pages have longer words).
    context = browser.new_context(locale=locale, viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        live_server.log_in(page, username)
        page.goto(f"{live_server.url}{path}")
        page.get_by_role("heading", level=1).wait_for()
        widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1] + 1, (
            f"{path} is {widths[0]} px wide on a {widths[1]} px phone"
        )
    finally:
        context.close()
