"""The database's figures for /metrics, read when Prometheus scrapes: open and overdue tasks
and open incidents by process, journal entries by kind, and how late the oldest due timer is.

Each is one aggregate query over an indexed or small set of rows, under a statement timeout
on PostgreSQL. The journal, the one table that grows without bound, is counted in full once
per process and afterwards only from where the last count settled (see JournalTally).
If the database does not answer, the scrape still succeeds: `cardoffice_database_up` is 0.
"""

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import Connection, Engine, case, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.models.journal import EntryKind, JournalEntry
from workflows.models import (
    HumanTask,
    Incident,
    IncidentState,
    ProcessDefinition,
    ProcessInstance,
    TaskState,
    Timer,
)
from workflows.timers import FIRING

log = logging.getLogger(__name__)

#: The longest a scrape's queries may run on PostgreSQL.
STATEMENT_TIMEOUT_MS = 5000


def _by_process(conn: Connection, query) -> dict[str, int]:
    return {key: n for key, n in conn.execute(query)}


def task_counts(conn: Connection, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Open tasks and overdue open tasks (due before `now`) by process id, every deployed
    process listed (0 when it has none)."""
    processes = conn.scalars(select(ProcessDefinition.process_id).distinct()).all()
    opened, overdue = dict.fromkeys(processes, 0), dict.fromkeys(processes, 0)
    query = (
        select(HumanTask.process_id, func.count(), func.count().filter(HumanTask.due_at < now))
        .where(HumanTask.state == TaskState.OPEN)
        .group_by(HumanTask.process_id)
    )
    for process, n, late in conn.execute(query):
        opened[process], overdue[process] = n, late
    return opened, overdue


def incident_counts(conn: Connection) -> dict[str, int]:
    """Open incidents by process id."""
    query = (
        select(ProcessInstance.process_id, func.count())
        .join(Incident, Incident.instance_id == ProcessInstance.id)
        .where(Incident.state == IncidentState.OPEN)
        .group_by(ProcessInstance.process_id)
    )
    return _by_process(conn, query)


def timer_lag(conn: Connection, now: datetime) -> tuple[float, int]:
    """How many seconds the oldest due, unfired timer of a running instance is late (0 when
    none is due), and how many are due: what the timer workers have yet to fire."""
    query = (
        select(func.min(Timer.due_at), func.count())
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(text("timers.state = 'open'"), Timer.due_at <= now)  # the partial index's own
        .where(ProcessInstance.status.in_(FIRING))
    )
    oldest, due = conn.execute(query).one()
    if oldest is None:
        return 0.0, 0
    return max((now - oldest).total_seconds(), 0.0), due


class JournalTally:
    """Journal entries by kind, kept per process, so that a scrape reads only the newest rows.

    `base` counts the rows up to id `upto`; a scrape counts those past it. The journal is
    append-only, but an id is taken when its row is inserted and seen only when its
    transaction commits, so rows just below the newest id seen may still appear: `upto`
    moves only to an id that was the newest at least `settle` seconds ago, when every
    transaction that took an id below it has long committed or rolled back (a ledger
    transaction lasts milliseconds). A journal longer than `chunk` rows past `upto` (a new
    process on a years-long journal) is counted `chunk` ids a scrape, the family left out of
    the scrapes until it is done, so that no scrape runs into the statement timeout.
    """

    def __init__(self, settle: float = 60.0, chunk: int = 1_000_000, clock=time.monotonic):
        self.settle, self.chunk, self.clock = settle, chunk, clock
        self.upto, self.base = 0, Counter()
        self.marks: deque[tuple[float, int]] = deque()  # (when, newest id seen then)
        self.lock = threading.Lock()

    def counts(self, conn: Connection) -> dict[str, int] | None:
        """Every kind's count of journal entries (0 for a kind never posted); None while a
        long journal is still being counted."""
        with self.lock:
            newest = conn.scalar(select(func.max(JournalEntry.id))) or 0
            if newest < self.upto:  # the database was restored or replaced: count afresh
                self.upto, self.base = 0, Counter()
                self.marks.clear()
            settled = self._settled(newest)
            if newest - self.upto > self.chunk:
                self._fold(conn, min(self.upto + self.chunk, settled))
                return None
            settling = func.sum(case((JournalEntry.id <= settled, 1), else_=0))
            rows = conn.execute(
                select(JournalEntry.kind, func.count(), settling)
                .where(JournalEntry.id > self.upto)
                .group_by(JournalEntry.kind)
            ).all()
            tail = Counter({kind: n - old for kind, n, old in rows})
            self.base.update({kind: old for kind, _n, old in rows})
            self.upto = settled
            return {kind.value: self.base[kind] + tail[kind] for kind in EntryKind}

    def _fold(self, conn: Connection, end: int) -> None:
        """Add the rows past `upto` up to id `end` (settled) to the base."""
        if end <= self.upto:
            return
        rows = conn.execute(
            select(JournalEntry.kind, func.count())
            .where(JournalEntry.id > self.upto, JournalEntry.id <= end)
            .group_by(JournalEntry.kind)
        ).all()
        self.base.update(dict(rows))
        self.upto = end

    def _settled(self, newest: int) -> int:
        """Note `newest` now; the newest id noted at least `settle` seconds ago (or upto)."""
        now = self.clock()
        self.marks.append((now, newest))
        settled = self.upto
        while self.marks and now - self.marks[0][0] >= self.settle:
            settled = max(settled, self.marks.popleft()[1])
        return settled


class DatabaseCollector:
    """The database's metric families for one scrape, read through `engine` at `now`."""

    def __init__(self, engine: Engine, now: datetime, journal: JournalTally):
        self.engine, self.now, self.journal = engine, now, journal

    def collect(self) -> Iterator:
        """The families, and `cardoffice_database_up` (0, and nothing else, on a failure)."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                families = list(self._families(conn))
        except SQLAlchemyError:
            log.warning("metrics: the database did not answer", exc_info=True)
            families = []
        yield from families
        yield GaugeMetricFamily(
            "cardoffice_database_up", "1 if the database answered this scrape's queries.",
            value=1 if families else 0,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "cardoffice_database_scrape_seconds", "Seconds this scrape's queries took.",
            value=time.perf_counter() - started,
        )  # fmt: skip

    def _families(self, conn: Connection) -> Iterator:
        opened, overdue = task_counts(conn, self.now)
        yield _labelled(GaugeMetricFamily, "open_tasks", "Open human tasks (inbox items).",
                        "process", opened)  # fmt: skip
        yield _labelled(GaugeMetricFamily, "overdue_tasks", "Open human tasks past their due "
                        "time.", "process", overdue)  # fmt: skip
        yield _labelled(GaugeMetricFamily, "open_incidents", "Failed service tasks waiting for "
                        "an administrator.", "process", incident_counts(conn))  # fmt: skip
        journal = self.journal.counts(conn)
        if journal is not None:  # None while a long journal is still being counted
            yield _labelled(CounterMetricFamily, "ledger_journal_entries", "Journal entries "
                            "(ledger postings) ever written.", "kind", journal)  # fmt: skip
        lag, due = timer_lag(conn, self.now)
        yield GaugeMetricFamily(
            "cardoffice_timer_lag_seconds",
            "How late the oldest due, unfired timer of a running request is (0: none due).",
            value=lag,
        )
        yield GaugeMetricFamily(
            "cardoffice_due_timers", "Due timers not yet fired, on running requests.", value=due
        )


def _labelled(family_class, name: str, documentation: str, label: str, values: dict):
    """A family `cardoffice_<name>` with one sample per item of `values`, labelled `label`."""
    family = family_class(f"cardoffice_{name}", documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family
