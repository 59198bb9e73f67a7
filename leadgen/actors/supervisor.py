"""The supervisor: the workflow itself. It keeps no state in memory; every phase outcome
advances the job document with one guarded update and dispatches what runs next.

It recognises a billing pause by name or message (the error crossed a wire as data) and
then ends the run without dispatching anything else: finalize never runs for a paused job
(invariant 2). Every run ends with exactly one WorkflowCompleted, including a run halted for
billing: like the original workflow handler, it "returned" (result ``success``), and the
completion actor is the one that must not mark the paused job completed."""

from typing import Literal

import structlog

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job
from leadgen.billing import PHASE_FEATURES, is_billing_pause_error, pause_job, pause_message
from leadgen.broker.base import Delivery
from leadgen.jobs import transition
from leadgen.log import log
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PHASE_OUTCOME, PhaseOutcome, PhaseTask, WorkflowCompleted
from leadgen.phases import advanced, next_phase, with_phase
from leadgen.store.base import Guard
from leadgen.store.models import BillingBlock, Job, utcnow

Result = Literal["success", "failed", "canceled"]


class Supervisor(Actor[PhaseOutcome]):
    """Advances a job on each phase outcome."""

    queue = c.SUPERVISOR_QUEUE
    adapter = PHASE_OUTCOME

    async def handle(self, message: PhaseOutcome, delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(phase=message.phase)
        job = await self.services.store.get_job(message.job_id)
        if job is None:
            log.warning("outcome_for_unknown_job", job_id=message.job_id)
            return
        bind_job(job)
        if job.workflow_id != message.workflow_id:
            # Invariant 4: an outcome of a superseded run never changes the job.
            log.info("outcome_skipped_stale", outcome_workflow_id=message.workflow_id)
            return
        if is_billing_pause_error(message.error):
            await self._halt_for_billing(job, message, delivery)
        elif message.error is not None or message.status == "failed":
            await self._fail(job, message, delivery)
        elif message.phase == c.FINALIZE:
            ended = await self._end_run(job, "success", None, delivery)
            self.services.metrics.phase_finished(ended, c.FINALIZE)
        else:
            await self._advance(job, message, delivery)

    async def _halt_for_billing(self, job: Job, message: PhaseOutcome, delivery: Delivery) -> None:
        log.warning("billing_pause_detected", error=_dump(message.error))
        if job.status == "running":
            # The actor normally stored the pause before reporting it; make sure of it, so
            # that the completion below can never find a running job (invariant 1).
            await pause_job(self.services, job, _block_of(message))
        await self._end_run(job, "success", None, delivery)

    async def _fail(self, job: Job, message: PhaseOutcome, delivery: Delivery) -> None:
        error = message.error or ErrorEnvelope(name="PhaseFailed", message=message.phase)
        now = utcnow()
        after, _ = await transition(
            self.services.store,
            job.id,
            Guard(workflow_id=job.workflow_id, statuses=("running",), run_ended=False),
            lambda current: {
                "error": error.model_dump(),
                "phases": with_phase(current, message.phase, "failed", now, message.detail),
                "run_ended": True,
            },
        )
        self.services.metrics.phase_finished(after, message.phase)
        if after is not None or delivery.redelivered:
            await self._completed(job, "failed", error)

    async def _advance(self, job: Job, message: PhaseOutcome, delivery: Delivery) -> None:
        following = next_phase(message.phase)
        now = utcnow()
        # The guard is the supervisor's layer of invariant 2: only a running job of this run
        # whose phase is still running advances, so a paused job never reaches finalize.
        after, _ = await transition(
            self.services.store,
            job.id,
            Guard(workflow_id=job.workflow_id, statuses=("running",)),
            lambda current: (
                {"phases": advanced(current, message.phase, message.status, now, message.detail)}
                if current.phase(message.phase).status == "running"
                else None
            ),
        )
        self.services.metrics.phase_finished(after, message.phase)
        if following is None or not (after is not None or delivery.redelivered):
            return
        log.info("phase_completed", status=message.status, next_phase=following)
        await self.services.publisher.phase_task(
            PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=following),
            job.correlation_id,
        )

    async def _end_run(
        self, job: Job, result: Result, error: ErrorEnvelope | None, delivery: Delivery
    ) -> Job | None:
        """End the run once and announce it; the job if this call ended it."""
        after, _ = await transition(
            self.services.store,
            job.id,
            Guard(workflow_id=job.workflow_id, run_ended=False),
            lambda current: {"run_ended": True},
        )
        if after is not None or delivery.redelivered:
            await self._completed(job, result, error)
        return after

    async def _completed(self, job: Job, result: Result, error: ErrorEnvelope | None) -> None:
        await self.services.publisher.completed(
            WorkflowCompleted(
                job_id=job.id,
                workflow_id=job.workflow_id,
                result=result,
                error=error,
            ),
            job.correlation_id,
        )


def _block_of(message: PhaseOutcome) -> BillingBlock:
    """The billing block the outcome carries, or the best one that can be derived from it."""
    if message.billing_block:
        return BillingBlock.model_validate(message.billing_block)
    feature = PHASE_FEATURES.get(message.phase, c.DOSSIER_RESEARCH)
    text = message.error.message if message.error and message.error.message else None
    return BillingBlock(
        feature_id=feature,
        phase=message.phase,
        required=1,
        available=0,
        paused_at=utcnow(),
        message=text or pause_message(feature, 1, 0),
    )


def _dump(error: ErrorEnvelope | None) -> dict[str, str] | None:
    return error.model_dump() if error else None
