"""The completion actor: the workflow's onComplete, run once at the end of every run.

It re-reads the job and writes a terminal status only if the job is not paused and the
message's run is still the job's current run (invariants 1 and 4); the write's own guard
repeats both conditions, so a pause or a resume that lands in between still wins."""

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job
from leadgen.broker.base import Delivery
from leadgen.jobs import make_event, transition
from leadgen.log import log
from leadgen.messages.events import JobCancelled, JobCompleted, JobEvent, JobFailed
from leadgen.messages.tasks import WORKFLOW_COMPLETED, WorkflowCompleted
from leadgen.store.base import Guard
from leadgen.store.models import Job, JobStatus

TERMINAL: dict[str, JobStatus] = {
    "success": "completed",
    "failed": "failed",
    "canceled": "cancelled",
}


class CompletionActor(Actor[WorkflowCompleted]):
    """Marks the job completed, failed or cancelled and publishes the matching event."""

    queue = c.COMPLETION_QUEUE
    adapter = WORKFLOW_COMPLETED

    async def handle(self, message: WorkflowCompleted, delivery: Delivery) -> None:
        job = await self.services.store.get_job(message.job_id)
        if job is None:
            log.warning("on_complete_unknown_job", job_id=message.job_id)
            return
        bind_job(job)
        if job.status == "paused_for_upgrade":
            log.warning("on_complete_skipped_paused", result=message.result)
            self.services.metrics.completions_skipped.labels("paused").inc()
            return
        if job.workflow_id != message.workflow_id:
            log.warning("on_complete_skipped_stale", completed_workflow_id=message.workflow_id)
            self.services.metrics.completions_skipped.labels("stale").inc()
            return
        status = TERMINAL[message.result]
        after, latest = await transition(
            self.services.store,
            job.id,
            # Never over a paused job, another run, or another terminal status.
            Guard(workflow_id=message.workflow_id, statuses=("running", status)),
            lambda current: (
                None
                if (current.status, current.workflow_status) == (status, status)
                else {"status": status, "workflow_status": status}
            ),
        )
        if after is None and not delivery.redelivered:
            if latest is not None and latest.status == "paused_for_upgrade":
                log.warning("on_complete_skipped_paused", result=message.result)
                self.services.metrics.completions_skipped.labels("paused").inc()
            return
        if after is not None:
            # Counted where the status was written, so a redelivered completion counts once.
            self.services.metrics.jobs_finished.labels(status).inc()
        done = after or latest
        if done is not None and done.status == status:
            await self._announce(done)

    async def _announce(self, job: Job) -> None:
        event: JobEvent
        if job.status == "completed":
            log.info("job_completed", counts=job.counts.model_dump())
            event = make_event(JobCompleted, job, counts=job.counts.model_dump())
        elif job.status == "failed":
            error = job.error.model_dump() if job.error else None
            log.warning("job_failed", error=error)
            event = make_event(JobFailed, job, error=job.error)
        else:
            log.info("job_cancelled", reason=job.cancel_reason)
            event = make_event(JobCancelled, job, reason=job.cancel_reason)
        await self.services.publisher.event(event)
