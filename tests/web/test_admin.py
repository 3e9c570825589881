"""Administration: users and roles, definitions, instances with filters and
suspend / resume / terminate, incidents with retry and cancel, the audit trail and its chains
(delegations: test_admin_delegations.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.admin import queries
from app.auth.accounts import find_user
from app.demo import LOGINS
from app.engine import engine_config
from app.extensions import db
from ledger.models.people import Department
from workflows import runtime, tasks
from workflows.context import Env
from workflows.models import (
    AuditEntry,
    Incident,
    IncidentState,
    InstanceStatus,
    ProcessInstance,
    TaskState,
)
from workflows.registry import ACTIONS

DEMO_USERS = len(LOGINS)


def text_of(reply) -> str:
    return reply.get_data(as_text=True)


def instance_by_key(key: str) -> ProcessInstance:
    return db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))


def env_of(username: str) -> Env:
    return Env(db.session, find_user(db.session, username), datetime.now(UTC), engine_config())


# --- who may come in ----------------------------------------------------------------------


def admin_routes(app) -> list[tuple[str, str]]:
    """(method, url) of every admin route, with 1 for each id in it."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        values = {name: 1 for name in rule.arguments}
        if "action" in rule.arguments:
            values["action"] = "suspend"
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        found += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize("login", ["applicant", "approver", "cardoffice", "settlement", "hr"])
def test_everyone_but_administrators_gets_403_on_every_admin_route(web, as_user, login):
    client = as_user(login)
    routes = admin_routes(web)
    assert len(routes) >= 20
    refused = {(m, url): client.open(url, method=m).status_code for m, url in routes}
    assert set(refused.values()) == {403}, refused


def test_anonymous_visitors_are_sent_to_log_in(web):
    reply = web.test_client().get("/admin/users")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


def test_the_admin_overview_counts_live_requests(as_user):
    page = text_of(as_user("admin").get("/admin"))
    assert "未结束的申请" in page and "未处理的故障" in page


# --- users and roles ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["%", "_"])
def test_a_wildcard_typed_in_the_user_search_is_itself(as_user, typed):
    admin = as_user("admin")
    assert "approver" in admin.get("/admin/users?q=pro").get_data(as_text=True)
    assert "approver" not in admin.get(f"/admin/users?q={typed}").get_data(as_text=True)


def test_admin_creates_a_user_grants_a_role_and_the_user_logs_in_with_it(web, as_user, in_db):
    admin = as_user("admin")
    form = {"username": "wangfang", "display_name": "王芳", "password": "s3cret-pass"}
    reply = admin.post("/admin/users/new", data=form)
    assert reply.status_code == 302
    user_id = in_db(lambda: find_user(db.session, "wangfang").id)
    cs = in_db(lambda: db.session.scalar(select(Department.id).where(Department.code == "CS")))
    granted = admin.post(
        f"/admin/users/{user_id}/grants", data={"role": "dept_approver", "department_id": str(cs)}
    )
    assert granted.status_code == 302
    assert "部门审核人" in text_of(admin.get(f"/admin/users/{user_id}"))
    home = text_of(as_user("wangfang", "s3cret-pass").get("/"))
    assert "部门审核人" in home and "信息科学与工程学院" in home


@pytest.mark.parametrize(
    "form, message",
    [
        ({"username": "x", "display_name": "X", "password": "long-enough"}, "用户名须为"),
        ({"username": "shorty", "display_name": "短", "password": "pw-7chr"}, "密码须为 8"),
        ({"username": "admin", "display_name": "又一个", "password": "long-enough"}, "已存在"),
    ],
)
def test_a_bad_new_user_is_refused_and_nothing_is_created(as_user, in_db, form, message):
    reply = as_user("admin").post("/admin/users/new", data=form)
    assert reply.status_code == 422
    page = text_of(reply)
    assert message in page
    assert form["password"] not in page  # a password is never sent back
    assert in_db(lambda: len(queries.users(db.session))) == DEMO_USERS


def test_a_role_for_every_department_and_its_revocation(as_user, in_db):
    admin = as_user("admin")
    user_id = in_db(lambda: find_user(db.session, "hr").id)
    admin.post(f"/admin/users/{user_id}/grants", data={"role": "it_center"})
    grants = in_db(lambda: [(g.id, g.scope) for g in find_user(db.session, "hr").grants])
    assert "it_center" in [scope for _id, scope in grants]
    grant_id = next(i for i, scope in grants if scope == "it_center")
    assert admin.post(f"/admin/users/{user_id}/grants/{grant_id}/revoke").status_code == 302
    assert in_db(lambda: [g.scope for g in find_user(db.session, "hr").grants]) == ["hr"]


def test_a_grant_without_a_role_shows_the_form_again(as_user, in_db):
    user_id = in_db(lambda: find_user(db.session, "hr").id)
    reply = as_user("admin").post(f"/admin/users/{user_id}/grants", data={"role": ""})
    assert reply.status_code == 422 and "field-error" in text_of(reply)


