"""The inbox list: what each approver sees, the filters and saved filters, overdue marking,
bulk approval of plain decisions, and a page whose statements do not grow with the tasks.

The helpers at the top are shared by the other inbox test modules."""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from app.auth.accounts import create_user, find_user
from app.extensions import db
from ledger.models.people import Department
from workflows import tasks
from workflows.context import Env
from workflows.identity import Role, User
from workflows.instances import start_instance
from workflows.models import HumanTask, TaskState
from workflows.webstate import SavedFilter

#: The demo requests' keys: a temporary card (its approver certifies with the form
#: department_certification) and an extension (a plain decision), both for CS's approver.
CARD, EXTENSION = "DEMO-LSK-1", "DEMO-YQ-1"


def open_task(in_db, business_key: str) -> int:
    """The id of the request's open task."""
    query = select(HumanTask.id).where(
        HumanTask.business_key == business_key, HumanTask.state == TaskState.OPEN
    )
    return in_db(lambda: db.session.scalar(query))


def task_row(in_db, task_id: int) -> dict:
    """The task's state, decision, kind, assignee and return-to (usernames), read afresh."""

    def read():
        row = db.session.get(HumanTask, task_id)
        users = dict(db.session.execute(select(User.id, User.username)).all())
        return {
            "state": row.state, "decision": row.decision, "kind": row.kind,
            "assignee": users.get(row.assignee_id), "return_to": users.get(row.return_to_id),
        }  # fmt: skip

    return in_db(read)


def add_user(in_db, username: str, *roles) -> int:
    """A user with password demo2026 and `roles` as (Role, department code or None)."""
    return in_db(lambda: create_user(db.session, username, "demo2026", username, roles).id)


def filed_by(in_db, task_id: int, username: str) -> None:
    """Make the task's request one that `username` filed."""

    def change():
        row = db.session.get(HumanTask, task_id)
        row.instance.started_by_id = find_user(db.session, username).id

    in_db(change)


def department_id(in_db, code: str) -> int:
    """The id of the department with this code."""
    return in_db(lambda: db.session.scalar(select(Department.id).where(Department.code == code)))


def page(reply) -> str:
    """The reply's text."""
    return reply.get_data(as_text=True)


class _FormReader(HTMLParser):
    """The values a browser would post from the form whose action ends with `action`."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.values = action, False, []
        self.select, self.textarea = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = (a.get("action") or "").endswith(self.action)
        elif not self.inside:
            return
        elif tag == "input" and a.get("name") and "__index__" not in a["name"]:
            checkable = a.get("type") in ("checkbox", "radio")
            if not checkable or "checked" in a:
                self.values.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.values.append((self.select, a.get("value") or ""))
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.values.append((self.textarea, ""))

    def handle_data(self, data):
        if self.inside and self.textarea:
            name, value = self.values.pop()
            self.values.append((name, value + data))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_values(html: str, action: str) -> dict[str, str]:
    """The fields the form posting to `action` holds as the page shows it."""
    reader = _FormReader(action)
    reader.feed(html)
    return dict(reader.values)


def set_due(in_db, task_id: int, due: datetime) -> None:
    def change():
        db.session.get(HumanTask, task_id).due_at = due

    in_db(change)


def file_card_requests(in_db, count: int, prefix: str) -> None:
    """`count` more temporary card requests by the demo applicant, for CS's approver."""
    visitor = {
        "name": "赵一", "id_type": "resident_id", "id_number": "110108198506123015",
        "phone": "13900001111", "post": "助理", "work_from": "2030-01-01",
        "work_until": "2030-06-30",
    }  # fmt: skip

    def file():
        applicant = find_user(db.session, "applicant")
        cs = db.session.scalar(select(Department.id).where(Department.code == "CS"))
        for i in range(count):
            context = Env(db.session, applicant, datetime.now(UTC))
            data = {"people": [visitor], "reason": "科研项目临时聘用"}
            start_instance(context, "temporary_card", f"{prefix}-{i}", data, cs)

    in_db(file)


# --- the list ------------------------------------------------------------------------------


def test_the_approver_sees_the_demo_temporary_card_task_waiting_to_be_claimed(as_user):
    html = page(as_user("approver").get("/inbox"))
    assert CARD in html and EXTENSION in html
    assert "部门秘书（信息学院）" in html and "待认领" in html
    assert "DEMO-SHJR-1" not in html  # the supervising department's, not CS's


def test_the_inbox_needs_a_login(web):
    reply = web.test_client().get("/inbox")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


def test_filter_by_process_keeps_only_its_tasks(as_user):
    html = page(as_user("approver").get("/inbox?process=temporary_card"))
    assert CARD in html and EXTENSION not in html


def test_search_by_business_key_or_requester(as_user):
    client = as_user("approver")
    by_key = page(client.get("/inbox?q=yq-1"))
    assert EXTENSION in by_key and CARD not in by_key
    by_requester = page(client.get("/inbox?q=部门秘书"))
    assert EXTENSION in by_requester and CARD in by_requester
    assert CARD not in page(client.get("/inbox?q=nobody"))


