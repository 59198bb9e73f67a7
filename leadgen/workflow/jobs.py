"""Operations on a job document shared by several actors: the optimistic transition loop,
``complete_flow``, count refreshes and event building."""

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from leadgen.broker.sender import current as current_sender
from leadgen.constants import FINALIZE
from leadgen.ids import utcnow
from leadgen.log import log
from leadgen.messages.events import JobEvent
from leadgen.messages.tasks import PhaseOutcome
from leadgen.store.base import Guard, Store
from leadgen.store.models import Counts, Job, LeadTotals, OutboxEntry
from leadgen.workflow.outbox import outcome
from leadgen.workflow.phases import with_phase

if TYPE_CHECKING:
    from leadgen.workflow.services import Services


@dataclass(frozen=True)
class Change:
    """What one transition writes: top-level fields, and the messages it causes (its outbox)."""

    fields: Mapping[str, Any]
    outbox: Sequence[OutboxEntry] = ()
    inc_runs: bool = False
    add_commands: Sequence[str] = ()


Decision = Change | Mapping[str, Any] | None
Decide = Callable[[Job], Decision | Awaitable[Decision]]
MAX_CONFLICTS = 50


async def transition(
    store: Store, job: Job | str, guard: Guard, decide: Decide
) -> tuple[Job | None, Job | None]:
    """Apply ``decide(job)`` as one guarded write, re-reading and retrying on conflicts.

    ``job`` is the job as the caller last read it (or its id): the first attempt decides on it
    without reading again, and the write is fenced by its ``version``, so a stale copy costs a
    re-read, never a wrong write. ``decide`` (sync or async) sees a job the ``guard`` admits and
    returns a ``Change`` (or just its fields), or None for "nothing to do". Returns ``(job after
    the write or None, latest job seen)``; the first is None when the guard refused or there
    was nothing to do, judged on a fresh read."""
    current = await store.get_job(job) if isinstance(job, str) else job
    fresh = isinstance(job, str)
    for _ in range(MAX_CONFLICTS):
        change = None
        if current is not None and guard.admits(current):
            decided = decide(current)
            change = await decided if inspect.isawaitable(decided) else decided
        if change is not None and current is not None:
            if not isinstance(change, Change):
                change = Change(change)
            after = await store.update_job(
                current.id,
                replace(guard, version=current.version),
                change.fields,
                inc_runs=change.inc_runs,
                add_commands=change.add_commands,
                outbox=change.outbox,
            )
            if after is not None:
                return after, after
        elif fresh or current is None:
            return None, current
        # A conflict, or a refusal judged on the caller's copy: read the job and decide again.
        job_id = current.id if current is not None else str(job)
        current, fresh = await store.get_job(job_id), True
    raise RuntimeError(f"job {current.id if current else job}: too many concurrent updates")


async def commit(
    services: "Services", job: Job | str, guard: Guard, decide: Decide
) -> tuple[Job | None, Job | None]:
    """``transition``, then publish the messages it stored (invariant 9).

    Only the entries this change added are published: others in the job's outbox belong to
    handlers still running, which publish their own. What a stopped handler left unsent is
    published by its redelivered message (``actors.base.recover``) or by the relay."""
    added: list[str] = []

    async def deciding(current: Job) -> Decision:
        decided = decide(current)
        change = await decided if inspect.isawaitable(decided) else decided
        added[:] = [e.id for e in change.outbox] if isinstance(change, Change) else []
        return change

    after, latest = await transition(services.store, job, guard, deciding)
    if after is not None:
        await services.publisher.flush(after, only=added)
    return after, latest


async def refresh_counts(store: Store, job: Job) -> LeadTotals:
    """Store ``counts`` of the job's current run from its lead totals; return the totals."""
    totals = LeadTotals()

    # Counting inside the versioned loop makes the last write the freshest count.
    async def decide(current: Job) -> Decision:
        nonlocal totals
        totals = await store.lead_totals(job.id)
        counts = totals.counts()
        return None if counts == current.counts else {"counts": counts.model_dump()}

    await transition(store, job, Guard(workflow_id=job.workflow_id), decide)
    return totals


async def complete_flow(store: Store, job: Job, counts: Counts) -> Job | None:
    """Mark the job's run completed with its final counts; refuse a paused job.

    The finalize outcome for the supervisor is stored in the same write (the caller publishes
    it). Invariant 1 and 2: a paused job is never completed here (logs
    ``complete_flow_skipped_paused``); the guard is in the write itself, so a pause that lands
    between the read and the write still wins."""
    now = utcnow()
    report = finalize_outcome(job, counts)
    after, latest = await transition(
        store,
        job,
        Guard(workflow_id=job.workflow_id, statuses=("running",)),
        lambda current: Change(
            {
                "status": "completed",
                "counts": counts.model_dump(),
                "phases": with_phase(current, FINALIZE, "completed", now, counts.model_dump()),
            },
            outbox=[report],
        ),
    )
    if after is None and latest is not None and latest.status == "paused_for_upgrade":
        log.warning("complete_flow_skipped_paused", job_id=job.id, workflow_id=job.workflow_id)
    return after


def finalize_outcome(job: Job, counts: Counts) -> OutboxEntry:
    """The report of a completed ``finalize`` to the supervisor (one id per run)."""
    return outcome(
        PhaseOutcome(
            job_id=job.id, workflow_id=job.workflow_id, phase=FINALIZE, detail=counts.model_dump()
        ),
        job.correlation_id,
    )


def event_fields(job: Job) -> dict[str, Any]:
    """The common fields of an event about ``job``."""
    return {
        "job_id": job.id,
        "customer_id": job.customer_id,
        "workflow_id": job.workflow_id,
        "status": job.status,
        "at": utcnow(),
        "correlation_id": job.correlation_id,
    }


def make_event(kind: type[JobEvent], job: Job, **extra: Any) -> JobEvent:
    """An event of type ``kind`` about ``job``; one a command causes names its sender."""
    sender = current_sender()
    by = sender.fields() if sender is not None else {}
    return kind(**{**event_fields(job), **by, **extra})
