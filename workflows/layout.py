"""Diagram interchange (BPMNDI) for a BPMN file: a left-to-right layout of each process in
its pool, one horizontal band per lane, so that a modeller opens the file as a readable
diagram. `flask workflows layout FILE...` rewrites a file's diagram from its process.

Each element's column is its longest distance from the start (flows going back are left out
of the count); elements of a lane that share a column are stacked; an expanded subprocess
is laid out the same way inside its box, and a boundary event sits on its task's lower edge.
"""

from dataclasses import dataclass, field

from lxml import etree

from workflows.deploy import xml_parser

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {
    "bpmn": BPMN,
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
EVENT, GATEWAY, TASK = (36, 36), (50, 50), (110, 80)
GAP_X, GAP_Y, LANE_MIN, LANE_LABEL, PAD = 60, 40, 160, 30, 40
FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "task",
    "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway",
    "inclusiveGateway", "eventBasedGateway",
}  # fmt: skip


@dataclass
class Box:
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def middle(self) -> float:
        return self.y + self.h / 2


@dataclass
class Layout:
    """Boxes by element id and edge waypoints by flow id."""

    boxes: dict[str, Box] = field(default_factory=dict)
    edges: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    expanded: set[str] = field(default_factory=set)


def _local(node) -> str:
    return etree.QName(node).localname


def _size(node, layout: Layout) -> tuple[float, float]:
    kind = _local(node)
    if kind.endswith("Event"):
        return EVENT
    if kind.endswith("Gateway"):
        return GATEWAY
    if kind == "subProcess":
        inner = _lay_out_container(node, None, layout)
        layout.expanded.add(node.get("id"))
        return inner
    return TASK


def _columns(nodes: list, flows: list, boundaries: dict) -> dict[str, int]:
    """Each node's column: its longest distance from a node without incoming flows."""
    ids = [n.get("id") for n in nodes]
    attached = {b: boundaries[b].get("attachedToRef") for b in boundaries}
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for flow in flows:
        source = attached.get(flow.get("sourceRef"), flow.get("sourceRef"))
        if source in succ and flow.get("targetRef") in succ:
            succ[source].append(flow.get("targetRef"))
    order, seen, back = [], set(), set()

    def visit(node: str, path: set) -> None:
        seen.add(node)
        path.add(node)
        for nxt in succ[node]:
            if nxt in path:
                back.add((node, nxt))
            elif nxt not in seen:
                visit(nxt, path)
        path.discard(node)
        order.append(node)

    targets = {t for s in succ.values() for t in s}
    for node in [i for i in ids if i not in targets] + ids:
        if node not in seen:
            visit(node, set())
    column = dict.fromkeys(ids, 0)
    for node in reversed(order):
        for nxt in succ[node]:
            if (node, nxt) not in back:
                column[nxt] = max(column[nxt], column[node] + 1)
    return column


def _lay_out_container(container, lanes: list | None, layout: Layout) -> tuple[float, float]:
    """Place the container's nodes relative to (0, 0); returns the size used. With `lanes`
    [(lane id, [node ids])], each lane is a band of its own."""
    children = [c for c in container if isinstance(c.tag, str)]
    nodes = [c for c in children if _local(c) in FLOW_NODES]
    flows = [c for c in children if _local(c) == "sequenceFlow"]
    boundaries = {c.get("id"): c for c in children if _local(c) == "boundaryEvent"}
    sizes = {n.get("id"): _size(n, layout) for n in nodes}
    column = _columns(nodes, flows, boundaries)
    width_of = [0.0] * (max(column.values(), default=0) + 1)
    for node, (w, _h) in sizes.items():
        width_of[column[node]] = max(width_of[column[node]], w)
    xs = [PAD + sum(width_of[:i]) + GAP_X * i for i in range(len(width_of))]
    # What a boundary event leads to goes to the bottom of its column: its flow leaves downwards.
    late = {f.get("targetRef") for f in flows if f.get("sourceRef") in boundaries}
    bands = lanes or [(None, [n.get("id") for n in nodes])]
    y, band_boxes, floors = 0.0, [], {}
    for _lane, members in bands:
        members = sorted((m for m in members if m in sizes), key=lambda m: m in late)
        stacks: dict[int, list[str]] = {}
        for node in members:
            stacks.setdefault(column[node], []).append(node)
        height = max([_stack_height(stack, sizes) + 2 * GAP_Y for stack in stacks.values()] + [0])
        height = max(height, LANE_MIN if lanes else 0)
        for col, stack in stacks.items():
            top = y + (height - _stack_height(stack, sizes)) / 2
            for node in stack:
                w, h = sizes[node]
                layout.boxes[node] = Box(xs[col] + (width_of[col] - w) / 2, top, w, h)
                top += h + GAP_Y * 1.5
        floors |= dict.fromkeys(members, y + height - GAP_Y / 3)
        band_boxes.append(Box(0, y, 0, height))
        y += height
    width = (xs[-1] + width_of[-1] + PAD) if xs else 2 * PAD
    for box in band_boxes:
        box.w = width
    _place_boundaries(boundaries, layout)
    _route(flows, layout, floors)
    layout.boxes.update(
        {lane: box for (lane, _members), box in zip(bands, band_boxes, strict=True) if lane}
    )
    return width, y


