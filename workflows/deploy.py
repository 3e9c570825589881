"""Deploying `bpmn/`: every .bpmn and .dmn file, checked, stored as versioned definitions.

A file whose content (with the DMN tables and called processes it is parsed with) is already
deployed deploys nothing; a changed one becomes the next version; running instances keep the
version they started on. A deployment is all or nothing: one broken file refuses it whole,
naming the file, the line and the reason.
"""

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms import form_names
from workflows import spiff
from workflows.errors import InvalidBpmn
from workflows.identity import Role
from workflows.models import DecisionDefinition, ProcessDefinition
from workflows.registry import action_names

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
}
ROLES = {role.value for role in Role}


@dataclass(frozen=True)
class Deployed:
    """What a deployment did for one process or decision: 'new', 'version' or 'unchanged'."""

    kind: str
    key: str
    version: int
    outcome: str


def deploy_directory(session: Session, directory: str | Path) -> list[Deployed]:
    """Deploy every .bpmn and .dmn file under `directory` (flushes; the caller commits)."""
    paths = sorted(Path(directory).glob("*.bpmn")) + sorted(Path(directory).glob("*.dmn"))
    return deploy_sources(session, {p.name: p.read_bytes() for p in paths})


@dataclass(frozen=True)
class _Files:
    """The files of one deployment: their bytes and their parsed XML, each parsed once."""

    bpmn: dict[str, bytes]
    dmn: dict[str, bytes]
    roots: dict

    @classmethod
    def of(cls, sources: dict[str, bytes]) -> "_Files":
        dmn = {name: text for name, text in sources.items() if name.endswith(".dmn")}
        bpmn = {name: text for name, text in sources.items() if not name.endswith(".dmn")}
        return cls(bpmn, dmn, {name: _xml(name, text) for name, text in sources.items()})


def deploy_sources(session: Session, sources: dict[str, bytes]) -> list[Deployed]:
    """Deploy files given as {file name: content}; InvalidBpmn if any of them is refused."""
    files = _Files.of(sources)
    parser = _parse(files)
    results = [_deploy_decision(session, files, name) for name in files.dmn]
    for name in files.bpmn:
        for process_id in _executable_process_ids(files.roots[name]):
            results.append(_deploy_process(session, parser, files, name, process_id))
    session.flush()
    return results


def _parse(files: _Files):
    parser = spiff.new_parser()
    for name in files.dmn:
        with _refusal(name):
            parser.add_dmn_xml(files.roots[name], filename=name)
    for name in files.bpmn:
        with _refusal(name):
            parser.add_bpmn_xml(files.roots[name], filename=name)
        _check_elements(name, files.roots[name])
    return parser


def xml_parser(**options) -> etree.XMLParser:
    """A parser for uploaded BPMN that resolves no entities, loads no DTD and reaches no
    network (XXE, billion laughs), whatever the installed lxml's defaults."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, **options
    )


def _xml(name: str, text: bytes):
    try:
        return etree.fromstring(text, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidBpmn(file=name, line=exc.lineno, reason=exc.msg) from None


@contextmanager
def _refusal(name: str):
    """Turns SpiffWorkflow's parse and validation errors into InvalidBpmn for `name`."""
    try:
        yield
    except (ValidationException, SpiffWorkflowException) as exc:
        line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", None) or "?"
        reason = str(getattr(exc, "error_message", None) or exc).strip()
        raise InvalidBpmn(file=name, line=line, reason=reason) from exc


def _check_elements(name: str, root) -> None:
    """What the schema cannot check: user tasks and start events sit in a lane that names a
    role, forms and service actions are registered, expressions are plain (see
    `spiff.unsafe_reason`), and no timer is a cycle."""
    lanes = _lanes(root)
    forms, actions = form_names(), action_names()
    starts = list(root.iterfind(".//bpmn:process/bpmn:startEvent", NS))
    for node in [*root.iterfind(".//bpmn:userTask", NS), *starts]:
        element, form = node.get("id"), _property(node, "form")
        if lanes.get(element) not in ROLES:
            _refuse(name, node, f"{element} is not in a lane whose id is a role")
        if not set(_extra_starters(node)) <= ROLES:
            _refuse(name, node, f"{element}: start_roles must name roles")
        if form is not None and form not in forms:
            _refuse(name, node, f"{element} names an unknown form {form!r}")
    for operator in root.iterfind(".//spiff:serviceTaskOperator", NS):
        if operator.get("id") not in actions:
            _refuse(name, operator, f"unknown service action {operator.get('id')!r}")
    for cycle in root.iterfind(".//bpmn:timeCycle", NS):
        _refuse(name, cycle, "cycle timers are not supported; use a duration or a date")
    _check_expressions(name, root)


#: Elements whose text is an expression (eval) or a script (exec).
_EXPRESSIONS = {
    "conditionExpression": "eval", "completionCondition": "eval", "timeDuration": "eval",
    "timeDate": "eval", "script": "exec", "preScript": "exec", "postScript": "exec",
}  # fmt: skip


