"""Delegation while away (代理) and the notifications page."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.engine import engine_config
from app.extensions import db
from tests.web.test_inbox import CARD, add_user, open_task, page, task_row
from tests.web.test_inbox_task import CERTIFY, add_role_holders
from workflows.identity import Role
from workflows.models import AuditEntry, Notification, Substitution


def campus_today(web):
    """Today on the campus calendar, the day substitutions count in."""
    with web.app_context():
        return datetime.now(UTC).astimezone(engine_config().ledger.zone).date()


def name_hr_as_substitute(web, client) -> None:
    """The client's user names hr as substitute from today for three days."""
    today = campus_today(web)
    form = {
        "username": "hr", "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=3)).isoformat(),
    }  # fmt: skip
    reply = client.post("/away", data=form)
    assert reply.status_code == 302 and reply.headers["Location"] == "/away"


def test_the_substitute_sees_and_decides_the_absent_users_tasks(web, as_user, in_db):
    approver = as_user("approver")
    name_hr_as_substitute(web, approver)
    assert "人事处 (hr)" in page(approver.get("/away"))
    substitute = as_user("hr")
    assert CARD in page(substitute.get("/inbox"))
    task = open_task(in_db, CARD)
    html = page(substitute.get(f"/tasks/{task}"))
    assert "您正代理 部门负责人（信息学院） 处理此任务" in html
    assert substitute.post(f"/tasks/{task}/decide", data=CERTIFY).status_code == 302
    assert task_row(in_db, task)["decision"] == "approve"
    query = select(AuditEntry.on_behalf_of_id).where(AuditEntry.action == "approve")
    assert in_db(lambda: db.session.scalar(query)) is not None


def test_ending_a_substitution_takes_the_tasks_back(web, as_user, in_db):
    approver = as_user("approver")
    name_hr_as_substitute(web, approver)
    substitution = in_db(lambda: db.session.scalar(select(Substitution.id)))
    assert approver.post(f"/away/{substitution}/end").status_code == 302
    assert CARD not in page(as_user("hr").get("/inbox"))
    assert "当前没有代理" in page(approver.get("/away"))


def test_a_substitution_in_the_past_is_refused_with_the_input_kept(web, as_user):
    yesterday = (campus_today(web) - timedelta(days=1)).isoformat()
    form = {"username": "hr", "starts_on": yesterday, "ends_on": yesterday}
    reply = as_user("approver").post("/away", data=form)
    assert reply.status_code == 422
    html = page(reply)
    assert "代理期限须从今天或以后开始" in html and f'value="{yesterday}"' in html


def test_only_who_named_a_substitute_ends_it(web, as_user, in_db):
    name_hr_as_substitute(web, as_user("approver"))
    substitution = in_db(lambda: db.session.scalar(select(Substitution.id)))
    assert as_user("hr").post(f"/away/{substitution}/end").status_code == 403


def test_notifications_list_unread_ones_with_their_link_and_mark_them_read(as_user, in_db):
    client = as_user("approver")
    html = page(client.get("/notifications"))
    assert f"待办：临时卡申请（{CARD}）" in html and 'href="/instances/' in html
    shown = re.findall(r'name="notification_id" value="(\d+)"', html)
    reply = client.post("/notifications/read", data={"notification_id": shown})
    assert reply.status_code == 302
    assert "没有未读通知" in page(client.get("/notifications"))
    unread = select(Notification.id).where(Notification.read_at.is_(None))
    assert not set(shown) & {str(i) for i in in_db(lambda: db.session.scalars(unread).all())}


def test_notifications_show_in_the_users_language(as_user):
    client = as_user("approver")
    client.post("/language", data={"lang": "en", "next": "/"})
    html = page(client.get("/notifications"))
    assert f"New task: 临时卡申请 ({CARD})" in html and "Unread notifications" in html


def substitute_choices(html: str) -> list[str]:
    """The usernames the substitute list of /away offers."""
    found = re.search(r'<select id="f-substitute" name="substitute_id">(.*?)</select>', html, re.S)
    return re.findall(r"\(([^)]+)\)</option>", found[1])


def test_away_offers_colleagues_sharing_a_role_and_a_username_box(as_user, in_db):
    add_user(in_db, "deputy", (Role.DEPT_APPROVER, "CS"))
    add_user(in_db, "everywhere", (Role.DEPT_APPROVER, None))
    add_user(in_db, "logi_approver", (Role.DEPT_APPROVER, "LOGI"))
    html = page(as_user("approver").get("/away"))
    assert substitute_choices(html) == ["deputy", "everywhere"]
    assert 'name="username"' in html


def test_away_offers_at_most_fifty_colleagues(as_user, in_db):
    add_role_holders(in_db, 60, Role.DEPT_APPROVER, "CS", "cs")
    assert len(substitute_choices(page(as_user("approver").get("/away")))) == 50


def test_anyone_is_reached_by_typing_a_username(web, as_user, in_db):
    name_hr_as_substitute(web, as_user("approver"))  # hr shares no role with the approver
    assert in_db(lambda: db.session.scalar(select(Substitution.substitute_id))) is not None