def test_a_deactivated_user_cannot_log_in_until_activated_again(web, as_user, in_db):
    admin = as_user("admin")
    user_id = in_db(lambda: find_user(db.session, "approver").id)
    admin.post(f"/admin/users/{user_id}/active", data={"active": "0"})
    refused = web.test_client().post(
        "/login", data={"username": "approver", "password": "demo2026"}
    )
    assert refused.status_code == 200 and "用户名或密码错误" in text_of(refused)
    admin.post(f"/admin/users/{user_id}/active", data={"active": "1"})
    as_user("approver")


def test_an_administrator_cannot_lock_themselves_out(as_user, in_db):
    admin = as_user("admin")

    def my_grant():
        me = find_user(db.session, "admin")
        return me.id, me.grants[0].id

    user_id, grant_id = in_db(my_grant)
    deactivated = admin.post(
        f"/admin/users/{user_id}/active", data={"active": "0"}, follow_redirects=True
    )
    assert "不能停用自己的账号" in text_of(deactivated)
    revoked = admin.post(f"/admin/users/{user_id}/grants/{grant_id}/revoke", follow_redirects=True)
    assert "不能撤销自己的系统管理员角色" in text_of(revoked)
    assert in_db(lambda: [g.scope for g in find_user(db.session, "admin").grants]) == ["admin"]


def test_reset_password_lets_the_user_log_in_with_the_new_one(web, as_user, in_db):
    user_id = in_db(lambda: find_user(db.session, "registrar").id)
    admin = as_user("admin")
    short = admin.post(f"/admin/users/{user_id}/password", data={"password": "short"})
    assert short.status_code == 422
    admin.post(f"/admin/users/{user_id}/password", data={"password": "new-pass-2026"})
    as_user("registrar", "new-pass-2026")
    old = web.test_client().post("/login", data={"username": "registrar", "password": "demo2026"})
    assert old.status_code == 200


# --- definitions and instances ------------------------------------------------------------


def test_definitions_list_versions_with_their_instance_counts(as_user):
    page = text_of(as_user("admin").get("/admin/definitions"))
    assert "temporary_card" in page and "v1" in page
    assert "card_fee" in page  # the decision table
    assert "/admin/instances?definition=" in page


@pytest.mark.parametrize(
    "query, shown, hidden",
    [
        ("process=card_reissue", "DEMO-BB-1", "DEMO-LSK-1"),
        ("key=SHJR", "DEMO-SHJR-1", "DEMO-BB-1"),
        ("status=completed", None, "DEMO-BB-1"),
        ("status=running", "DEMO-LSK-1", None),
    ],
)
def test_instance_filters(as_user, query, shown, hidden):
    page = text_of(as_user("admin").get(f"/admin/instances?{query}"))
    if shown:
        assert shown in page
    if hidden:
        assert hidden not in page


def test_instance_filters_by_department_and_dates(as_user, in_db):
    logi = in_db(lambda: db.session.scalar(select(Department.id).where(Department.code == "LOGI")))
    admin = as_user("admin")
    by_department = text_of(admin.get(f"/admin/instances?department={logi}"))
    assert "DEMO-SHJR-1" in by_department and "DEMO-LSK-1" not in by_department
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert "DEMO-LSK-1" not in text_of(admin.get(f"/admin/instances?since={tomorrow}"))
    assert "DEMO-LSK-1" in text_of(admin.get(f"/admin/instances?until={tomorrow}"))


def test_instance_list_pages_through_fifty_at_a_time(as_user):
    page = text_of(as_user("admin").get("/admin/instances?page=2"))
    assert "没有符合条件的实例" in page  # five demo requests fit on page 1


def test_suspend_takes_tasks_out_of_inboxes_and_resume_brings_them_back(as_user, in_db):
    instance_id = in_db(lambda: instance_by_key("DEMO-LSK-1").id)
    admin = as_user("admin")
    missing_reason = admin.post(f"/admin/instances/{instance_id}/suspend", follow_redirects=True)
    assert "请填写原因" in text_of(missing_reason)
    admin.post(f"/admin/instances/{instance_id}/suspend", data={"reason": "核查材料"})

    def state():
        instance = db.session.get(ProcessInstance, instance_id)
        rows = runtime.open_tasks(db.session, instance_id, suspended=True)
        return instance.status, {row.state for row in rows}

    assert in_db(state) == (InstanceStatus.SUSPENDED, {TaskState.SUSPENDED})
    assert "恢复" in text_of(admin.get(f"/admin/instances/{instance_id}"))
    admin.post(f"/admin/instances/{instance_id}/resume")
    assert in_db(state) == (InstanceStatus.RUNNING, {TaskState.OPEN})
    trail = text_of(admin.get("/admin/audit?key=DEMO-LSK-1&action=suspend"))
    assert "核查材料" in trail


def test_terminate_ends_the_request_and_a_second_time_is_refused(as_user, in_db):
    instance_id = in_db(lambda: instance_by_key("DEMO-YQ-1").id)
    admin = as_user("admin")
    admin.post(f"/admin/instances/{instance_id}/terminate", data={"reason": "重复申请"})
    assert in_db(lambda: db.session.get(ProcessInstance, instance_id).status) == "terminated"
    again = admin.post(
        f"/admin/instances/{instance_id}/suspend", data={"reason": "x"}, follow_redirects=True
    )
    assert "不能挂起" in text_of(again)


