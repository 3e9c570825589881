"""The vendored bpmn-js viewer: the committed copy in app/static/vendor/bpmn-js/ is the version
package.json pins (scripts/vendor_js.sh makes it), and the instance page loads it, like every
script and stylesheet, from the app itself."""

import json
import re
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from workflows.models import ProcessInstance

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "app" / "static" / "vendor" / "bpmn-js"
VIEWER = "bpmn-navigated-viewer.production.min.js"


def pinned_version() -> str:
    return json.loads((ROOT / "package.json").read_text())["dependencies"]["bpmn-js"]


def test_package_json_pins_an_exact_bpmn_js_version_that_the_lock_file_holds():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned_version())
    assert lock["packages"]["node_modules/bpmn-js"]["version"] == pinned_version()


def test_the_committed_viewer_is_the_pinned_version():
    banner = (VENDOR / VIEWER).read_text(encoding="utf-8")[:200]
    assert (VENDOR / "VERSION").read_text().strip() == pinned_version()
    assert f"bpmn-navigated-viewer v{pinned_version()} " in banner
    assert {"diagram-js.css", "bpmn-js.css", "LICENSE"} <= {p.name for p in VENDOR.iterdir()}


def test_the_instance_page_loads_its_scripts_and_styles_from_the_app(as_user, in_db):
    query = select(ProcessInstance.id).where(ProcessInstance.business_key == "DEMO-LSK-1")
    instance_id = in_db(lambda: db.session.scalar(query))
    client = as_user("applicant")
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert f"/static/vendor/bpmn-js/{VIEWER}" in assets
    for url in assets:
        assert url.startswith("/static/"), url
        reply = client.get(url)
        assert reply.status_code == 200, url
        reply.close()
