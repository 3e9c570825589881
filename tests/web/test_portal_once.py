"""A start form page files once: the page carries a token, and sending it again (a double
click, a reload, the same send twice at the same moment) answers with the request it filed
instead of filing another. Drafts name their subject in the user's language; the stored
title stays Chinese."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from app.extensions import db
from app.portal import filing
from forms.common import campus_today
from workflows import webstate
from workflows.models import ProcessInstance

from .test_portal import instance_count, temporary_card_form
from .test_portal_requests import _card_of

EXTENSION = "/start/temporary_card_extension"


def page_token(page: str, index: int = 0) -> str:
    """The `index`-th filing token of a start form page."""
    return re.findall(r'name="filing_token" value="([^"]+)"', page)[index]


def extension_form(token: str, **changes) -> dict:
    """The 临时卡延期 form of the review's reproduction, as its page would post it."""
    new_expiry = (campus_today() + timedelta(days=200)).isoformat()
    form = {"card_no": "88001234", "new_expiry": new_expiry, "reason": "项目延期"}
    return form | {"action": "file", "filing_token": token} | changes


def keys_of(in_db, process_id: str) -> list[str]:
    """The business keys of the process's requests filed from the portal (not the demo's)."""
    query = select(ProcessInstance.business_key).where(
        ProcessInstance.process_id == process_id, ~ProcessInstance.business_key.like("DEMO-%")
    )
    return in_db(lambda: sorted(db.session.scalars(query)))


def test_the_same_form_posted_twice_files_one_request_and_points_at_it(as_user, in_db):
    client = as_user("applicant")
    token = page_token(client.get(EXTENSION).get_data(as_text=True))
    first = client.post(EXTENSION, data=extension_form(token))
    second = client.post(EXTENSION, data=extension_form(token))
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    (key,) = keys_of(in_db, "temporary_card_extension")
    assert re.fullmatch(r"YQ-\d{8}-0001", key)
    shown = client.get(second.headers["Location"]).get_data(as_text=True)
    assert f"该申请已提交（业务编号 {key}），未重复提交" in shown


def test_two_pages_of_the_same_form_file_two_requests(as_user, in_db):
    client = as_user("applicant")
    tokens = [page_token(client.get(EXTENSION).get_data(as_text=True)) for _ in range(2)]
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert client.post(EXTENSION, data=extension_form(token)).status_code == 302
    assert [key[-4:] for key in keys_of(in_db, "temporary_card_extension")] == ["0001", "0002"]


def test_a_refused_form_keeps_its_token_and_files_once_corrected(as_user, in_db):
    client = as_user("applicant")
    token = page_token(client.get(EXTENSION).get_data(as_text=True))
    refused = client.post(EXTENSION, data=extension_form(token, reason=""))
    assert refused.status_code == 422
    assert page_token(refused.get_data(as_text=True)) == token
    assert client.post(EXTENSION, data=extension_form(token)).status_code == 302
    assert len(keys_of(in_db, "temporary_card_extension")) == 1


def test_a_token_someone_else_filed_with_files_a_new_request(as_user, in_db):
    applicant, colleague = as_user("applicant"), as_user("logistics")
    token = page_token(applicant.get(EXTENSION).get_data(as_text=True))
    mine = applicant.post(EXTENSION, data=extension_form(token))
    theirs = colleague.post(EXTENSION, data=extension_form(token))
    assert theirs.status_code == 302 and theirs.headers["Location"] != mine.headers["Location"]
    assert len(keys_of(in_db, "temporary_card_extension")) == 2


def note_without_looking(env, token, instance):
    """note_filing as if the other send had not committed when it looked: the database's
    unique token refuses the second."""
    env.session.add(webstate.Filing(
        token=token, user_id=env.user.id, process_id=instance.process_id, instance_id=instance.id,
    ))  # fmt: skip
    env.session.flush()


@pytest.mark.parametrize("refused_by", ["the engine", "the database"])
def test_the_same_page_sent_twice_at_the_same_moment_files_once(
    as_user, in_db, monkeypatch, refused_by
):
    # The second send looks before the first has committed, finds nothing, and files; the
    # page's token, noted by then, refuses it: it is answered with the first.
    real, looks = webstate.filed_from, []

    def before_the_first_commits(env, token, process_id):
        looks.append(token)
        return None if len(looks) == 2 else real(env, token, process_id)

    monkeypatch.setattr(filing, "filed_from", before_the_first_commits)
    if refused_by == "the database":
        monkeypatch.setattr(filing, "note_filing", note_without_looking)
    client = as_user("applicant")
    token = page_token(client.get("/start/temporary_card").get_data(as_text=True))
    first = client.post("/start/temporary_card", data=temporary_card_form(filing_token=token))
    second = client.post("/start/temporary_card", data=temporary_card_form(filing_token=token))
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    assert len(looks) == 3  # the second send looked again after it was refused
    assert len(keys_of(in_db, "temporary_card")) == 1


def test_a_roster_uploaded_twice_from_one_page_files_once(as_user, in_db):
    client = as_user("registrar")
    page = client.get("/start/forced_termination").get_data(as_text=True)
    roster_token, form_token = page_token(page, 0), page_token(page, 1)
    assert roster_token != form_token
    roster = f"卡号,姓名,原因\n{_card_of(in_db, '吴俊杰')},吴俊杰,毕业\n".encode()

    def upload():
        data = {"action": "roster", "note": "毕业离校", "filing_token": roster_token,
                "roster": (BytesIO(roster), "2026届毕业生.csv")}  # fmt: skip
        return client.post("/start/forced_termination", data=data)

    first, second = upload(), upload()
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert len(keys_of(in_db, "forced_termination")) == 1
    assert "未重复提交" in client.get(second.headers["Location"]).get_data(as_text=True)


def test_a_post_without_a_token_still_files(as_user, in_db):
    before = in_db(instance_count)
    form = extension_form("")
    assert as_user("applicant").post(EXTENSION, data=form).status_code == 302
    assert in_db(instance_count) == before + 1


# --- what a draft is about, in the user's language ------------------------------------------


def test_a_drafts_subject_is_shown_in_english_by_choice(as_user):
    client = as_user("applicant")
    client.post("/start/temporary_card", data=temporary_card_form(action="draft"))
    client.post(EXTENSION, data=extension_form("", action="draft"))
    assert "赵一鸣等 2 人" in client.get("/drafts").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/drafts").get_data(as_text=True)
    assert "赵一鸣 and others (2 people)" in page and "Card 88001234" in page
    assert "等 2 人" not in page and "卡号" not in page


def test_the_stored_title_stays_chinese_whatever_the_language(as_user, in_db):
    client = as_user("applicant")
    client.post("/language", data={"lang": "en", "next": "/"})
    reply = client.post(EXTENSION, data=extension_form(""))
    instance_id = int(reply.headers["Location"].rsplit("/", 1)[-1])
    title = in_db(lambda: db.session.get(ProcessInstance, instance_id).title)
    assert title == "临时卡延期：卡号 88001234"
