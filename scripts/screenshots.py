"""Screenshots of the web UI's main pages, for docs/screenshots/.

Builds the demo database (the demo data and one request of each process) in a temporary
directory, serves the app on it over HTTP (werkzeug in a thread, as the browser tests do),
drives Debian's headless Chromium with Playwright through the pages as the demo logins, and
saves a PNG of each page and docs/screenshots/README.md listing them.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Set CHROMIUM to use another Chromium binary than /usr/bin/chromium.
"""

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.demo import DEMO_PASSWORD  # noqa: E402
from app.demo_requests import load_demo_with_requests  # noqa: E402
from app.engine import engine_config  # noqa: E402
from app.extensions import db  # noqa: E402
from app.uow import unit_of_work  # noqa: E402
from ledger.base import Base  # noqa: E402
from ledger.models.people import Person  # noqa: E402
from tests.web.browser_support import CHROMIUM, serving  # noqa: E402
from workflows.models import HumanTask, ProcessInstance, TaskState  # noqa: E402

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: The longest a page may take to load or an element to appear (ms).
TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Shot:
    """One screenshot: its file name, what it shows, whose page at which path, how."""

    name: str
    caption: str
    user: str | None  # None: not logged in
    path: str  # may name {lsk} (the demo temporary card request), {task}, {person}
    full_page: bool = False
    viewport: dict = field(default_factory=lambda: DESKTOP)
    locale: str = "zh-CN"
    ready: str = "main h1"  # a selector to wait for before the shot
    prepare: Callable[[Page], None] | None = None  # what to do on the page before the shot


def fill_temporary_card(page: Page) -> None:
    """Fill the temporary card application's first person and reason, and add a row."""
    row = page.locator("fieldset[data-rows=people] tbody tr").first
    person = {
        "name": "赵临风", "id_number": "440305198802145612", "phone": "13800002222",
        "post": "项目研究助理",
    }  # fmt: skip
    for name, value in person.items():
        row.locator(f"[name$='.{name}']").fill(value)
    page.get_by_role("button", name="添加一行").click()
    page.get_by_label("申请事由").fill("科研项目临时聘用")


SHOTS = [
    Shot("login.png", "Login (登录)", None, "/login"),
    Shot("start-list.png",
         "New request (发起申请): the processes the user may file, and drafts",
         "applicant", "/start"),
    Shot("start-temporary-card.png",
         "Temporary card application (临时卡申请): people in rows, 添加一行 adds one",
         "applicant", "/start/temporary_card", full_page=True, prepare=fill_temporary_card),
    Shot("my-requests.png",
         "My requests (我的申请): status, current step, urge, withdraw, print",
         "applicant", "/requests"),
    Shot("inbox.png",
         "The approver's inbox (待办): filters, bulk approval",
         "approver", "/inbox"),
    Shot("task.png",
         "A task (任务): the request, its history, decide / return / transfer / add a signer",
         "approver", "/tasks/{task}", full_page=True),
    Shot("instance.png",
         "A request (申请详情): BPMN diagram with done and current steps, timeline",
         "applicant", "/instances/{lsk}", full_page=True, ready="#diagram.ready"),
    Shot("counter-search.png",
         "Counter (柜台): find a cardholder by name, card or ID digits",
         "cardoffice", "/counter?q=%E5%90%B4"),
    Shot("counter-person.png",
         "Counter: a cardholder's ID, balances, cards with their operations, journal",
         "cardoffice", "/counter/people/{person}", full_page=True),
    Shot("merchants.png",
         "Merchants and settlement (商户与结算): the merchants",
         "settlement", "/merchants"),
    Shot("admin-instances.png",
         "Administration (系统管理): process instances",
         "admin", "/admin/instances"),
    Shot("phone-inbox.png",
         "The inbox on a phone (390×844)",
         "approver", "/inbox", full_page=True, viewport=PHONE),
    Shot("phone-start-temporary-card.png",
         "The temporary card application on a phone (390×844)",
         "applicant", "/start/temporary_card", full_page=True, viewport=PHONE),
    Shot("inbox-english.png",
         "The inbox with the UI in English",
         "approver", "/inbox", locale="en-US"),
]  # fmt: skip


def build_demo_database(path: Path):
    """The app on a new SQLite file at `path` holding the demo data and demo requests."""
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            bpmn_dir, config = app.config["BPMN_DIR"], engine_config(app)
            load_demo_with_requests(db.session, datetime.now(UTC), bpmn_dir, config)
    return app


def page_ids(app) -> dict[str, int]:
    """The ids the shots' paths name: the demo temporary card request, its open task, and a
    student at the counter."""
    with app.app_context():
        session = db.session
        lsk = session.scalar(
            select(ProcessInstance.id).where(ProcessInstance.business_key == "DEMO-LSK-1")
        )
        task = session.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == lsk, HumanTask.state == TaskState.OPEN
            )
        )
        person = session.scalar(select(Person.id).where(Person.name == "吴俊杰"))
        return {"lsk": lsk, "task": task, "person": person}


def log_in(page: Page, url: str, username: str) -> None:
    """Log in through the login form."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(lambda address: "/login" not in address)


def take(browser, url: str, shot: Shot, ids: dict[str, int], out: Path) -> Path:
    """Save `shot` to `out`; returns the file."""
    context = browser.new_context(
        locale=shot.locale, viewport=shot.viewport, is_mobile=shot.viewport is PHONE,
        has_touch=shot.viewport is PHONE, device_scale_factor=1,
    )  # fmt: skip
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        if shot.user:
            log_in(page, url, shot.user)
        page.goto(url + shot.path.format(**ids))
        page.wait_for_selector(shot.ready)
        page.wait_for_load_state("networkidle")
        if shot.prepare:
            shot.prepare(page)
        target = out / shot.name
        page.screenshot(path=str(target), full_page=shot.full_page, type="png")
        return target
    finally:
        context.close()


def write_readme(out: Path, shots: list[Shot]) -> None:
    """docs/screenshots/README.md: each screenshot with one line, and how to make them."""
    lines = [
        "# Screenshots (界面截图)",
        "",
        "The main pages of the web UI on the demo data (desktop 1280×800 unless noted), made by",
        "`scripts/screenshots.py`. Regenerate them all with:",
        "",
        "    .venv/bin/python scripts/screenshots.py",
        "",
        "(It builds a fresh demo database in a temporary directory, serves the app on it and",
        "drives headless Chromium, /usr/bin/chromium or $CHROMIUM, with Playwright.)",
        "",
        "Each file, and whose login it shows:",
        "",
        *(f"- [{s.name}]({s.name}) ({s.user or 'not logged in'}): {s.caption}" for s in shots),
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None, report: Callable[[str], None] = print) -> None:
    """Make every screenshot into --out (docs/screenshots by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        app = build_demo_database(Path(workdir) / "demo.sqlite3")
        ids = page_ids(app)
        with serving(app) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                for shot in SHOTS:
                    saved = take(browser, url, shot, ids, out)
                    report(f"{saved.relative_to(ROOT) if saved.is_relative_to(ROOT) else saved}"
                           f"  {saved.stat().st_size // 1024} KB")  # fmt: skip
            finally:
                browser.close()
        with app.app_context():
            db.engine.dispose()
    write_readme(out, SHOTS)


if __name__ == "__main__":
    main()