def _stack_height(stack: list[str], sizes: dict) -> float:
    return sum(sizes[n][1] for n in stack) + GAP_Y * 1.5 * (len(stack) - 1)


def _place_boundaries(boundaries: dict, layout: Layout) -> None:
    taken: dict[str, int] = {}
    for event_id, event in boundaries.items():
        host = layout.boxes[event.get("attachedToRef")]
        n = taken[event.get("attachedToRef")] = taken.get(event.get("attachedToRef"), -1) + 1
        layout.boxes[event_id] = Box(host.right - 30 - n * 40 - 18, host.y + host.h - 18, 36, 36)


def _route(flows: list, layout: Layout, floors: dict[str, float]) -> None:
    for flow in flows:
        source = flow.get("sourceRef")
        src, dst = layout.boxes[source], layout.boxes[flow.get("targetRef")]
        floor = floors.get(source, src.y + src.h + GAP_Y / 2)
        layout.edges[flow.get("id")] = _waypoints(src, dst, _is_boundary(flow), floor)


def _waypoints(src: Box, dst: Box, boundary: bool, floor: float) -> list[tuple[float, float]]:
    if boundary:  # leave downwards, then across
        start = (src.x + src.w / 2, src.y + src.h)
        return [start, (start[0], dst.middle), (dst.x, dst.middle)]
    if dst.x >= src.right:
        start, end = (src.right, src.middle), (dst.x, dst.middle)
        if abs(start[1] - end[1]) < 1:
            return [start, end]
        mid = start[0] + min(GAP_X / 2, (end[0] - start[0]) / 2)
        return [start, (mid, start[1]), (mid, end[1]), end]
    # A flow going back runs along the bottom of the source's lane, under everything in it.
    start, end = (src.x + src.w / 2, src.y + src.h), (dst.x + dst.w / 2, dst.y + dst.h)
    return [start, (start[0], floor), (end[0], floor), end]


def _is_boundary(flow) -> bool:
    source = flow.getparent().find(f"bpmn:boundaryEvent[@id='{flow.get('sourceRef')}']", NS)
    return source is not None


def _offset(layout: Layout, ids, dx: float, dy: float) -> None:
    for key in ids:
        box = layout.boxes[key]
        box.x, box.y = box.x + dx, box.y + dy


def lay_out(text: bytes) -> bytes:
    """`text` (a BPMN file) with a fresh diagram for its (first) process."""
    root = etree.fromstring(text, xml_parser(remove_blank_text=False))
    process = root.find("bpmn:process", NS)
    collaboration = _collaboration(root, process)
    participant = collaboration.find("bpmn:participant", NS)
    lanes = [
        (lane.get("id"), [ref.text.strip() for ref in lane.iterfind("bpmn:flowNodeRef", NS)])
        for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS)
    ]
    layout = Layout()
    width, height = _lay_out_container(process, lanes, layout)
    _shift_subprocesses(process, layout)
    origin_x, origin_y = 160 + LANE_LABEL, 80
    _offset_all(layout, origin_x, origin_y)
    pool = Box(160, origin_y, width + LANE_LABEL, height)
    for old in root.findall("bpmndi:BPMNDiagram", NS):
        root.remove(old)
    root.append(_diagram(collaboration, participant, pool, layout, process))
    etree.cleanup_namespaces(root, top_nsmap={k: v for k, v in NS.items() if k != "bpmn"})
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def _offset_all(layout: Layout, dx: float, dy: float) -> None:
    _offset(layout, layout.boxes, dx, dy)
    for key, points in layout.edges.items():
        layout.edges[key] = [(x + dx, y + dy) for x, y in points]


