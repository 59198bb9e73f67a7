"""What the commands do to jobs and credits: start, cancel and grant (resume.py: resume).

Each operation is idempotent: a command delivered twice has one effect (invariant 6). When a
delivery is a redelivery of a command that was already applied, the follow-up messages are
sent again, since the earlier delivery may have stopped between its write and its publish."""

from leadgen import constants as c
from leadgen.broker.sender import current as current_sender
from leadgen.ids import job_id_of_message, new_id, utcnow
from leadgen.log import log
from leadgen.messages.commands import CancelJob, GrantCredits, StartJob
from leadgen.messages.events import JobStarted
from leadgen.messages.tasks import PhaseTask, WorkflowCompleted
from leadgen.store.base import Guard
from leadgen.store.models import Job, JobRequest
from leadgen.workflow.jobs import Change, commit, make_event
from leadgen.workflow.outbox import completed, event, phase_task
from leadgen.workflow.phases import first_run
from leadgen.workflow.resume import resume_job
from leadgen.workflow.services import Services
from leadgen.workflow.verdict import Verdict


def job_id_for(command: StartJob, message_id: str | None) -> str:
    """The job id of a start, which is its idempotency key: the client's ``job_id``, else one
    derived from the message id, else a new one (a start with neither cannot be recognised)."""
    if command.job_id:
        return command.job_id
    if message_id:
        # A redelivered or re-published start with the same message id is the same job.
        return job_id_of_message(message_id)
    return new_id()


async def start_job(
    services: Services,
    command: StartJob,
    *,
    message_id: str | None,
    correlation_id: str | None,
    replay: bool = False,
    verdict: Verdict | None = None,
) -> Job:
    """Create the job with its ``job.started`` event and its ``source`` task in the same write,
    then publish them; an existing ``job_id`` is left as it is (invariant 6). A ``replay``
    (a redelivery, or a retried copy) of the start that created it publishes what that
    creation stored and may not have published (invariant 9). ``verdict`` receives what
    became of the command: a job id another customer's job holds is refused."""
    verdict = verdict or Verdict()
    job = new_job(command, job_id_for(command, message_id), correlation_id)
    if await services.store.insert_job(job):
        request = job.request.model_dump()
        log.info("job_started", job_id=job.id, customer_id=job.customer_id, request=request)
        services.metrics.jobs_started.inc()
        await services.publisher.flush(job)
        verdict.accept(job.status)
        return job
    existing = await services.store.get_job(job.id)
    log.info("start_ignored_existing_job", job_id=job.id)
    if replay:
        await services.publisher.flush(existing)
    if existing is not None and existing.customer_id != command.customer_id:
        refused("start", "job id already used", job_id=job.id)
        verdict.refuse("job id already used")
    else:
        verdict.accept((existing or job).status, already=True)
    return existing or job


def new_job(command: StartJob, job_id: str, correlation_id: str | None) -> Job:
    """The job a start creates: its first run with six pending phases, and in its outbox the
    ``job.started`` event and the task of phase ``source``."""
    now = utcnow()
    request = JobRequest(
        query=command.query,
        location=command.location,
        max_leads=command.max_leads,
        max_dossiers=command.max_dossiers,
    )
    job = Job(
        id=job_id,
        customer_id=command.customer_id,
        workflow_id=new_id(),
        request=request,
        correlation_id=correlation_id,
        phases=first_run(now),
        created_at=now,
        updated_at=now,
    )
    task = PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=c.SOURCE)
    outbox = [
        event(make_event(JobStarted, job, request=request.model_dump())),
        phase_task(task, correlation_id),
    ]
    return job.model_copy(update={"outbox": {e.id: e for e in outbox}, "outbox_since": now})


def refused(command: str, reason: str, **ids: str | None) -> None:
    """Log a command that changed nothing (contract: ``command_refused``)."""
    log.warning("command_refused", command=command, reason=reason, **ids)


async def cancel_job(
    services: Services,
    job: Job,
    command: CancelJob,
    *,
    correlation_id: str | None = None,
    replay: bool = False,
    verdict: Verdict | None = None,
) -> Job | None:
    """Cancel a running or paused job; the run's completion, stored in the same write, makes
    the completion actor announce it. ``verdict`` receives what became of the command."""
    verdict = verdict or Verdict()
    after, latest = await commit(
        services,
        job,
        Guard(statuses=("running", "paused_for_upgrade"), customer_id=command.customer_id),
        lambda current: Change(
            {
                "status": "cancelled",
                "cancel_reason": command.reason,
                "cancelled_by": sender.fields() if (sender := current_sender()) else None,
                "run_ended": True,
                "correlation_id": correlation_id or current.correlation_id,
            },
            outbox=[
                completed(
                    WorkflowCompleted(
                        job_id=current.id, workflow_id=current.workflow_id, result="canceled"
                    ),
                    correlation_id or current.correlation_id,
                )
            ],
        ),
    )
    current = after or latest
    if after is None and current is not None and not (replay and current.status == "cancelled"):
        refused("cancel", f"job is {current.status}", job_id=job.id)
        verdict.refuse(f"job is {current.status}")
    elif current is not None:
        verdict.accept(current.status, already=after is None)
    else:
        verdict.refuse("unknown job for this customer")
    return after


async def grant_credits(
    services: Services,
    command: GrantCredits,
    *,
    correlation_id: str | None = None,
    verdict: Verdict | None = None,
) -> None:
    """Top up a balance once per ``grant_id``; with ``auto_resume``, resume paused jobs.

    The resumes are tried on every delivery, a repeated one included: each is guarded by its
    pause, so a job is resumed once, and a delivery that stopped halfway finishes the work.
    ``verdict`` receives the balance after and the jobs this delivery resumed."""
    verdict = verdict or Verdict()
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
    resumed: list[str] = []
    if command.auto_resume:
        for job in await services.store.paused_jobs(command.customer_id, command.feature_id):
            if await resume_job(services, job, correlation_id=correlation_id) is not None:
                resumed.append(job.id)
    verdict.accept(balance=movement.balance, resumed_jobs=resumed, already=not movement.applied)
