"""Administration of delegations (代理): every substitution with an end button, and naming a
substitute for a user who cannot (fell ill, say)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.accounts import find_user
from app.extensions import db
from tests.web.test_admin import env_of, text_of
from workflows.models import Substitution


def test_admin_sees_and_ends_anyone_s_substitution(as_user, in_db):
    def name_substitute():
        approver, hr = find_user(db.session, "approver"), find_user(db.session, "hr")
        today = env_of("approver").today
        row = Substitution(
            user_id=approver.id, substitute_id=hr.id, starts_on=today - timedelta(days=2),
            ends_on=today + timedelta(days=5),
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        return row.id, today

    row_id, today = in_db(name_substitute)
    admin = as_user("admin")
    page = text_of(admin.get("/admin/delegations"))
    assert "部门负责人（信息学院）" in page and "进行中" in page
    assert admin.post(f"/admin/delegations/{row_id}/end").status_code == 302
    ends_on = in_db(lambda: db.session.get(Substitution, row_id).ends_on)
    assert ends_on == today - timedelta(days=1)
    assert "结束代理" not in text_of(admin.get("/admin/delegations"))


def test_admin_names_a_substitute_for_a_user_who_fell_ill(as_user, in_db):
    admin = as_user("admin")
    approver_id = in_db(lambda: find_user(db.session, "approver").id)
    page = text_of(admin.get(f"/admin/users/{approver_id}"))
    assert "/admin/delegations?user=approver" in page
    form = text_of(admin.get("/admin/delegations?user=approver"))
    assert 'name="username"' in form and 'value="approver"' in form
    today = in_db(lambda: env_of("admin").today)
    data = {
        "username": "approver", "substitute": "hr", "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=2)).isoformat(),
    }  # fmt: skip
    reply = admin.post("/admin/delegations", data=data)
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/delegations"
    row = in_db(lambda: db.session.execute(select(Substitution.user_id, Substitution.substitute_id,
                                                  Substitution.ends_on)).one())  # fmt: skip
    hr_id = in_db(lambda: find_user(db.session, "hr").id)
    assert tuple(row) == (approver_id, hr_id, today + timedelta(days=2))
    assert "DEMO-LSK-1" in text_of(as_user("hr").get("/inbox"))  # the ill approver's task


@pytest.mark.parametrize(
    "change, message",
    [
        ({"username": "nobody"}, "找不到用户：nobody"),
        ({"substitute": "approver"}, "不能指定本人为代理人"),
        ({"starts_on": "2000-01-01"}, "代理期限须从今天或以后开始"),
        ({"ends_on": ""}, "必填"),
    ],
    ids=["unknown-user", "oneself", "in-the-past", "no-end"],
)
def test_naming_a_substitute_is_refused_with_the_input_kept(as_user, in_db, change, message):
    today = in_db(lambda: env_of("admin").today).isoformat()
    data = {"username": "approver", "substitute": "hr", "starts_on": today, "ends_on": today}
    posted = {**data, **change}
    reply = as_user("admin").post("/admin/delegations", data=posted)
    page = text_of(reply)
    assert reply.status_code == 422 and message in page
    assert f'value="{posted["username"]}"' in page and f'value="{posted["substitute"]}"' in page
    assert in_db(lambda: db.session.scalars(select(Substitution.id)).all()) == []