def _shift_subprocesses(container, layout: Layout) -> None:
    """Inner elements were placed relative to their subprocess: move them into its box."""
    for sub in container.iterfind("bpmn:subProcess", NS):
        _shift_subprocesses(sub, layout)
        box = layout.boxes[sub.get("id")]
        inner = [c.get("id") for c in sub if isinstance(c.tag, str) and c.get("id")]
        shapes = [i for i in inner if i in layout.boxes]
        _offset(layout, _with_nested(sub, shapes), box.x, box.y)
        for flow in sub.iterfind(".//bpmn:sequenceFlow", NS):
            points = layout.edges[flow.get("id")]
            layout.edges[flow.get("id")] = [(x + box.x, y + box.y) for x, y in points]


def _with_nested(sub, shapes: list[str]) -> list[str]:
    nested = [
        n.get("id")
        for inner in sub.iterfind("bpmn:subProcess", NS)
        for n in inner.iter()
        if isinstance(n.tag, str) and _local(n) in FLOW_NODES | {"boundaryEvent"}
    ]
    return shapes + nested


def _collaboration(root, process):
    collaboration = root.find("bpmn:collaboration", NS)
    if collaboration is None:
        collaboration = etree.Element(f"{{{BPMN}}}collaboration", id=f"{process.get('id')}_collab")
        etree.SubElement(
            collaboration,
            f"{{{BPMN}}}participant",
            id=f"{process.get('id')}_pool",
            name=process.get("name") or process.get("id"),
            processRef=process.get("id"),
        )
        root.insert(0, collaboration)
    return collaboration


def _diagram(collaboration, participant, pool: Box, layout: Layout, process):
    di = NS["bpmndi"]
    diagram = etree.Element(
        f"{{{di}}}BPMNDiagram", id=f"{process.get('id')}_diagram",
        nsmap={k: v for k, v in NS.items() if k != "bpmn"},
    )  # fmt: skip
    plane = etree.SubElement(
        diagram, f"{{{di}}}BPMNPlane", id=f"{process.get('id')}_plane",
        bpmnElement=collaboration.get("id"),
    )  # fmt: skip
    _shape(plane, participant.get("id"), pool, horizontal=True)
    for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS):
        box = layout.boxes[lane.get("id")]
        box.x, box.w = pool.x + LANE_LABEL, pool.w - LANE_LABEL
        _shape(plane, lane.get("id"), box, horizontal=True)
    for node in process.iter():
        if not isinstance(node.tag, str) or node.get("id") not in layout.boxes:
            continue
        if _local(node) in FLOW_NODES | {"boundaryEvent"}:
            _shape(plane, node.get("id"), layout.boxes[node.get("id")], node=node, layout=layout)
    for flow_id, points in layout.edges.items():
        edge = etree.SubElement(plane, f"{{{di}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
        for x, y in points:
            etree.SubElement(edge, f"{{{NS['di']}}}waypoint", x=_n(x), y=_n(y))
    return diagram


def _shape(plane, element: str, box: Box, horizontal=False, node=None, layout=None):
    di = NS["bpmndi"]
    shape = etree.SubElement(plane, f"{{{di}}}BPMNShape", id=f"{element}_di", bpmnElement=element)
    if horizontal:
        shape.set("isHorizontal", "true")
    if node is not None and element in layout.expanded:
        shape.set("isExpanded", "true")
    if node is not None and _local(node) == "exclusiveGateway":
        shape.set("isMarkerVisible", "true")
    etree.SubElement(
        shape, f"{{{NS['dc']}}}Bounds", x=_n(box.x), y=_n(box.y), width=_n(box.w), height=_n(box.h)
    )
    return shape


def _n(value: float) -> str:
    return str(round(value))