def _check_expressions(name: str, root) -> None:
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue  # a comment
        tag = etree.QName(node).localname
        sources = [(node.text or "", _EXPRESSIONS[tag])] if tag in _EXPRESSIONS else []
        if tag == "parameter" and node.get("value") is not None:
            sources.append((node.get("value"), "eval"))
        for source, mode in sources:
            if source.strip() and (reason := spiff.unsafe_reason(source, mode)):
                _refuse(name, node, f"expression {source.strip()[:60]!r}: {reason}")


def _refuse(name: str, node, reason: str):
    raise InvalidBpmn(file=name, line=node.sourceline, reason=reason)


def _lanes(root) -> dict[str, str]:
    """{element id: id of the lane it is in}."""
    return {
        ref.text.strip(): lane.get("id")
        for lane in root.iterfind(".//bpmn:lane", NS)
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
        if ref.text
    }


def _extra_starters(node) -> list[str]:
    """The roles a start event's `start_roles` property names (space-separated)."""
    return (_property(node, "start_roles") or "").split()


def _property(node, name: str) -> str | None:
    prop = node.find(f"bpmn:extensionElements/spiff:properties/spiff:property[@name='{name}']", NS)
    return prop.get("value") if prop is not None else None


def _executable_process_ids(root) -> list[str]:
    return [
        process.get("id")
        for process in root.iterfind("bpmn:process", NS)
        if process.get("isExecutable", "true") == "true"
    ]


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _deploy_process(session, parser, files: _Files, name: str, process_id: str) -> Deployed:
    with _refusal(name):
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    used = {name} | {parser.get_process_parser(sub).filename for sub in subprocess_specs}
    sources = {f: files.bpmn[f] for f in sorted(used)} | _called_tables(files, used)
    content_hash = _digest(*(name.encode() + text for name, text in sources.items()))
    latest = _latest(session, ProcessDefinition, ProcessDefinition.process_id, process_id)
    if latest is not None and latest.content_hash == content_hash:
        return Deployed("process", process_id, latest.version, "unchanged")
    root = files.roots[name]
    process = root.find(f"bpmn:process[@id='{process_id}']", NS)
    start = process.find("bpmn:startEvent", NS)
    lanes = _lanes(root)
    definition = ProcessDefinition(
        process_id=process_id,
        version=(latest.version + 1) if latest else 1,
        name=process.get("name") or process_id,
        file_name=name,
        content_hash=content_hash,
        sources={f: text.decode() for f, text in sources.items()},
        spec=spiff.dump_specs(spec, subprocess_specs),
        lanes=lanes,
        start_form=_property(start, "form") if start is not None else None,
        start_role=lanes.get(start.get("id")) if start is not None else None,
        start_roles=_start_roles(start, lanes),
    )
    session.add(definition)
    return Deployed("process", process_id, definition.version, _outcome(latest))


def _start_roles(start, lanes: dict) -> list[str]:
    if start is None or start.get("id") not in lanes:
        return []
    lane = lanes[start.get("id")]
    return [lane, *(role for role in _extra_starters(start) if role != lane)]


def _deploy_decision(session, files: _Files, name: str) -> Deployed:
    root, text = files.roots[name], files.dmn[name]
    decision = root.find("dmn:decision", NS)
    if decision is None:
        decision = next((child for child in root if child.tag.endswith("decision")), None)
    decision_id = decision.get("id") if decision is not None else Path(name).stem
    content_hash = _digest(text)
    latest = _latest(session, DecisionDefinition, DecisionDefinition.decision_id, decision_id)
    if latest is not None and latest.content_hash == content_hash:
        return Deployed("decision", decision_id, latest.version, "unchanged")
    row = DecisionDefinition(
        decision_id=decision_id,
        version=(latest.version + 1) if latest else 1,
        file_name=name,
        content_hash=content_hash,
        source=text.decode(),
    )
    session.add(row)
    return Deployed("decision", decision_id, row.version, _outcome(latest))


def _called_tables(files: _Files, used: set[str]) -> dict:
    """{name: text} of the DMN files defining a decision that the BPMN files `used` call: a
    changed table makes new versions of the processes using it, and of no other."""
    called = {
        node.text.strip()
        for f in used
        for node in files.roots[f].iterfind(".//spiff:calledDecisionId", NS)
        if node.text
    }
    return {
        name: text
        for name, text in sorted(files.dmn.items())
        if _decision_ids(files.roots[name]) & called
    }


def _decision_ids(root) -> set[str]:
    return {child.get("id") for child in root if etree.QName(child).localname == "decision"}


def _outcome(latest) -> str:
    return "version" if latest is not None else "new"


def _latest(session, model, key_column, key):
    newest = select(func.max(model.version)).where(key_column == key).scalar_subquery()
    return session.scalar(select(model).where(key_column == key, model.version == newest))


def latest_definition(session: Session, process_id: str) -> ProcessDefinition | None:
    """The newest deployed version of `process_id`."""
    return _latest(session, ProcessDefinition, ProcessDefinition.process_id, process_id)


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest deployed version of every process, by process id."""
    newest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    query = select(ProcessDefinition).join(
        newest,
        (ProcessDefinition.process_id == newest.c.process_id)
        & (ProcessDefinition.version == newest.c.v),
    )
    return list(session.scalars(query.order_by(ProcessDefinition.process_id)))
