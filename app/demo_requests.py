"""Demo requests: one of each process waiting for someone, so that each demo login finds work
in its inbox. Filed through the engine like any request, on the BPMN files of BPMN_DIR."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.accounts import find_user
from app.demo import load_demo
from ledger.models.cards import Card
from ledger.models.people import Department, Person
from workflows.context import EngineConfig, Env
from workflows.deploy import deploy_directory
from workflows.instances import start_instance


def _visitor(name: str, id_number: str, post: str, days: int, today) -> dict:
    return {
        "name": name, "id_type": "resident_id", "id_number": id_number, "phone": "13900001111",
        "post": post, "work_from": today.isoformat(),
        "work_until": (today + timedelta(days=days)).isoformat(),
    }  # fmt: skip


def _requests(card_of, dept_id, today) -> list[tuple[str, str, str, dict, str | None]]:
    """(login, process, business key, start form, department code) of each demo request."""
    visitors = [
        _visitor("马文博", "110108198506123015", "项目研究助理", 180, today),
        _visitor("林雪", "130203199203184525", "短期访问学者", 60, today),
    ]
    merchant = {
        "name": "学苑超市", "category": "shop", "location": "学苑楼一层",
        "supervising_department_id": dept_id("LOGI"), "commercial": True,
        "settlement_account": "FIN-2026-0318",
    }  # fmt: skip
    return [
        ("applicant", "temporary_card", "DEMO-LSK-1", {
            "people": visitors, "reason": "科研项目临时聘用",
        }, "CS"),
        ("applicant", "temporary_card_extension", "DEMO-YQ-1", {
            "card_no": card_of("郑晓东"), "new_expiry": (today + timedelta(days=300)).isoformat(),
            "reason": "项目延期至明年",
        }, "CS"),
        ("logistics", "merchant_onboarding", "DEMO-SHJR-1", {
            "kind": "new", "merchant_code": "XUEYUAN", "merchant": merchant,
            "terminals": [{"code": "POS-XY-01", "kind": "pos", "location": "学苑楼一层收银台"}],
        }, "LOGI"),
        ("cardoffice", "card_reissue", "DEMO-BB-1", {
            "card_no": card_of("孙浩然"), "reason": "lost", "mode": "in_person",
        }, None),
        ("registrar", "forced_termination", "DEMO-QZZZ-1", {
            "entries": [{"card_no": card_of("周雨桐"), "name": "周雨桐", "reason": "graduated"}],
            "note": "2026 届毕业生",
        }, "ACAD"),
    ]  # fmt: skip


def file_demo_requests(session: Session, bpmn_dir: str, now: datetime, config: EngineConfig):
    """Deploy `bpmn_dir` and file the demo requests; returns them."""
    deploy_directory(session, bpmn_dir)

    def dept_id(code: str | None) -> int | None:
        query = select(Department.id).where(Department.code == code)
        return session.scalar(query) if code else None

    def card_of(name: str) -> str:
        return session.scalar(select(Card.card_no).join(Person).where(Person.name == name))

    filed = []
    today = now.astimezone(config.ledger.zone).date()
    for login, process, key, data, code in _requests(card_of, dept_id, today):
        env = Env(session, find_user(session, login), now, config)
        filed.append(start_instance(env, process, key, data, dept_id(code)))
    return filed


def load_demo_with_requests(
    session: Session, now: datetime, bpmn_dir: str, config: EngineConfig
) -> bool:
    """What `flask demo load` loads: the demo data and, with it, one request of each process
    (`bpmn_dir` deployed). False, loading nothing, if the demo data is there already."""
    loaded = load_demo(session, now)
    if loaded:
        file_demo_requests(session, bpmn_dir, now, config)
    return loaded
