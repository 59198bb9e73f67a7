"""What a resume does: re-check the credits of the pause, then relaunch the paused phase under
a new run, or refuse and leave the job paused (docs/architecture.md, the life of a job).

A resume is idempotent (invariant 6): recognised as applied by its message id, or, without one,
by the paused run it resumed; a redelivered resume only publishes what it stored."""

from datetime import datetime

from leadgen.ids import digest, new_id, resume_key, utcnow
from leadgen.log import log
from leadgen.messages.events import JobResumed, JobResumeRefused
from leadgen.messages.tasks import PhaseTask
from leadgen.store.base import Guard
from leadgen.store.models import Job, OutboxEntry
from leadgen.workflow.jobs import Change, commit, make_event
from leadgen.workflow.outbox import event, phase_task
from leadgen.workflow.phases import reset_from
from leadgen.workflow.services import Services
from leadgen.workflow.verdict import Verdict


async def resume_job(
    services: Services,
    job: Job,
    *,
    message_id: str | None = None,
    correlation_id: str | None = None,
    replay: bool = False,
    verdict: Verdict | None = None,
) -> Job | None:
    """Resume a paused job under a new run if its credits now suffice; the resumed job.

    Invariant 1: only this (or cancel) moves a job out of the pause. The update is guarded by
    the pause and the paused run, so two resumes cannot both relaunch it. A resume is
    recognised as applied by its message id, or, without one, by the paused run it resumed:
    ``replay`` (a redelivery or a retried copy) finding the job resumed and not paused again is
    that resume again, and only publishes what it stored (invariant 6). ``verdict`` receives
    what became of the command."""
    verdict = verdict or Verdict()
    applied = message_id is not None and message_id in job.command_ids
    rerun = replay and job.resumed_from is not None and job.status != "paused_for_upgrade"
    if applied or rerun:
        log.info("resume_already_applied", job_id=job.id)
        if replay:
            await services.publisher.flush(job)
        verdict.accept(job.status, already=True)
        return None
    if job.status != "paused_for_upgrade" or job.billing_block is None:
        await _refuse_resume(services, job, f"job is {job.status}", correlation_id)
        verdict.refuse(f"job is {job.status}")
        return None
    block = job.billing_block
    available = (await services.store.balances(job.customer_id)).get(block.feature_id, 0)
    if available < block.required:
        await _refuse_short(services, job, available, correlation_id)
        verdict.refuse(
            "insufficient_credits",
            feature_id=block.feature_id,
            required=block.required,
            available=available,
        )
        return None
    now = utcnow()
    keys = [resume_key(job.workflow_id), *([message_id] if message_id else [])]
    after, _ = await commit(
        services,
        job,
        Guard(workflow_id=job.workflow_id, statuses=("paused_for_upgrade",)),
        lambda current: _relaunch(current, block.phase, now, correlation_id, keys),
    )
    if after is None:
        verdict.refuse("job changed while resuming: it is no longer this pause")
        return None
    verdict.accept(after.status, workflow_id=after.workflow_id)
    services.metrics.resumes.labels("resumed").inc()
    log.info(
        "job_resumed",
        job_id=after.id,
        customer_id=after.customer_id,
        workflow_id=after.workflow_id,
        previous_workflow_id=job.workflow_id,
        phase=block.phase,
        runs=after.runs,
    )
    return after


def _relaunch(
    current: Job, phase: str, now: datetime, correlation_id: str | None, keys: list[str]
) -> Change:
    """The resume of ``current`` from ``phase``: a new run, the phase and those after it reset,
    the block cleared; the ``job.resumed`` event and the phase's task in the outbox."""
    workflow_id = new_id()
    phases, reset = reset_from(current, phase, now)
    resumed = current.model_copy(
        update={
            "workflow_id": workflow_id,
            "status": "running",
            "correlation_id": correlation_id or current.correlation_id,
        }
    )
    task = PhaseTask(job_id=current.id, workflow_id=workflow_id, phase=phase)
    return Change(
        {
            "status": "running",
            "workflow_status": "running",
            "workflow_id": workflow_id,
            "phases": phases,
            "billing_block": None,
            "run_ended": False,
            "audit_plan": None,
            "audits_pending": 0,
            "error": None,
            "resumed_from": current.workflow_id,
            "correlation_id": resumed.correlation_id,
        },
        outbox=[
            event(
                make_event(
                    JobResumed,
                    resumed,
                    previous_workflow_id=current.workflow_id,
                    reset_phases=reset,
                )
            ),
            phase_task(task, resumed.correlation_id),
        ],
        inc_runs=True,
        add_commands=keys,
    )


async def _refuse_short(
    services: Services, job: Job, available: int, correlation_id: str | None
) -> None:
    """Refuse a resume for lack of credits: the block shows the new balance, and the refusal
    event is stored with it."""
    reason = "insufficient_credits"

    def decide(current: Job) -> Change | None:
        if current.billing_block is None:
            return None
        block = current.billing_block.model_copy(update={"available": available})
        refusal = _refusal(current, reason, block.model_dump(), correlation_id)
        return Change({"billing_block": block.model_dump()}, outbox=[refusal])

    await commit(
        services,
        job,
        Guard(workflow_id=job.workflow_id, statuses=("paused_for_upgrade",)),
        decide,
    )
    _count_refusal(services, job, reason)


async def _refuse_resume(
    services: Services, job: Job, reason: str, correlation_id: str | None
) -> None:
    """Refuse a resume that changes nothing: the refusal is sent directly."""
    block = job.billing_block.model_dump() if job.billing_block else None
    await services.publisher.send(_refusal(job, reason, block, correlation_id))
    _count_refusal(services, job, reason)


def _refusal(job: Job, reason: str, block: object, correlation_id: str | None) -> OutboxEntry:
    """The refusal event; one id per run and command, so a re-sent refusal is a duplicate."""
    command = digest((correlation_id or new_id()).encode(), 16)
    return event(
        make_event(
            JobResumeRefused,
            job,
            reason=reason,
            billing_block=block,
            correlation_id=correlation_id or job.correlation_id,
        ),
        message_id=f"{job.workflow_id}:event:resume_refused:{command}",
    )


def _count_refusal(services: Services, job: Job, reason: str) -> None:
    services.metrics.resumes.labels("refused").inc()
    log.warning("job_resume_refused", job_id=job.id, customer_id=job.customer_id, reason=reason)
