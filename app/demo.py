"""Demo data: the departments of RULES.md and some colleges, people of every card type with
cards and balances, merchants and terminals at the seed's places, the kiosks of R27, and one
login per role. Loading twice changes nothing."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.accounts import create_user, find_user
from ledger.context import Ctx
from ledger.models.merchants import Kiosk, KioskKind, MerchantCategory, TerminalKind
from ledger.models.people import Department, DepartmentKind, IdType, Person, PersonCategory
from ledger.ops.cards import issue_card
from ledger.ops.merchants import admit_merchant, register_terminal
from ledger.ops.money import TopUpMethod, purchase, top_up
from ledger.ops.services import bind_bank_card
from ledger.passwords import initial_password
from workflows.identity import Role

DEMO_PASSWORD = "demo2026"
OFF, COL, UNIT = DepartmentKind.OFFICE, DepartmentKind.COLLEGE, DepartmentKind.UNIT
DEPARTMENTS = [
    ("ITC", "信息技术中心", "IT Centre", OFF),
    ("CARD", "卡务中心", "Card Service Centre", OFF),
    ("FIN", "财务处", "Finance Office", OFF),
    ("SETTLE", "结算中心", "Settlement Centre", OFF),
    ("HR", "人事处", "Human Resources", OFF),
    ("ACAD", "教务处", "Academic Affairs", OFF),
    ("GRAD", "研究生院", "Graduate School", OFF),
    ("LOGI", "后勤管理处", "Logistics Office", OFF),
    ("LIB", "图书馆", "Library", UNIT),
    ("HOSP", "校医院", "Campus Hospital", UNIT),
    ("PETRO", "石油工程学院", "College of Petroleum Engineering", COL),
    ("GEO", "地球科学学院", "College of Geosciences", COL),
    ("CHEM", "化学工程与环境学院", "College of Chemical Engineering and Environment", COL),
    ("CS", "信息科学与工程学院", "College of Information Science and Engineering", COL),
    ("ECON", "经济管理学院", "School of Economics and Management", COL),
]
P = PersonCategory
# name, ID type, ID number, category, department, network registered
PEOPLE = [
    ("王建国", IdType.RESIDENT_ID, "110105197503120318", P.FACULTY, "PETRO"),
    ("李红梅", IdType.RESIDENT_ID, "37010219800715262X", P.FACULTY, "CS"),
    ("张志远", IdType.RESIDENT_ID, "420106199002282417", P.POSTDOC, "GEO"),
    ("刘淑芬", IdType.RESIDENT_ID, "110108195404051221", P.RETIREE, "CHEM"),
    ("陈立新", IdType.RESIDENT_ID, "130102198811203016", P.AGENCY_STAFF, "HR"),
    ("Robert Miller", IdType.PASSPORT, "US5618273", P.EXTERNAL_EXPERT, "PETRO"),
    ("赵桂兰", IdType.RESIDENT_ID, "410105197209187745", P.EMPLOYEE, "LOGI"),
    ("孙浩然", IdType.RESIDENT_ID, "510104200403150035", P.UNDERGRADUATE, "CS"),
    ("周雨桐", IdType.RESIDENT_ID, "320106200508224428", P.UNDERGRADUATE, "ECON"),
    ("吴俊杰", IdType.RESIDENT_ID, "440106200112070813", P.POSTGRADUATE, "PETRO"),
    ("Aigerim Bekova", IdType.PASSPORT, "N12345678", P.INTERNATIONAL_STUDENT, "GEO"),
    ("郑晓东", IdType.RESIDENT_ID, "230102198607144516", P.OTHER, "CS"),
    ("钱丽娜", IdType.RESIDENT_ID, "150102199309283329", P.OTHER, "LIB"),
]
M = MerchantCategory
# code, name, category, place, operator, supervisor, commercial, terminals (kind, count)
MERCHANTS = [
    ("CANTEEN1", "第一食堂", M.CANTEEN, "第一食堂", "LOGI", "LOGI", False, (TerminalKind.POS, 4)),
    ("CANTEEN2", "第二食堂", M.CANTEEN, "第二食堂", "LOGI", "LOGI", False, (TerminalKind.POS, 3)),
    ("CANTEEN3", "第三食堂", M.CANTEEN, "第三食堂", "LOGI", "LOGI", False, (TerminalKind.POS, 3)),
    ("MARKET", "校内超市", M.SHOP, "第二食堂一层", "LOGI", "LOGI", True, (TerminalKind.POS, 2)),
    ("LIBRARY", "图书馆", M.LIBRARY, "图书馆", "LIB", "LIB", False, (TerminalKind.POS, 1)),
    ("HOSPITAL", "校医院", M.HOSPITAL, "校医院", "HOSP", "HOSP", False, (TerminalKind.POS, 1)),
    ("BUS", "校车（北校园—东校园线）", M.BUS, "校车", "LOGI", "LOGI", False, (TerminalKind.POS, 2)),
    ("BATH", "学生浴室", M.BATHHOUSE, "学生浴室", "LOGI", "LOGI", False, (TerminalKind.SHOWER, 4)),
    ("WATER", "开水房", M.WATER, "第一食堂水房", "LOGI", "LOGI", False, (TerminalKind.WATER, 2)),
]
# R27: 圈存查询一体机 by campus and place, and the three self-service reissue kiosks.
KIOSKS = [
    ("北校园", "第一食堂", 4),
    ("北校园", "第二食堂", 2),
    ("北校园", "图书馆", 1),
    ("北校园", "校医院", 1),
    ("南校园", "中油大厦", 3),
    ("南校园", "第三教学楼", 1),
    ("南校园", "地质楼", 1),
    ("东校园", "第三食堂", 4),
    ("东校园", "东教楼", 2),
    ("校外公寓区", "阳光公寓办公楼", 2),
    ("校外公寓区", "润杰公寓1号楼、2号楼", 2),
]
REISSUE_KIOSKS = [
    ("南校园", "中油大厦一楼大厅"),
    ("南校园", "四教一楼大厅"),
    ("东校园", "东教楼一楼大厅"),
]
R = Role
LOGINS = [  # username, display name, role, department code
    ("applicant", "部门秘书（信息学院）", R.APPLICANT, "CS"),
    ("logistics", "经办人（后勤管理处）", R.APPLICANT, "LOGI"),
    ("approver", "部门负责人（信息学院）", R.DEPT_APPROVER, "CS"),
    ("cardoffice", "卡务中心柜员", R.CARD_OFFICE, None),
    ("settlement", "结算中心会计", R.SETTLEMENT, None),
    ("supervisor", "后勤管理处（主管部门）", R.SUPERVISING_DEPT, "LOGI"),
    ("itcenter", "信息技术中心", R.IT_CENTER, None),
    ("hr", "人事处", R.HR, None),
    ("registrar", "教务处", R.REGISTRAR, "ACAD"),
    ("admin", "系统管理员", R.ADMIN, None),
]


def demo_bank_card(n: int) -> str:
    """A Luhn-valid 19-digit demo debit card number."""
    body = f"621661{n:012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def load_demo(session: Session, now: datetime | None = None) -> bool:
    """Load the demo data unless it is there already; True if it was loaded now."""
    if session.scalar(select(Department.id).where(Department.code == "ITC")) is not None:
        return False
    ctx = Ctx(session=session, actor="demo", now=now or datetime.now(UTC))
    depts = _departments(session)
    cards = _people_and_cards(ctx, depts)
    terminals = _merchants(ctx, depts)
    _kiosks(session)
    _history(ctx, cards, terminals)
    _logins(session)
    return True


def _departments(session: Session) -> dict[str, Department]:
    depts = {
        code: Department(code=code, name_zh=zh, name_en=en, kind=kind)
        for code, zh, en, kind in DEPARTMENTS
    }
    session.add_all(depts.values())
    session.flush()
    return depts


def _people_and_cards(ctx: Ctx, depts: dict[str, Department]) -> list[str]:
    cards = []
    for n, (name, id_type, number, category, dept) in enumerate(PEOPLE, start=1):
        person = Person(
            name=name,
            id_type=id_type,
            id_number=number,
            category=category,
            department=depts[dept],
            phone=f"1380000{n:04d}",
            network_status="active" if category.value.endswith("graduate") else "unregistered",
        )
        ctx.session.add(person)
        ctx.session.flush()
        until = ctx.today + timedelta(days=200) if category == P.OTHER else None
        card_no = issue_card(ctx, person.id, valid_until=until)["card_no"]
        password = initial_password(number)
        bind_bank_card(ctx, card_no, demo_bank_card(n), query_password=password)
        top_up(ctx, card_no, 20_000 + 1_500 * n, TopUpMethod.BANK)
        cards.append(card_no)
    return cards


def _merchants(ctx: Ctx, depts: dict[str, Department]) -> list[str]:
    pos = []
    for code, name, category, place, operator, supervisor, commercial, (kind, count) in MERCHANTS:
        admit_merchant(
            ctx,
            code=code,
            name=name,
            category=category,
            location=place,
            operator_department_id=depts[operator].id,
            supervising_department_id=depts[supervisor].id,
            commercial=commercial,
        )
        for i in range(1, count + 1):
            register_terminal(ctx, code, f"{code}-{i:02d}", kind, place)
            if kind == TerminalKind.POS and category in (M.CANTEEN, M.SHOP):
                pos.append(f"{code}-{i:02d}")
    return pos


def _kiosks(session: Session) -> None:
    rows = [
        Kiosk(code=f"K{n:02d}", kind=KioskKind.SELF_SERVICE, campus=campus, location=place)
        for n, (campus, place, count) in enumerate(
            (k for k in KIOSKS for _ in range(k[2])), start=1
        )
    ]
    rows += [
        Kiosk(code=f"R{n}", kind=KioskKind.REISSUE, campus=campus, location=place)
        for n, (campus, place) in enumerate(REISSUE_KIOSKS, start=1)
    ]
    session.add_all(rows)


def _history(ctx: Ctx, cards: list[str], terminals: list[str]) -> None:
    """A few meals and purchases so balances and journals are not empty."""
    for n, card_no in enumerate(cards):
        for k in range(3):
            purchase(ctx, card_no, terminals[(n + k) % len(terminals)], 650 + 150 * ((n + k) % 5))


def _logins(session: Session) -> None:
    for username, display, role, dept in LOGINS:
        if find_user(session, username) is None:
            create_user(session, username, DEMO_PASSWORD, display, [(role, dept)])


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, password, role) of every demo login, for printing."""
    return [
        (username, DEMO_PASSWORD, f"{role.value}{':' + dept if dept else ''}")
        for username, _display, role, dept in LOGINS
    ]
