"""The relay and the reconciler: what every worker does besides handling messages.

There is no leader: every worker runs both, and the store's guards decide who acts.

- The **relay** publishes outbox entries that a worker stored and then stopped before
  publishing (invariant 9): a job whose latest entry is older than ``relay_after_seconds`` has
  its outbox sent and cleared. Sending twice is harmless: the entries keep their message ids.
- The **reconciler** re-drives running jobs that made no progress for ``stall_seconds``
  (invariant 10): one guarded write, fenced by the version it saw, stores the messages that
  make the job move again (the running phase's task, the audits of its plan still unaccounted,
  or the run's completion), and the job is logged ``job_redriven``."""

import asyncio
from datetime import timedelta

from leadgen import constants as c
from leadgen.actors.base import TRANSIENT
from leadgen.actors.generate_dossier import phase_done, plan_done
from leadgen.ids import utcnow
from leadgen.log import log
from leadgen.messages.tasks import AuditTask, PhaseTask, WorkflowCompleted
from leadgen.store.base import Guard
from leadgen.store.models import Job, OutboxEntry
from leadgen.workflow.jobs import Change, commit
from leadgen.workflow.outbox import audit_task, completed, phase_task
from leadgen.workflow.services import Services

# How many jobs one pass looks at; the next pass takes the rest.
BATCH = 100
# How long stop() waits for a pass it cancelled.
STOP_TIMEOUT = 2.0


class Maintenance:
    """Runs the relay and the reconciler of one worker until stopped."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.relay_after = timedelta(seconds=settings.relay_after_seconds)
        self.stall_after = timedelta(seconds=settings.stall_seconds)
        shortest = min(settings.relay_after_seconds, settings.stall_seconds)
        self.interval = min(max(shortest / 2, 0.05), 5.0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the passes in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Cancel the passes and wait for them a bounded time: a store call that swallows its
        cancellation must not keep the worker from stopping."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            log.warning("maintenance_stop_timed_out", seconds=STOP_TIMEOUT)

    async def _run(self) -> None:
        while self._task is not None:
            await asyncio.sleep(self.interval)
            try:
                await self.relay()
                await self.reconcile()
            except TRANSIENT as exc:
                log.warning("maintenance_postponed", reason=f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # never let one bad job stop the passes
                log.error("maintenance_failed", reason=f"{type(exc).__name__}: {exc}")

    async def relay(self) -> int:
        """Publish the outboxes left unsent for too long; how many jobs had some."""
        jobs = await self.services.store.unsent_jobs(utcnow() - self.relay_after, BATCH)
        for job in jobs:
            await self.services.publisher.flush(job)
            if job.outbox:
                log.info("outbox_relayed", job_id=job.id, messages=len(job.outbox))
                self.services.metrics.outbox_relayed.inc(len(job.outbox))
        return len(jobs)

    async def reconcile(self) -> int:
        """Re-drive the running jobs that made no progress for too long; how many."""
        redriven = 0
        for job in await self.services.store.stalled_jobs(utcnow() - self.stall_after, BATCH):
            redriven += await redrive(self.services, job) is not None
        return redriven


async def redrive(services: Services, job: Job) -> Job | None:
    """Store and publish what makes ``job`` move again, unless it moved since it was read."""

    def decide(current: Job) -> Change | None:
        if current.version != job.version or current.status != "running":
            return None  # progress (or another worker's re-drive) since the read
        attempt = current.redrives + 1
        return Change({"redrives": attempt}, outbox=what_moves(current, attempt))

    after, _ = await commit(services, job, Guard(statuses=("running",)), decide)
    if after is not None:
        phase = next((p.name for p in after.phases if p.status == "running"), None)
        log.warning(
            "job_redriven",
            job_id=after.id,
            customer_id=after.customer_id,
            workflow_id=after.workflow_id,
            phase=phase,
            redrives=after.redrives,
            idle_seconds=round((utcnow() - job.updated_at).total_seconds(), 1),
        )
        services.metrics.jobs_redriven.inc()
    return after


def what_moves(job: Job, attempt: int) -> list[OutboxEntry]:
    """The messages that continue ``job``'s run from its stored state."""
    if job.run_ended:
        result = "failed" if job.error is not None else "success"
        end = WorkflowCompleted(
            job_id=job.id, workflow_id=job.workflow_id, result=result, error=job.error
        )
        return [completed(end, job.correlation_id)]
    running = next((p.name for p in job.phases if p.status == "running"), None)
    phase = running or next((p.name for p in job.phases if p.status == "pending"), c.SOURCE)
    plan = job.audit_plan
    if phase == c.GENERATE_DOSSIER and plan is not None and plan.workflow_id == job.workflow_id:
        if plan_done(job):
            return [phase_done(job)]
        waiting = [(i, lead) for i, lead in enumerate(plan.lead_ids) if lead not in job.audits]
        return [
            audit_task(
                AuditTask(job_id=job.id, workflow_id=job.workflow_id, lead_id=lead, index=i),
                job.correlation_id,
                attempt,
            )
            for i, lead in waiting[: plan.window]
        ]
    task = PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=phase)
    return [phase_task(task, job.correlation_id, attempt)]
