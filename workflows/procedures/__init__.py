"""The card office's own procedures: the service actions its BPMN processes in `bpmn/` call,
one module per area, and the jobs around them (reminders, roster uploads)."""

from workflows.procedures import cards, merchants, temporary, termination  # noqa: F401