# --- incidents ----------------------------------------------------------------------------


@pytest.fixture
def incident(in_db, monkeypatch):
    """The demo reissue DEMO-BB-1 approved at the counter while the reissue action fails:
    (incident id, instance id). The action works again once the fixture has returned."""

    def printer_offline(env, **params):
        raise RuntimeError("card printer offline")

    monkeypatch.setitem(ACTIONS, "cards.reissue", printer_offline)

    def approve_at_counter():
        instance = instance_by_key("DEMO-BB-1")
        (row,) = runtime.open_tasks(db.session, instance.id)
        decision = {"decision": "approve", "identity_checked": True, "fee_paid": True}
        tasks.complete(env_of("cardoffice"), row.id, decision)
        return runtime.open_incident_of(db.session, instance.id).id, instance.id

    found = in_db(approve_at_counter)
    monkeypatch.undo()
    return found


def test_an_incident_is_listed_with_its_error_task_and_attempts(as_user, incident):
    page = text_of(as_user("admin").get("/admin/incidents"))
    assert "DEMO-BB-1" in page and "card printer offline" in page
    assert "cards.reissue" in page and "重试" in page


def test_retrying_an_incident_runs_the_step_again_and_the_request_goes_on(as_user, in_db, incident):
    incident_id, instance_id = incident
    reply = as_user("admin").post(f"/admin/incidents/{incident_id}/retry", follow_redirects=True)
    assert "重试成功" in text_of(reply)
    state = in_db(
        lambda: (
            db.session.get(Incident, incident_id).state,
            db.session.get(ProcessInstance, instance_id).status,
        )
    )
    assert state[0] == IncidentState.RESOLVED and state[1] != InstanceStatus.INCIDENT


def test_a_retry_that_fails_again_counts_one_more_attempt(as_user, in_db, incident, monkeypatch):
    incident_id, _instance_id = incident
    monkeypatch.setitem(ACTIONS, "cards.reissue", lambda env, **p: 1 / 0)
    reply = as_user("admin").post(f"/admin/incidents/{incident_id}/retry", follow_redirects=True)
    assert "重试仍然失败" in text_of(reply)

    def state_and_attempts():
        row = db.session.get(Incident, incident_id)
        return row.state, row.attempts

    assert in_db(state_and_attempts) == (IncidentState.OPEN, 2)


def test_cancelling_an_incident_terminates_the_request(as_user, in_db, incident):
    incident_id, instance_id = incident
    admin = as_user("admin")
    admin.post(f"/admin/incidents/{incident_id}/cancel", data={"reason": "卡片改为柜台手工办理"})
    state = in_db(
        lambda: (
            db.session.get(Incident, incident_id).state,
            db.session.get(ProcessInstance, instance_id).status,
        )
    )
    assert state == (IncidentState.CANCELLED, InstanceStatus.TERMINATED)
    assert "没有未处理的故障" in text_of(admin.get("/admin/incidents"))


# --- the audit trail ----------------------------------------------------------------------


def test_audit_search_by_business_key_actor_and_action(as_user):
    admin = as_user("admin")
    by_key = text_of(admin.get("/admin/audit?key=DEMO-BB-1"))
    assert "DEMO-BB-1" in by_key and "DEMO-LSK-1" not in by_key
    by_actor = text_of(admin.get("/admin/audit?actor=registrar"))
    assert "DEMO-QZZZ-1" in by_actor and "DEMO-BB-1" not in by_actor
    assert "提交申请" in text_of(admin.get("/admin/audit?action=start"))
    assert "没有符合条件的审计记录" in text_of(admin.get("/admin/audit?action=retry"))


def test_audit_search_by_date(as_user):
    admin = as_user("admin")
    later = (date.today() + timedelta(days=2)).isoformat()
    assert "没有符合条件的审计记录" in text_of(admin.get(f"/admin/audit?since={later}"))
    assert "DEMO-BB-1" in text_of(admin.get(f"/admin/audit?until={later}"))


def test_verifying_untouched_chains_says_ok(as_user):
    page = text_of(as_user("admin").get("/admin/audit/verify"))
    assert "审计链校验通过" in page


def test_verifying_shows_each_broken_link_of_a_forged_row(as_user, in_db):
    def forge():
        # Rows cannot be updated or deleted (triggers); a row slipped in beside the engine
        # with a made-up hash is what tampering can still look like.
        instance = instance_by_key("DEMO-SHJR-1")
        row = AuditEntry(
            instance_id=instance.id, seq=instance.audit_seq + 1, action="approve",
            at=datetime.now(UTC), details={}, prev_hash=instance.audit_head, hash="f" * 64,
        )  # fmt: skip
        db.session.add(row)
        return row.seq

    seq = in_db(forge)
    page = text_of(as_user("admin").get("/admin/audit/verify"))
    assert "审计链校验失败" in page
    assert "申请 DEMO-SHJR-1" in page and f"第 {seq} 条" in page
    assert "row was changed" in page
