"""What the commands do to jobs and credits: start, resume, cancel and grant.

Each operation is idempotent: a command delivered twice has one effect (invariant 6). When a
delivery is a redelivery of a command that was already applied, the follow-up messages are
sent again, since the earlier delivery may have stopped between its write and its publish."""

import uuid

from leadgen import constants as c
from leadgen.jobs import make_event, transition
from leadgen.log import log
from leadgen.messages.commands import CancelJob, GrantCredits, StartJob
from leadgen.messages.events import JobResumed, JobResumeRefused, JobStarted
from leadgen.messages.tasks import PhaseTask, WorkflowCompleted
from leadgen.phases import reset_from
from leadgen.publisher import new_id
from leadgen.services import Services
from leadgen.store.base import Guard
from leadgen.store.models import Job, JobRequest, PhaseState, utcnow

JOB_ID_NAMESPACE = uuid.UUID("7d9c3d5e-2f61-4c1e-9a57-3b0c6a1e5f20")


def job_id_for(command: StartJob, message_id: str | None) -> str:
    """The job id of a start: the client's, else derived from the message id, else new."""
    if command.job_id:
        return command.job_id
    if message_id:
        # A redelivered or re-published start with the same message id is the same job.
        return uuid.uuid5(JOB_ID_NAMESPACE, message_id).hex
    return new_id()


async def start_job(
    services: Services,
    command: StartJob,
    *,
    message_id: str | None,
    correlation_id: str | None,
    redelivered: bool = False,
) -> Job:
    """Create the job and dispatch ``source``; an existing ``job_id`` is left as it is."""
    now = utcnow()
    request = JobRequest(
        query=command.query,
        location=command.location,
        max_leads=command.max_leads,
        max_dossiers=command.max_dossiers,
    )
    job = Job(
        id=job_id_for(command, message_id),
        customer_id=command.customer_id,
        workflow_id=new_id(),
        request=request,
        correlation_id=correlation_id,
        command_ids=[message_id] if message_id else [],
        phases=[
            PhaseState(name=name, status="running", started_at=now)
            if name == c.SOURCE
            else PhaseState(name=name)
            for name in c.PHASES
        ],
        created_at=now,
        updated_at=now,
    )
    if not await services.store.insert_job(job):
        existing = await services.store.get_job(job.id) or job
        # Only a redelivery of the very start that created the job sends its follow-ups
        # again: the first delivery may have stopped between its insert and its publish.
        replay = redelivered and message_id in existing.command_ids and existing.runs == 1
        if not replay:
            log.info("start_ignored_existing_job", job_id=job.id)
            return existing
        job = existing
    else:
        log.info(
            "job_started", job_id=job.id, customer_id=job.customer_id, request=request.model_dump()
        )
    await services.publisher.event(make_event(JobStarted, job, request=request.model_dump()))
    await services.publisher.phase_task(
        PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=c.SOURCE), job.correlation_id
    )
    return job


def refused(command: str, reason: str, **ids: str | None) -> None:
    """Log a command that changed nothing (contract: ``command_refused``)."""
    log.warning("command_refused", command=command, reason=reason, **ids)


async def resume_job(
    services: Services,
    job: Job,
    *,
    message_id: str | None = None,
    correlation_id: str | None = None,
    redelivered: bool = False,
) -> Job | None:
    """Resume a paused job under a new run if its credits now suffice; the resumed job.

    Invariant 1: only this (or cancel) moves a job out of the pause. The update is guarded by
    the pause and the paused run, so two resumes cannot both relaunch it."""
    if message_id and message_id in job.command_ids:
        if redelivered and job.status == "running":
            await _dispatch_resumed(services, job)
        return None
    if job.status != "paused_for_upgrade" or job.billing_block is None:
        await _refuse_resume(services, job, f"job is {job.status}", correlation_id)
        return None
    block = job.billing_block
    available = (await services.store.balances(job.customer_id)).get(block.feature_id, 0)
    if available < block.required:
        updated = block.model_copy(update={"available": available})
        after, _ = await transition(
            services.store,
            job.id,
            Guard(workflow_id=job.workflow_id, statuses=("paused_for_upgrade",)),
            lambda current: {"billing_block": updated.model_dump()},
        )
        await _refuse_resume(services, after or job, "insufficient_credits", correlation_id)
        return None
    now = utcnow()
    reset = reset_from(job, block.phase, now)[1]
    after, _ = await transition(
        services.store,
        job.id,
        Guard(
            workflow_id=job.workflow_id,
            statuses=("paused_for_upgrade",),
            without_command=message_id,
        ),
        lambda current: {
            "status": "running",
            "workflow_status": "running",
            "workflow_id": new_id(),
            "phases": reset_from(current, block.phase, now)[0],
            "billing_block": None,
            "run_ended": False,
            "audit_plan": None,
            "error": None,
            "correlation_id": correlation_id or current.correlation_id,
        },
        inc_runs=True,
        add_command=message_id,
    )
    if after is None:
        return None
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
    await services.publisher.event(
        make_event(JobResumed, after, previous_workflow_id=job.workflow_id, reset_phases=reset)
    )
    await _dispatch_resumed(services, after)
    return after


async def _dispatch_resumed(services: Services, job: Job) -> None:
    phase = next((p.name for p in job.phases if p.status == "running"), c.SOURCE)
    await services.publisher.phase_task(
        PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=phase), job.correlation_id
    )


async def _refuse_resume(
    services: Services, job: Job, reason: str, correlation_id: str | None
) -> None:
    services.metrics.resumes.labels("refused").inc()
    log.warning("job_resume_refused", job_id=job.id, customer_id=job.customer_id, reason=reason)
    block = job.billing_block.model_dump() if job.billing_block else None
    await services.publisher.event(
        make_event(
            JobResumeRefused,
            job,
            reason=reason,
            billing_block=block,
            correlation_id=correlation_id or job.correlation_id,
        )
    )


async def cancel_job(
    services: Services,
    job: Job,
    command: CancelJob,
    *,
    correlation_id: str | None = None,
    redelivered: bool = False,
) -> Job | None:
    """Cancel a running or paused job; the completion actor then announces it."""
    after, latest = await transition(
        services.store,
        job.id,
        Guard(statuses=("running", "paused_for_upgrade"), customer_id=command.customer_id),
        lambda current: {
            "status": "cancelled",
            "cancel_reason": command.reason,
            "run_ended": True,
            "correlation_id": correlation_id or current.correlation_id,
        },
    )
    current = after or latest
    if current is None:
        return None
    if after is None and not (redelivered and current.status == "cancelled"):
        refused("cancel", f"job is {current.status}", job_id=job.id)
        return None
    await services.publisher.completed(
        WorkflowCompleted(job_id=current.id, workflow_id=current.workflow_id, result="canceled"),
        current.correlation_id,
    )
    return after


async def grant_credits(
    services: Services,
    command: GrantCredits,
    *,
    correlation_id: str | None = None,
    redelivered: bool = False,
) -> None:
    """Top up a balance once per ``grant_id``; with ``auto_resume``, resume paused jobs."""
    movement = await services.store.move_credits(
        command.customer_id, command.feature_id, command.amount, f"grant:{command.grant_id}"
    )
    log.info(
        "credits_granted" if movement.applied else "credits_grant_ignored",
        customer_id=command.customer_id,
        feature_id=command.feature_id,
        amount=command.amount,
        grant_id=command.grant_id,
        balance=movement.balance,
    )
    if command.auto_resume and (movement.applied or redelivered):
        for job in await services.store.paused_jobs(command.customer_id, command.feature_id):
            await resume_job(services, job, correlation_id=correlation_id)
