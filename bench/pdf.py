"""Printed documents: how long one takes to render and how big it is, with the forms' own font
(Campus Sans, `make fonts`) and with stock WeasyPrint on the system's Noto Sans CJK SC.

    .venv/bin/python bench/pdf.py [--runs 20] [--stock-runs 20]

Set-up: the demo data on SQLite in a temporary folder, the demo temporary card request
certified, reviewed and both people issued their cards at the counter (the second card's
receipt is printed), a settlement run, a cardholder's top-up from the bank, a graduate's card
terminated (a bank refund). Each document is fetched once through the web app (as its users
do) while the renderer's input, the document and its plain data, is recorded; then that input
is rendered `--runs` times by one warm renderer with the forms' fonts, and `--stock-runs` times
by one with only the system's Noto Sans CJK SC (the same template, PDF/A-3b both).

Prints per document the median ms and the bytes of both; the last line is a JSON object
`{"median_ms_max", "bytes_max", "stock_median_ms"}` (the slowest document's median, the
biggest document, the stock renderer's median over all documents). Goal: at most 150 ms
(median, warm process) and 60 KB a document.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

import app.printouts.respond as respond  # noqa: E402
from app import create_app  # noqa: E402
from app.auth.accounts import find_user  # noqa: E402
from app.demo import DEMO_PASSWORD  # noqa: E402
from app.demo_requests import load_demo_with_requests  # noqa: E402
from app.engine import engine_config  # noqa: E402
from app.extensions import db  # noqa: E402
from app.uow import unit_of_work  # noqa: E402
from ledger.base import Base  # noqa: E402
from ledger.context import Ctx  # noqa: E402
from ledger.models.cards import Card, CardEvent  # noqa: E402
from ledger.models.merchants import Settlement  # noqa: E402
from ledger.models.people import Person  # noqa: E402
from ledger.ops.closing import TerminationReason, terminate_card  # noqa: E402
from ledger.ops.money import TopUpMethod, top_up  # noqa: E402
from ledger.ops.settlement import run_settlement  # noqa: E402
from reports.pdf import Renderer  # noqa: E402
from workflows import runtime, tasks  # noqa: E402
from workflows.context import Env  # noqa: E402
from workflows.models import ProcessInstance  # noqa: E402

GOAL_MS, GOAL_BYTES = 150, 60 * 1024
#: The temporary card request's steps and who takes them (DEMO-LSK-1, two people).
TEMPORARY_CARD_STEPS = [
    ("approver", {"decision": "approve", "certified": True, "comment": "经核实，确为本单位聘用"}),
    ("cardoffice", {"decision": "approve", "comment": "材料齐全"}),
    ("cardoffice", {"decision": "approve", "identity_checked": True, "fee_paid": True}),
    ("cardoffice", {"decision": "approve", "identity_checked": True, "fee_paid": True}),
]


def build_demo(folder: Path):
    """The app on a demo database in `folder`, with what the documents print, and the ids."""
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI":
                      f"sqlite:///{folder / 'demo.sqlite3'}"})  # fmt: skip
    now = datetime.now(UTC)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            load_demo_with_requests(db.session, now, app.config["BPMN_DIR"], engine_config(app))
        with unit_of_work():
            ids = _act(now)
    return app, ids


def _instance(key: str) -> ProcessInstance:
    query = select(ProcessInstance).where(ProcessInstance.business_key == key)
    return db.session.scalar(query)


def _act(now: datetime) -> dict:
    request = _instance("DEMO-LSK-1")
    for login, decision in TEMPORARY_CARD_STEPS:
        env = Env(db.session, find_user(db.session, login), now, engine_config())
        task = runtime.open_tasks(db.session, request.id)[0]
        tasks.complete(env, task.id, decision)
    ctx = Ctx(db.session, "user:cardoffice", now)
    person = db.session.scalar(select(Person).where(Person.name == "王建国"))
    card_no = db.session.scalar(select(Card.card_no).where(Card.person_id == person.id))
    top_up(ctx, card_no, 5000, TopUpMethod.BANK)
    run_settlement(Ctx(db.session, "user:settlement", now + timedelta(days=8)))
    graduate = db.session.scalar(select(Card.card_no).join(Person).where(Person.name == "吴俊杰"))
    refund = terminate_card(ctx, graduate, TerminationReason.GRADUATED)["refund_id"]
    return {
        "requests": {key: _instance(key).id for key in
                     ("DEMO-LSK-1", "DEMO-SHJR-1", "DEMO-BB-1", "DEMO-QZZZ-1", "DEMO-YQ-1")},
        "issued": db.session.scalar(
            select(func.max(CardEvent.id)).where(CardEvent.reason == "issued")
        ),
        "settlement": db.session.scalar(  # the busiest merchant's
            select(Settlement.id).order_by(Settlement.turnover.desc()).limit(1)
        ),
        "person": person.id, "refund": refund,
    }  # fmt: skip


def documents(ids: dict) -> list[tuple[str, str, str]]:
    """(name, login, address) of each document the bench prints."""
    today = datetime.now(UTC).date()
    since = (today - timedelta(days=60)).isoformat()
    found = [
        (f"request {key}", "admin", f"/requests/{instance_id}/form.pdf")
        for key, instance_id in ids["requests"].items()
    ]
    return found + [
        ("receipt", "cardoffice", f"/counter/receipts/event/{ids['issued']}.pdf"),
        ("settlement statement", "settlement", f"/merchants/settlements/{ids['settlement']}.pdf"),
        ("refund batch", "settlement", f"/merchants/refunds/batch.pdf?refund_id={ids['refund']}"),
        ("cardholder statement", "cardoffice",
         f"/counter/people/{ids['person']}/statement.pdf?from={since}&to={today.isoformat()}"),
    ]  # fmt: skip


def record_inputs(app, wanted: list[tuple[str, str, str]]) -> list[tuple[str, tuple]]:
    """Fetch each document once through the app; (name, (document, data, stamp)) of each."""
    recorded, render = [], respond.render

    def recording(document, data, stamp):
        recorded.append((document, data, stamp))
        return render(document, data, stamp)

    respond.render = recording
    try:
        inputs = []
        for name, login, address in wanted:
            client = app.test_client()
            client.post("/login", data={"username": login, "password": DEMO_PASSWORD})
            reply = client.get(address)
            if reply.status_code != 200 or reply.mimetype != "application/pdf":
                raise SystemExit(f"{name}: {address} answered {reply.status_code}")
            inputs.append((name, recorded.pop()))
        return inputs
    finally:
        respond.render = render


def measure(renderer: Renderer, given: tuple, runs: int) -> tuple[float, int]:
    """(median ms, bytes) of `runs` renders of `given` (after one to warm up)."""
    size = len(renderer.render(*given))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        renderer.render(*given)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stock-runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as folder:
        app, ids = build_demo(Path(folder))
        with app.app_context():
            inputs = record_inputs(app, documents(ids))
    ours, stock = Renderer(), Renderer("stock-fonts.css")
    print(f"{'document':<24} {'ms':>8} {'bytes':>8}   {'stock ms':>9} {'stock bytes':>11}")
    results = []
    for name, given in inputs:
        mine, theirs = measure(ours, given, args.runs), measure(stock, given, args.stock_runs)
        results.append((mine, theirs))
        print(f"{name:<24} {mine[0]:8.1f} {mine[1]:8d}   {theirs[0]:9.1f} {theirs[1]:11d}")
    median_max = max(mine[0] for mine, _ in results)
    bytes_max = max(mine[1] for mine, _ in results)
    stock_median = statistics.median(theirs[0] for _, theirs in results)
    met = median_max <= GOAL_MS and bytes_max <= GOAL_BYTES
    print(f"goal: at most {GOAL_MS} ms and {GOAL_BYTES} bytes a document: "
          f"{'met' if met else 'NOT met'}")  # fmt: skip
    print(json.dumps({"median_ms_max": round(median_max, 1), "bytes_max": bytes_max,
                      "stock_median_ms": round(stock_median, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
