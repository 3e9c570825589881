"""Malformed uploads (issue 8): each is refused with a message in the user's language, and
nothing changes in the database (every table counted before and after).

Covered elsewhere, not repeated here:
- rosters, read: tests/forms/test_roster.py (a missing column, a header only, an empty file,
  an old .xls, a broken zip, a huge field, too many rows, UTF-16 "Unicode text");
- rosters, filed: tests/procedures/termination/test_roster_upload.py (UTF-8, UTF-8 with BOM,
  GBK as Excel writes it and XLSX all accepted with the same entries; errors by row number)
  and tests/web/test_portal_requests.py (an error row named on the page, a clean roster
  filed, no file chosen);
- attachments: tests/web/test_portal.py (over 5 MB on the start form: 413, input kept) and
  tests/web/test_instances.py (over 5 MB, exactly 5 MB, no file, folders in the name);
- BPMN: tests/workflows/test_deploy.py and test_safeguards.py (malformed XML, schema errors,
  unknown forms and actions, unsafe scripts, tasks outside lanes, cycle timers).

Here, through the portal: rosters that are no roster (garbage, a picture or a text file
renamed, a hostile or damaged workbook, wrong columns), the three encodings Excel users send
(UTF-8 with and without BOM, GBK), bodies over MAX_CONTENT_LENGTH (413, naming the limit),
attachments that a browser would run; and BPMN as the IT centre deploys it (`flask workflows
deploy`): no XML, XML that is no BPMN, external entities, entity expansion ("billion
laughs"), constructs the engine does not run, a process id taken by another file.
"""

import codecs
import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from ledger.base import Base
from ledger.models.cards import Card
from ledger.models.people import Person
from tests.web import conftest as web_fixtures
from tests.web.api_support import PROBLEM, ApiClient, token_of
from workflows.models import ProcessInstance
from workflows.webstate import Attachment

#: The web tests' fixtures: an app on a copy of the demo database, logged-in clients.
demo_database, web, web_config = (
    web_fixtures.demo_database,
    web_fixtures.web,
    web_fixtures.web_config,
)
as_user, in_db = web_fixtures.as_user, web_fixtures.in_db
ROOT = Path(__file__).resolve().parents[2]
HEADER = "卡号,姓名,原因"
#: What a body over MAX_CONTENT_LENGTH (16 MB) is told.
TOO_LARGE = {
    "zh": "上传的内容超过 16 MB 的上限，未做任何处理",
    "en": "What you sent is larger than the 16 MB limit, so nothing was done",
}


def row_counts(in_db) -> dict[str, int]:
    """Every table's row count."""

    def count():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }

    return in_db(count)


def client_in(as_user, login: str, language: str):
    client = as_user(login)
    client.post("/language", data={"lang": language, "next": "/"})
    return client


def send_roster(client, content: bytes, name: str):
    data = {"action": "roster", "note": "毕业离校", "roster": (io.BytesIO(content), name)}
    return client.post("/start/forced_termination", data=data)


def xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_sheet(content: bytes, change) -> bytes:
    """The workbook `content` with its sheet's XML passed through `change`."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            target.writestr(item.filename, data)
    return out.getvalue()


def _entity(declaration: bytes):
    """A change of the XML: `declaration` (of the entity `e`) made, and 张三 replaced by `&e;`."""

    def change(data: bytes) -> bytes:
        declared = data.replace(b"?>", b"?><!DOCTYPE x [" + declaration + b"]>", 1)
        # openpyxl writes the text as character references
        return declared.replace("张三".encode("ascii", "xmlcharrefreplace"), b"&e;")

    return change


EXTERNAL_ENTITY = b'<!ENTITY e SYSTEM "file:///etc/passwd">'
#: "Billion laughs": ten entities each ten times the one before, a gigabyte once expanded.
LAUGHS = (
    b'<!ENTITY a0 "ha">'
    + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b'<!ENTITY e "&a9;">'
)


def _not_a_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:  # a .docx, say: a zip, no workbook
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return out.getvalue()


GOOD_XLSX = xlsx([HEADER.split(","), ["2024000001", "张三", "毕业"]])

#: (id, file name, content, what the zh and the en message say).
NO_ROSTERS = [
    ("garbage", "名单.csv", bytes(range(256)) * 8, "编码无法识别", "unknown encoding"),
    ("picture", "名单.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "二进制内容", "binary data"),
    ("utf16-no-bom", "名单.csv", f"{HEADER}\n1,张三,毕业\n".encode("utf-16-le"),
     "二进制内容", "binary data"),
    ("text-named-xlsx", "名单.xlsx", f"{HEADER}\n1,张三,毕业\n".encode(),
     "内容不是 Excel 工作簿", "no Excel workbook"),
    ("zip-no-workbook", "名单.xlsx", _not_a_workbook(), "不是有效的 xlsx 文件", "not a valid xlsx"),
    ("external-entity-xlsx", "名单.xlsx", with_sheet(GOOD_XLSX, _entity(EXTERNAL_ENTITY)),
     "不是有效的 xlsx 文件", "not a valid xlsx"),
    ("billion-laughs-xlsx", "名单.xlsx", with_sheet(GOOD_XLSX, _entity(LAUGHS)),
     "不是有效的 xlsx 文件", "not a valid xlsx"),
    ("cut-xlsx", "名单.xlsx", GOOD_XLSX[: len(GOOD_XLSX) // 2], "不是有效的 xlsx 文件",
     "not a valid xlsx"),
    ("wrong-columns", "名单.csv", "学号,名字,备注\n1,张三,毕业\n".encode("gbk"),
     "缺少列：卡号、姓名、原因", "needs card_no, name and reason"),
    ("empty", "名单.csv", b"", "没有数据行", "no data rows"),
    ("bom-only", "名单.csv", codecs.BOM_UTF8, "没有数据行", "no data rows"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "zh", "en"), [case[1:] for case in NO_ROSTERS],
    ids=[case[0] for case in NO_ROSTERS],
)  # fmt: skip
def test_a_file_that_is_no_roster_is_refused_and_nothing_changes(
    as_user, in_db, name, content, zh, en
):
    before = row_counts(in_db)
    for language, says in (("zh", zh), ("en", en)):
        reply = send_roster(client_in(as_user, "registrar", language), content, name)
        page = reply.get_data(as_text=True)
        assert reply.status_code == 422 and says in page and name in page, page
    assert row_counts(in_db) == before


def card_of(in_db, name: str) -> str:
    query = select(Card.card_no).join(Person).where(Person.name == name, Card.state == "active")
    return in_db(lambda: db.session.scalar(query))


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode(),
        lambda text: codecs.BOM_UTF8 + text.encode(),
        lambda text: text.replace("\n", "\r\n").encode("gbk"),  # Excel on a Chinese Windows
    ],
    ids=["utf8", "utf8-bom", "gbk-excel"],
)
def test_a_roster_in_utf8_with_or_without_bom_or_gbk_is_filed_with_its_rows(
    web, as_user, in_db, encode
):
    card = card_of(in_db, "吴俊杰")
    roster = f"{HEADER},证件号码\n{card},吴俊杰,毕业,\n{card},吴俊杰,毕业,\n"
    refused = send_roster(as_user("registrar"), encode(roster), "2026届毕业生.csv")
    assert "与第 2 行为同一持卡人" in refused.get_data(as_text=True)  # the rows were read
    reply = send_roster(as_user("registrar"), encode(roster[: roster.rindex(card)]), "名单.csv")
    assert reply.status_code == 302
    instance = int(reply.headers["Location"].rsplit("/", 1)[1])
    filed = ApiClient(web.test_client(), token_of(web, "registrar")).get(
        f"/api/v1/instances/{instance}"
    )
    entries = [
        {k: e[k] for k in ("card_no", "name", "reason")} for e in filed.json["data"]["entries"]
    ]
    assert entries == [{"card_no": card, "name": "吴俊杰", "reason": "graduated"}]


def _over_the_limit(client_post, path: str, **kwargs):
    """POST a body one byte over MAX_CONTENT_LENGTH, encoded in memory (the test client
    would spool it to a file that it never closes)."""
    boundary, body = encode_multipart(kwargs.pop("form"))
    return client_post(
        path, data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_body_over_the_limit_is_413_naming_the_limit_and_nothing_changes(
    web, as_user, in_db, language
):
    limit = web.config["MAX_CONTENT_LENGTH"]
    api = ApiClient(web.test_client(), token_of(web, "registrar"), language)
    before = row_counts(in_db)
    roster = FileStorage(io.BytesIO(b"x" * (limit + 1)), "名单.csv")
    form = {"action": "roster", "note": "毕业离校", "roster": roster}
    client = client_in(as_user, "registrar", language)
    web.config["WTF_CSRF_ENABLED"] = True  # as in production: the body is refused before that
    page = _over_the_limit(client.post, "/start/forced_termination", form=form)
    assert page.status_code == 413 and TOO_LARGE[language] in page.get_data(as_text=True)
    problem = api.post("/api/v1/instances/1/comments", json={"comment": "x" * limit})
    assert problem.status_code == 413 and problem.mimetype == PROBLEM
    assert TOO_LARGE[language] in problem.json["detail"]
    assert row_counts(in_db) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("说明.html", b"<script>alert(document.cookie)</script>"),
        ("签名.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ],
)
def test_a_file_a_browser_would_run_is_only_ever_downloaded(as_user, in_db, name, content):
    """Attachments are not limited by type (scans, Office files, archives all occur); what a
    browser would render or run is kept, but served only as a download, never shown in the
    app's origin."""
    client = as_user("applicant")
    instance = in_db(
        lambda: db.session.scalar(
            select(ProcessInstance.id).where(ProcessInstance.business_key == "DEMO-LSK-1")
        )
    )
    sent = client.post(
        f"/instances/{instance}/attachments", data={"file": (io.BytesIO(content), name)}
    )
    assert sent.status_code == 302
    attachment = in_db(lambda: db.session.scalar(select(func.max(Attachment.id))))
    download = client.get(f"/attachments/{attachment}")
    assert download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def _process_file(change) -> dict[str, bytes]:
    """{file name: content} to add to bpmn/: card_cancellation.bpmn passed through
    `change`."""
    text = (ROOT / "bpmn" / "card_cancellation.bpmn").read_text()
    return {"card_cancellation.bpmn": change(text).encode()}


