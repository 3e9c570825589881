"""Every file of `bpmn/` deploys, and reads as a diagram in a BPMN modeller: every element
named in Chinese, every lane a role, every element and flow with its shape or edge, each
shape inside its lane."""

import re

import pytest
from lxml import etree

from tests.procedures.conftest import BPMN_DIR
from workflows.identity import Role
from workflows.layout import FLOW_NODES, NS

FILES = sorted(BPMN_DIR.glob("*.bpmn"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
PROCESSES = {
    "temporary_card", "temporary_card_extension", "merchant_onboarding", "merchant_revocation",
    "card_reissue", "forced_termination", "card_cancellation",
}  # fmt: skip


def test_every_process_of_the_office_is_deployed(office):
    deployed = {(d.kind, d.key) for d in office}
    assert {("process", p) for p in PROCESSES} | {("decision", "card_fee")} <= deployed


def _elements(root):
    process = root.find("bpmn:process", NS)
    for node in process.iter():
        if isinstance(node.tag, str) and etree.QName(node).localname in (
            FLOW_NODES | {"boundaryEvent", "lane"}
        ):
            yield node


def _bounds(root) -> dict:
    return {
        shape.get("bpmnElement"): shape.find("dc:Bounds", NS)
        for shape in root.iterfind(".//bpmndi:BPMNShape", NS)
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_element_is_named_in_chinese_and_every_lane_is_a_role(path):
    root = etree.parse(path).getroot()
    unnamed = [n.get("id") for n in _elements(root) if not CHINESE.search(n.get("name") or "")]
    assert unnamed == []
    lanes = [lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS)]
    assert lanes and set(lanes) <= {role.value for role in Role}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_diagram_interchange_is_complete(path):
    root = etree.parse(path).getroot()
    bounds = _bounds(root)
    edges = {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert [n.get("id") for n in _elements(root) if n.get("id") not in bounds] == []
    flows = {f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    assert flows - edges == set()
    participant = root.find(".//bpmn:participant", NS)
    assert participant is not None and participant.get("id") in bounds


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shape_lies_inside_its_lane(path):
    root = etree.parse(path).getroot()
    bounds = _bounds(root)

    def box(key):
        b = bounds[key]
        x, y = float(b.get("x")), float(b.get("y"))
        return x, y, x + float(b.get("width")), y + float(b.get("height"))

    for lane in root.iterfind(".//bpmn:lane", NS):
        lx1, ly1, lx2, ly2 = box(lane.get("id"))
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            x1, y1, x2, y2 = box(ref.text.strip())
            assert lx1 <= x1 and x2 <= lx2 and ly1 <= y1 and y2 <= ly2, ref.text