def test_filter_by_department_and_creation_date(as_user, in_db):
    client = as_user("approver")
    cs, logi = department_id(in_db, "CS"), department_id(in_db, "LOGI")
    assert CARD in page(client.get(f"/inbox?department={cs}"))
    assert CARD not in page(client.get(f"/inbox?department={logi}"))
    assert CARD not in page(client.get("/inbox?to=2000-01-01"))
    assert CARD in page(client.get("/inbox?from=2000-01-01"))


def test_overdue_tasks_are_marked_and_can_be_filtered(as_user, in_db):
    late = open_task(in_db, CARD)
    set_due(in_db, late, datetime.now(UTC) - timedelta(hours=1))
    set_due(in_db, open_task(in_db, EXTENSION), datetime.now(UTC) + timedelta(days=1))
    client = as_user("approver")
    html = page(client.get("/inbox"))
    row = re.search(rf'<tr class="overdue" data-task="{late}">.*?</tr>', html, re.S)
    assert row and "已超期" in row.group(0)
    assert html.count("overdue-label") == 1
    only_late = page(client.get("/inbox?overdue=1"))
    assert CARD in only_late and EXTENSION not in only_late


def test_a_saved_filter_is_listed_applied_and_deleted(as_user, in_db):
    client = as_user("approver")
    reply = client.post("/inbox/filters", data={"name": "临时卡", "process": "temporary_card"})
    assert reply.status_code == 302 and "process=temporary_card" in reply.headers["Location"]
    saved = in_db(lambda: db.session.execute(select(SavedFilter.id, SavedFilter.name,
                                                    SavedFilter.params)).one())  # fmt: skip
    assert (saved.name, saved.params) == ("临时卡", {"process": "temporary_card"})
    html = page(client.get("/inbox"))
    assert '<a href="/inbox?process=temporary_card">临时卡</a>' in html
    client.post(f"/inbox/filters/{saved.id}/delete")
    assert in_db(lambda: db.session.scalars(select(SavedFilter.id)).all()) == []
    assert "临时卡</a>" not in page(client.get("/inbox"))


def test_another_users_saved_filter_cannot_be_deleted(as_user, in_db):
    as_user("approver").post("/inbox/filters", data={"name": "mine", "q": "DEMO"})
    saved = in_db(lambda: db.session.scalar(select(SavedFilter.id)))
    as_user("cardoffice").post(f"/inbox/filters/{saved}/delete")
    assert in_db(lambda: db.session.scalars(select(SavedFilter.id)).all()) != []


def test_pages_continue_with_older_tasks(web, as_user, in_db):
    file_card_requests(in_db, 20, "MORE")
    client = as_user("approver")
    first = page(client.get("/inbox"))
    assert "MORE-19" in first and EXTENSION not in first
    older = re.search(r'href="([^"]*after=[^"]*)">更早的任务', first).group(1)
    second = page(client.get(older.replace("&amp;", "&")))
    assert CARD in second and EXTENSION in second and "MORE-19" not in second


def test_the_department_column_is_in_the_readers_language(as_user):
    client = as_user("approver")
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{CARD}.*?</tr>", page(client.get("/inbox")), re.S)
    assert "信息科学与工程学院" in row.group(0)
    client.post("/language", data={"lang": "en", "next": "/"})
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{CARD}.*?</tr>", page(client.get("/inbox")), re.S)
    assert "College of Information Science and Engineering" in row.group(0)
    assert "信息科学与工程学院" not in row.group(0)


def test_my_tasks_and_group_tasks_are_tabs_of_the_inbox(as_user, in_db):
    client = as_user("approver")
    client.post(f"/tasks/{open_task(in_db, CARD)}/claim")
    mine, group = page(client.get("/inbox?whose=mine")), page(client.get("/inbox?whose=group"))
    assert CARD in mine and EXTENSION not in mine
    assert EXTENSION in group and CARD not in group
    everything = page(client.get("/inbox"))
    assert CARD in everything and EXTENSION in everything
    assert re.search(r'href="/inbox\?whose=mine"[^>]*aria-current="page"', mine)
    # A tab keeps the other filters, and the filter form keeps the tab.
    narrowed = page(client.get("/inbox?whose=group&process=temporary_card"))
    assert CARD not in narrowed and EXTENSION not in narrowed
    assert 'href="/inbox?process=temporary_card&amp;whose=mine"' in narrowed
    assert '<input type="hidden" name="whose" value="group">' in narrowed


def test_my_tasks_include_those_of_whom_i_stand_in_for(as_user, in_db):
    approver = as_user("approver")
    approver.post(f"/tasks/{open_task(in_db, CARD)}/claim")
    assert CARD not in page(as_user("hr").get("/inbox?whose=mine"))
    today = in_db(lambda: Env(db.session, None, datetime.now(UTC)).today).isoformat()
    approver.post("/away", data={"username": "hr", "starts_on": today, "ends_on": today})
    assert CARD in page(as_user("hr").get("/inbox?whose=mine"))


