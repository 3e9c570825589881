"""Everything that touches SpiffWorkflow: parsing, the script engine, (de)serializing
instances, and reading user tasks and timers out of a workflow.

An instance's saved state leaves out the process spec: the spec lives once on its
`ProcessDefinition` row and is restored once per process (definitions never change), which
halves what each save writes and reads.
"""

import ast
import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

__all__ = ["BpmnWorkflow", "Task", "TaskState"]

#: What scripts, conditions and timer expressions may call: plain values only.
SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "len", "list",
        "max", "min", "range", "round", "set", "sorted", "str", "sum", "tuple", "zip",
    )
}  # fmt: skip

#: Calls a registered action: (operation name, parameters, task) -> its result as JSON.
Dispatch = Callable[[str, dict, Task], object]


#: String methods that read attributes named in their text.
FORMATTERS = ("format", "format_map")


def unsafe_reason(source: str, mode: str = "eval") -> str | None:
    """Why `source` (an expression, or with mode 'exec' a script) may not run, or None.

    Restricted builtins alone are no sandbox: `().__class__.__base__...` reaches the whole
    interpreter. So names and attributes starting with an underscore, and imports, are
    refused; so are str.format and format_map, which follow attribute names written inside
    their text ("{0.__class__}".format(x)), out of this check's sight. What is left are plain
    expressions over task data.
    """
    try:
        tree = ast.parse(source.strip(), mode=mode)
    except SyntaxError as exc:
        return f"syntax error: {exc.msg}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            return "imports are not allowed"
        if isinstance(node, ast.Attribute) and node.attr in FORMATTERS:
            return f"{node.attr} is not allowed (it reads attributes named in its text)"
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if isinstance(name, str) and name.startswith("_"):
            return f"the name {name!r} is not allowed"
    return None


@cache
def _checked(source: str, mode: str) -> None:
    if reason := unsafe_reason(source, mode):
        raise ValueError(f"refused expression {source!r}: {reason}")


class _GuardedEnvironment(TaskDataEnvironment):
    """Task data as variables, restricted builtins, and every expression checked first."""

    def evaluate(self, expression, context, external_context=None):
        _checked(expression, "eval")
        return super().evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):
        _checked(script, "exec")
        return super().execute(script, context, external_context)


class CardOfficeScriptEngine(PythonScriptEngine):
    """Checked expressions with restricted globals, and service tasks dispatched to the
    registered Python actions.

    `call_service` is overridden whole: SpiffWorkflow's own hides the real error behind a
    NameError in its error path.
    """

    def __init__(self, dispatch: Dispatch | None = None):
        super().__init__(environment=_GuardedEnvironment({"__builtins__": SAFE_BUILTINS}))
        self.dispatch = dispatch

    def call_service(self, task, operation_name=None, operation_params=None, **_kw):
        if self.dispatch is None:
            raise RuntimeError(f"no action dispatcher for service task {operation_name}")
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return self.dispatch(operation_name, params, task)


class _SpecByReference(BpmnWorkflowConverter):
    """Writes a workflow without its spec; reads one with the spec objects put in `dct`."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        workflow = self.target_class(
            dct.pop("spec"), dct.pop("subprocess_specs"), deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_SERIALIZER = BpmnWorkflowSerializer(
    BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _SpecByReference})
)
_SPEC_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
SERIALIZER_VERSION = _SERIALIZER.VERSION

Specs = tuple[object, dict]


def new_parser() -> SpiffBpmnParser:
    """A parser that validates against the BPMN and SpiffWorkflow schemas."""
    return SpiffBpmnParser(validator=VALIDATOR)


def dump_specs(spec, subprocess_specs: dict) -> dict:
    """A process spec and its subprocess specs as JSON-able data, for a definition row."""
    registry = _SPEC_SERIALIZER.registry
    data = {
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
    }
    return json.loads(json.dumps(data, cls=_SPEC_SERIALIZER._encoder_cls))


_SPEC_CACHE: dict[tuple[str, str], Specs] = {}


def load_specs(definition) -> Specs:
    """The spec objects of a ProcessDefinition, restored once per process.

    Cached by process id and content hash, not by row id: an id is not unique across
    databases, nor after a rolled-back deployment (SQLite reuses row ids). The row's `spec`
    column (deferred) is read only on a miss. The serializer's restore changes the dicts it
    reads, so it reads a copy.
    """
    key = (definition.process_id, definition.content_hash)
    if key not in _SPEC_CACHE:
        registry, copy = _SPEC_SERIALIZER.registry, json.loads(json.dumps(definition.spec))
        _SPEC_CACHE[key] = (
            registry.restore(copy["spec"]),
            {name: registry.restore(s) for name, s in copy["subprocess_specs"].items()},
        )
    return _SPEC_CACHE[key]


def new_workflow(specs: Specs, data: dict, engine: CardOfficeScriptEngine) -> BpmnWorkflow:
    """A workflow on `specs` whose start event carries `data`; nothing has run yet."""
    spec, subprocess_specs = specs
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.task_tree.data.update(data)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def save_workflow(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON, without its spec."""
    return _SERIALIZER.serialize_json(workflow)


def load_workflow(state: str, specs: Specs, engine: CardOfficeScriptEngine) -> BpmnWorkflow:
    """A workflow restored from `save_workflow`'s JSON on `specs`, with `engine` set (the
    script engine is not serialized)."""
    dct = json.loads(state)
    _SERIALIZER.migrate(dct)
    dct["spec"], dct["subprocess_specs"] = specs
    workflow = _SERIALIZER.from_dict(dct)
    workflow.script_engine = engine
    return workflow


