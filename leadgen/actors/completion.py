"""The completion actor: the workflow's onComplete, run once at the end of every run.

It re-reads the job and writes a terminal status only if the job is not paused and the
message's run is still the job's current run (invariants 1 and 4); the write's own guard
repeats both conditions, so a pause or a resume that lands in between still wins."""

from typing_extensions import override

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job, recover
from leadgen.broker.base import Delivery
from leadgen.log import log
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.events import JobCancelled, JobCompleted, JobFailed
from leadgen.messages.tasks import WORKFLOW_COMPLETED, WorkflowCompleted
from leadgen.store.base import Guard
from leadgen.store.models import Job, JobStatus, OutboxEntry
from leadgen.workflow.jobs import Change, commit, make_event
from leadgen.workflow.outbox import event

TERMINAL: dict[str, JobStatus] = {
    "success": "completed",
    "failed": "failed",
    "canceled": "cancelled",
}


class CompletionActor(Actor[WorkflowCompleted]):
    """Marks the job completed, failed or cancelled and publishes the matching event."""

    queue = c.COMPLETION_QUEUE
    adapter = WORKFLOW_COMPLETED

    @override
    async def handle(self, message: WorkflowCompleted, delivery: Delivery) -> None:
        job = await self.services.store.get_job(message.job_id)
        if job is None:
            log.warning("on_complete_unknown_job", job_id=message.job_id)
            return
        bind_job(job)
        await recover(self.services, job, delivery)
        if job.status == "paused_for_upgrade":
            log.warning("on_complete_skipped_paused", result=message.result)
            self.services.metrics.completions_skipped.labels("paused").inc()
            return
        if job.workflow_id != message.workflow_id:
            log.warning("on_complete_skipped_stale", completed_workflow_id=message.workflow_id)
            self.services.metrics.completions_skipped.labels("stale").inc()
            return
        status = TERMINAL[message.result]
        after, latest = await commit(
            self.services,
            job,
            # Never over a paused job, another run, or another terminal status.
            Guard(workflow_id=message.workflow_id, statuses=("running", status)),
            lambda current: (
                None
                if current.workflow_status == status
                else Change(
                    {"status": status, "workflow_status": status},
                    outbox=[_announcement(current, status)],
                )
            ),
        )
        if after is not None:
            # Counted where the status was written, so a redelivered completion counts once.
            self.services.metrics.jobs_finished.labels(status).inc()
            _log_terminal(after)
        elif latest is not None and latest.status == "paused_for_upgrade":
            log.warning("on_complete_skipped_paused", result=message.result)
            self.services.metrics.completions_skipped.labels("paused").inc()

    async def give_up(self, message: WorkflowCompleted, reason: str) -> None:
        """A completion that can never be handled fails its (running) job."""
        job = await self.services.store.get_job(message.job_id)
        if job is None:
            return
        error = ErrorEnvelope.failure("CompletionFailed", reason)
        await commit(
            self.services,
            job,
            Guard(workflow_id=message.workflow_id, statuses=("running",)),
            lambda current: Change(
                {"status": "failed", "workflow_status": "failed", "error": error.model_dump()},
                outbox=[_announcement(current, "failed", error)],
            ),
        )


def _announcement(job: Job, status: JobStatus, error: ErrorEnvelope | None = None) -> OutboxEntry:
    """The event that announces ``job`` reaching terminal ``status``."""
    if status == "completed":
        return event(make_event(JobCompleted, job, status=status, counts=job.counts.model_dump()))
    if status == "failed":
        return event(make_event(JobFailed, job, status=status, error=error or job.error))
    return event(
        make_event(
            JobCancelled, job, status=status, reason=job.cancel_reason, **(job.cancelled_by or {})
        )
    )


def _log_terminal(job: Job) -> None:
    if job.status == "completed":
        log.info("job_completed", counts=job.counts.model_dump())
    elif job.status == "failed":
        log.warning("job_failed", error=job.error.model_dump() if job.error else None)
    else:
        log.info("job_cancelled", reason=job.cancel_reason)