def test_an_unknown_tab_shows_everything(as_user):
    html = page(as_user("approver").get("/inbox?whose=nonsense"))
    assert CARD in html and EXTENSION in html and 'name="whose"' not in html


# --- bulk approval ---------------------------------------------------------------------------


def test_only_plain_decisions_can_be_ticked_for_bulk_approval(as_user, in_db):
    html = page(as_user("approver").get("/inbox"))
    ticks = re.findall(r'name="task_id" value="(\d+)"', html)
    assert ticks == [str(open_task(in_db, EXTENSION))]


def test_bulk_approve_completes_plain_decisions_and_reports_the_rest(as_user, in_db):
    plain, certification = open_task(in_db, EXTENSION), open_task(in_db, CARD)
    client = as_user("approver")
    reply = client.post(
        "/inbox/bulk-approve",
        data={"task_id": [str(plain), str(certification)], "comment": "同意延期"},
    )
    assert reply.status_code == 302
    html = page(client.get("/inbox"))
    assert "已同意 1 项任务" in html
    assert f"未能同意 {CARD}" in html and "须填写表单" in html
    assert task_row(in_db, plain)["decision"] == "approve"
    assert task_row(in_db, certification)["state"] == TaskState.OPEN


def test_bulk_approve_refuses_a_task_of_someone_else_without_naming_it(as_user, in_db):
    theirs = open_task(in_db, "DEMO-SHJR-1")  # the supervising department's plain decision
    client = as_user("approver")
    client.post("/inbox/bulk-approve", data={"task_id": [str(theirs)]})
    html = page(client.get("/inbox"))
    assert f"未能同意 #{theirs}：任务不存在" in html and "DEMO-SHJR-1" not in html
    assert task_row(in_db, theirs)["state"] == TaskState.OPEN


def test_bulk_approve_refuses_the_applicants_own_request(as_user, in_db):
    add_user(in_db, "boss", (Role.APPLICANT, "CS"), (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, EXTENSION)
    filed_by(in_db, task, "boss")
    client = as_user("boss")
    client.post("/inbox/bulk-approve", data={"task_id": [str(task)]})
    assert "申请人不能审批自己的申请" in page(client.get("/inbox"))
    assert task_row(in_db, task)["state"] == TaskState.OPEN


def test_bulk_approve_reports_a_database_failure_of_one_task_and_carries_on(
    as_user, in_db, monkeypatch
):
    failing, plain = open_task(in_db, CARD), open_task(in_db, EXTENSION)

    def make_plain():
        db.session.get(HumanTask, failing).form = "decision"

    in_db(make_plain)
    complete = tasks.complete

    def deadlocked(env, task_id, data):
        if task_id != failing:
            return complete(env, task_id, data)
        env.session.get(HumanTask, task_id).decision = "approve"  # written, then lost
        env.session.flush()
        raise OperationalError("UPDATE process_instances ...", {}, Exception("deadlock detected"))

    monkeypatch.setattr(tasks, "complete", deadlocked)
    client = as_user("approver")
    reply = client.post("/inbox/bulk-approve", data={"task_id": [str(failing), str(plain)]})
    assert reply.status_code == 302
    html = page(client.get("/inbox"))
    assert "已同意 1 项任务" in html and f"未能同意 {CARD}" in html and "系统暂时无法办理" in html
    assert "deadlock" not in html
    assert task_row(in_db, plain)["decision"] == "approve"
    assert task_row(in_db, failing)["state"] == TaskState.OPEN
    assert task_row(in_db, failing)["decision"] is None


def test_bulk_approve_in_english_reports_the_failure_in_english(as_user, in_db, monkeypatch):
    failing = open_task(in_db, EXTENSION)

    def lost(env, task_id, data):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(tasks, "complete", lost)
    client = as_user("approver")
    client.post("/language", data={"lang": "en", "next": "/"})
    client.post("/inbox/bulk-approve", data={"task_id": [str(failing)]})
    html = page(client.get("/inbox"))
    assert f"Could not approve {EXTENSION}" in html and "try again later" in html


# --- statements per page -----------------------------------------------------------------------


def statements_for(web, client, url: str) -> int:
    with web.app_context():
        engine = db.engine
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_inbox_page_takes_as_many_statements_for_many_tasks_as_for_few(web, as_user,
                                                                          in_db):  # fmt: skip
    client = as_user("approver")
    few = statements_for(web, client, "/inbox")
    file_card_requests(in_db, 30, "MANY")
    many = statements_for(web, client, "/inbox")
    filtered = statements_for(web, client, "/inbox?process=temporary_card&q=MANY&overdue=")
    # A filtered page also counts the unfiltered total for the menu: one statement more.
    assert many == few and filtered == few + 1
    assert few <= 10