def advance(workflow: BpmnWorkflow) -> None:
    """Fire due timers, then run every engine task until only people or time can go on."""
    workflow.refresh_timers()
    workflow.do_engine_steps()


@dataclass(frozen=True)
class UserTaskInfo:
    """What the human-task table needs of a ready user task."""

    spiff_task_id: str
    name: str
    title: str
    lane: str | None
    properties: dict
    data: dict
    due_at: datetime | None
    mi_input_item: str | None


def ready_user_tasks(workflow: BpmnWorkflow) -> list[UserTaskInfo]:
    """Every ready task a person must complete."""
    return [_info(task) for task in workflow.get_tasks(state=TaskState.READY, manual=True)]


def _info(task: Task) -> UserTaskInfo:
    spec = task.task_spec
    parent_spec = task.parent.task_spec if task.parent else None
    input_item = getattr(parent_spec, "input_item", None)
    return UserTaskInfo(
        spiff_task_id=str(task.id),
        name=spec.bpmn_id,
        title=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        properties=dict(getattr(spec, "extensions", {}).get("properties", {})),
        data=task.data,
        due_at=_boundary_due(task),
        mi_input_item=input_item.bpmn_id if input_item is not None else None,
    )


def _boundary_due(task: Task) -> datetime | None:
    """The earliest boundary timer on `task` (a due date), if it has one."""
    holder = task
    while holder.parent is not None and holder.task_spec.bpmn_id == holder.parent.task_spec.bpmn_id:
        holder = holder.parent  # a multi-instance child: the timer is on the parent
    siblings = holder.parent.children if holder.parent is not None else []
    dues = [due for sibling in siblings if (due := timer_due(sibling)) is not None]
    return min(dues, default=None)


def timer_due(task: Task) -> datetime | None:
    """When a waiting timer event fires, or None if `task` is not one."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
        return None
    value = task.internal_data.get("event_value")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def fire_due_timers(workflow: BpmnWorkflow, now: datetime) -> int:
    """Mark every timer due at `now` as fired; returns how many. SpiffWorkflow itself compares
    with the wall clock, and only once it is past the due time, while the worker finds timers
    due at `now` (the same moment counts): this keeps the two in step."""
    fired = 0
    for task in workflow.get_tasks(state=TaskState.WAITING):
        due = timer_due(task)
        if due is not None and due <= now:
            task._set_internal_data(event_fired=True)
            fired += 1
    return fired


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[str, str, datetime]]:
    """(spiff task id, element id, due time) of every timer the workflow waits on."""
    return [
        (str(task.id), task.task_spec.bpmn_id, due)
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if (due := timer_due(task)) is not None
    ]


def find_task(workflow: BpmnWorkflow, spiff_task_id: str) -> Task | None:
    """The task with this id, or None."""
    try:
        return workflow.get_task_from_id(UUID(spiff_task_id))
    except Exception:  # SpiffWorkflow raises a TaskNotFoundException or a KeyError
        return None


def completed_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """User tasks already completed, in the order they finished."""
    tasks = workflow.get_tasks(state=TaskState.COMPLETED, manual=True)
    return sorted(tasks, key=lambda t: t.last_state_change)


def completed_task_data(workflow: BpmnWorkflow, spec_name: str) -> list[dict]:
    """The data of each completed task `spec_name`, in the order they finished, the tasks of
    the workflow's subprocesses (a multi-instance step's instances) included."""
    trees = [workflow, *workflow.subprocesses.values()]
    done = [
        task
        for tree in trees
        for task in tree.get_tasks(spec_name=spec_name, state=TaskState.COMPLETED)
    ]
    return [dict(task.data) for task in sorted(done, key=lambda t: t.last_state_change)]


def carried_out_actions(tasks, ignore: Callable[[str], bool] = lambda _name: False) -> list[str]:
    """The service actions of the completed service tasks among `tasks` (a workflow's
    `get_tasks()`, or a task, whose iteration walks its descendants), but those `ignore`d."""
    names = (
        getattr(task.task_spec, "operation_name", None)
        for task in tasks
        if task.state == TaskState.COMPLETED
    )
    return [n for n in names if n and not ignore(n)]


def multi_instance_siblings(task: Task) -> list[Task]:
    """The other instances of the multi-instance step `task` belongs to (none otherwise)."""
    parent = task.parent
    if parent is None or getattr(parent.task_spec, "input_item", None) is None:
        return []
    return [child for child in parent.children if child.id != task.id]


def start_task(workflow: BpmnWorkflow) -> Task:
    """The process's start event task."""
    return next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id is not None)


def complete_user_task(task: Task, data: dict) -> None:
    """Merge `data` into the task (for a multi-instance child, the decision also becomes its
    output item) and complete it."""
    task.data.update(data)
    output_item = getattr(task.parent.task_spec, "output_item", None) if task.parent else None
    if output_item is not None and output_item.bpmn_id not in data and "decision" in data:
        task.data[output_item.bpmn_id] = data["decision"]
    task.run()


def status_text(workflow: BpmnWorkflow) -> str:
    """A short state for the audit: the ready user tasks' names, or 'completed'."""
    if workflow.is_completed():
        return "completed"
    names = sorted(
        {
            t.task_spec.bpmn_name or t.task_spec.bpmn_id
            for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        }
    )
    return ", ".join(names)[:300] or "waiting"
