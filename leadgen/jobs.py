"""Operations on a job document shared by several actors: the optimistic transition loop,
``complete_flow``, count refreshes and event building."""

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from leadgen.constants import DOSSIER_RESEARCH
from leadgen.log import log
from leadgen.messages.events import JobEvent
from leadgen.phases import with_phase
from leadgen.store.base import Guard, Store
from leadgen.store.models import Counts, Job, LeadTotals, utcnow

Fields = Mapping[str, Any] | None
Decide = Callable[[Job], Fields | Awaitable[Fields]]
MAX_CONFLICTS = 50


async def transition(
    store: Store,
    job_id: str,
    guard: Guard,
    decide: Decide,
    *,
    inc_runs: bool = False,
    add_command: str | None = None,
) -> tuple[Job | None, Job | None]:
    """Apply ``decide(job)`` as one guarded write, re-reading and retrying on conflicts.

    ``decide`` (sync or async) sees the current job, already admitted by ``guard``, and
    returns the fields to set, or None for "nothing to do". The write is fenced by the job's
    ``version``, so a decision is never based on a stale read. Returns ``(job after the write
    or None, latest job seen)``; the first is None when the guard refused or there was nothing
    to do."""
    job: Job | None = None
    for _ in range(MAX_CONFLICTS):
        job = await store.get_job(job_id)
        if job is None or not guard.admits(job):
            return None, job
        fields = decide(job)
        if inspect.isawaitable(fields):
            fields = await fields
        if fields is None:
            return None, job
        fenced = replace(guard, version=job.version)
        after = await store.update_job(
            job_id, fenced, fields, inc_runs=inc_runs, add_command=add_command
        )
        if after is not None:
            return after, after
    raise RuntimeError(f"job {job_id}: too many concurrent updates")


async def refresh_counts(store: Store, job: Job) -> LeadTotals:
    """Store ``counts`` of the job's current run from its lead totals; return the totals."""
    totals = LeadTotals()

    # Counting inside the versioned loop makes the last write the freshest count.
    async def decide(current: Job) -> Fields:
        nonlocal totals
        totals = await store.lead_totals(job.id)
        counts = totals.counts()
        return None if counts == current.counts else {"counts": counts.model_dump()}

    await transition(store, job.id, Guard(workflow_id=job.workflow_id), decide)
    return totals


async def complete_flow(store: Store, job: Job, counts: Counts) -> Job | None:
    """Mark the job's run completed with its final counts; refuse a paused job.

    Invariant 1 and 2: a paused job is never completed here (logs
    ``complete_flow_skipped_paused``); the guard is in the write itself, so a pause that lands
    between the read and the write still wins."""
    now = utcnow()
    after, latest = await transition(
        store,
        job.id,
        Guard(workflow_id=job.workflow_id, statuses=("running",)),
        lambda current: {
            "status": "completed",
            "counts": counts.model_dump(),
            "phases": with_phase(current, "finalize", "completed", now, counts.model_dump()),
        },
    )
    if after is None and latest is not None and latest.status == "paused_for_upgrade":
        log.warning("complete_flow_skipped_paused", job_id=job.id, workflow_id=job.workflow_id)
    return after


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
    """An event of type ``kind`` about ``job``."""
    return kind(**{**event_fields(job), **extra})


def charge_key(job_id: str, lead_id: str, feature_id: str = DOSSIER_RESEARCH) -> str:
    """Idempotency key of the one charge of ``feature_id`` for a lead of a job (invariant 5)."""
    return f"charge:{job_id}:{lead_id}:{feature_id}"


def refund_key(job_id: str, lead_id: str, feature_id: str = DOSSIER_RESEARCH) -> str:
    """Idempotency key of the one refund of that charge."""
    return f"refund:{job_id}:{lead_id}:{feature_id}"
