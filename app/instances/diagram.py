"""Which elements of an instance's BPMN diagram to mark: done, current (waiting for a person or
a timer) and failed (an open incident). The viewer in instances.js adds a canvas marker for
each; the ids are the BPMN element ids the engine's tasks carry (`task_spec.bpmn_id`)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import runtime, spiff
from workflows.models import HumanTask, ProcessInstance, TaskKind, TaskState

_CURRENT = (spiff.TaskState.READY, spiff.TaskState.WAITING, spiff.TaskState.STARTED)


def element_marks(session: Session, instance: ProcessInstance, workflow) -> dict[str, list[str]]:
    """{"done": [...], "current": [...], "failed": [...]} element ids, each id in one list
    only (failed before current before done). Done also counts user tasks decided before a
    return reset the workflow past them."""
    done, current, failed = _states_in_tree(workflow)
    done |= _decided_user_tasks(session, instance.id)
    if incident := runtime.open_incident_of(session, instance.id):
        failed.add(incident.task_name)
    current -= failed
    done -= failed | current
    return {"done": sorted(done), "current": sorted(current), "failed": sorted(failed)}


def _states_in_tree(workflow) -> tuple[set[str], set[str], set[str]]:
    done, current, failed = set(), set(), set()
    for task in workflow.get_tasks():
        element = task.task_spec.bpmn_id
        if not element:  # the engine's own tasks (start, joins) are not drawn
            continue
        if task.state == spiff.TaskState.COMPLETED:
            done.add(element)
        elif task.state in _CURRENT:
            current.add(element)
        elif task.state == spiff.TaskState.ERROR:
            failed.add(element)
    return done, current, failed


def _decided_user_tasks(session: Session, instance_id: int) -> set[str]:
    query = select(HumanTask.task_name).where(
        HumanTask.instance_id == instance_id,
        HumanTask.state == TaskState.COMPLETED,
        HumanTask.kind == TaskKind.TASK,
    )
    return set(session.scalars(query))


def diagram_source(instance: ProcessInstance) -> str | None:
    """The BPMN text of the definition version the instance runs on (None if not kept)."""
    definition = instance.definition
    sources = definition.sources or {}
    if definition.file_name in sources:
        return sources[definition.file_name]
    bpmn = [text for name, text in sorted(sources.items()) if name.endswith(".bpmn")]
    return bpmn[0] if bpmn else None