def _spliced(element: str):
    """A change putting `element` (id x1) on the path after the request is filed."""
    flow = '<bpmn:sequenceFlow id="f_submit" sourceRef="submit" targetRef="check"/>'
    into = (
        '<bpmn:sequenceFlow id="f_submit" sourceRef="submit" targetRef="x1"/>'
        '<bpmn:sequenceFlow id="f_x1" sourceRef="x1" targetRef="check"/>' + element
    )
    return lambda text: text.replace(flow, into, 1)


def _named_by_entity(declaration: str):
    """A change declaring the entity `e` and naming the process by it."""
    return lambda text: text.replace("?>", f"?><!DOCTYPE d [{declaration}]>", 1).replace(
        'name="校园卡注销"', 'name="&e;"', 1
    )


#: (id, the files to add to or replace in bpmn/, what the refusal's reason says).
BAD_BPMN = [
    ("not-xml", {"extra.bpmn": b"\x89PNG\r\n\x1a\n\x00"}, "Start tag expected"),
    ("empty", {"extra.bpmn": b""}, "Document is empty"),
    ("xml-not-bpmn", {"extra.bpmn": b'<?xml version="1.0"?><note>hi</note>'},
     "No matching global declaration"),
    ("dmn-named-bpmn", {"extra.bpmn": (ROOT / "bpmn" / "card_fee.dmn").read_bytes()},
     "No matching global declaration"),
    ("external-entity", _process_file(_named_by_entity(EXTERNAL_ENTITY.decode())),
     "entity 'e'"),
    ("billion-laughs", _process_file(_named_by_entity(LAUGHS.decode())), "amplification"),
    ("unsupported-gateway", _process_file(_spliced('<bpmn:complexGateway id="x1"/>')),
     "no support"),
    ("call-to-no-process", _process_file(_spliced(
        '<bpmn:callActivity id="x1" calledElement="nowhere"/>')), "'nowhere' was not found"),
    ("taken-process-id", {"extra.bpmn": (ROOT / "bpmn" / "card_cancellation.bpmn").read_bytes()
     .replace(b'id="card_cancellation"', b'id="card_reissue"', 1)}, "Duplicate process ID"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "reason"), [case[1:] for case in BAD_BPMN], ids=[case[0] for case in BAD_BPMN]
)
def test_a_bpmn_file_the_engine_cannot_run_safely_is_refused_and_nothing_deployed(
    web, in_db, tmp_path, files, reason
):
    folder = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn", folder)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    web.config["BPMN_DIR"] = str(folder)
    before, started = row_counts(in_db), time.monotonic()
    result = web.test_cli_runner().invoke(args=["workflows", "deploy"])
    assert result.exit_code == 1 and time.monotonic() - started < 10
    (name,) = files
    assert f"流程文件 {name}" in result.output and "未部署任何内容" in result.output
    assert name in result.output and "nothing was deployed" in result.output
    assert reason.lower() in result.output.lower()
    assert row_counts(in_db) == before
