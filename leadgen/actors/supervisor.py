"""The supervisor: the workflow itself. It keeps no state in memory; every phase outcome
advances the job document with one guarded update that also stores what runs next (the
outbox), and publishes it.

It recognises a billing pause with ``is_billing_pause_error`` (the error crossed a wire as
data) and then ends the run without dispatching anything else: finalize never runs for a
paused job (invariant 2). Every run ends with exactly one WorkflowCompleted, including a run
halted for billing: like the original workflow handler, it "returned" (result ``success``), and
the completion actor is the one that must not mark the paused job completed."""

from typing import Literal

import structlog
from typing_extensions import override

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job, recover
from leadgen.broker.base import Delivery
from leadgen.ids import utcnow
from leadgen.log import log
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PHASE_OUTCOME, PhaseOutcome, PhaseTask, WorkflowCompleted
from leadgen.store.base import Guard
from leadgen.store.models import BillingBlock, Job, OutboxEntry
from leadgen.workflow.billing import (
    PHASE_FEATURES,
    is_billing_pause_error,
    log_pause,
    pause_fields,
    pause_message,
    paused_event,
)
from leadgen.workflow.jobs import Change, commit
from leadgen.workflow.outbox import completed, phase_task
from leadgen.workflow.phases import advanced, next_phase, with_phase

Result = Literal["success", "failed", "canceled"]


class Supervisor(Actor[PhaseOutcome]):
    """Advances a job on each phase outcome."""

    queue = c.SUPERVISOR_QUEUE
    adapter = PHASE_OUTCOME

    @override
    async def handle(self, message: PhaseOutcome, delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(phase=message.phase)
        job = await self.services.store.get_job(message.job_id)
        if job is None:
            log.warning("outcome_for_unknown_job", job_id=message.job_id)
            return
        bind_job(job)
        await recover(self.services, job, delivery)
        if job.workflow_id != message.workflow_id:
            # Invariant 4: an outcome of a superseded run never changes the job.
            log.info("outcome_skipped_stale", outcome_workflow_id=message.workflow_id)
            return
        if is_billing_pause_error(message.error):
            await self._halt_for_billing(job, message)
        elif message.error is not None or message.status == "failed":
            await self.fail(job, message.phase, message.error, message.detail)
        elif message.phase == c.FINALIZE:
            ended = await self._end_run(job)
            self.services.metrics.phase_finished(ended, c.FINALIZE)
        else:
            await self._advance(job, message)

    async def give_up(self, message: PhaseOutcome, reason: str) -> None:
        """An outcome that can never be handled fails its job's run."""
        job = await self.services.store.get_job(message.job_id)
        if job is not None and job.workflow_id == message.workflow_id:
            error = ErrorEnvelope.failure("OutcomeFailed", f"{message.phase}: {reason}")
            await self.fail(job, message.phase, error)

    async def _halt_for_billing(self, job: Job, message: PhaseOutcome) -> None:
        log.warning("billing_pause_detected", error=_dump(message.error))
        paused: list[BillingBlock] = []

        # The actor normally stored the pause before reporting it; if it did not (an error
        # from another runtime), pause here with the real balance, in the same write that ends
        # the run, so the completion can never find a running job (invariant 1).
        async def decide(current: Job) -> Change:
            ended = self._completed(current, "success")
            paused.clear()
            if current.status != "running":
                return Change({"run_ended": True}, outbox=[ended])
            paused.append(await self._block_of(current, message))
            return Change(
                {**pause_fields(current, paused[0]), "run_ended": True},
                outbox=[paused_event(current, paused[0]), ended],
            )

        after, _ = await commit(
            self.services, job, Guard(workflow_id=job.workflow_id, run_ended=False), decide
        )
        if after is not None and paused:
            log_pause(self.services, after, paused[0])

    async def fail(
        self,
        job: Job,
        phase: str,
        error: ErrorEnvelope | None,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Fail ``phase`` and end the run with ``error`` (invariant 8)."""
        error = error or ErrorEnvelope.failure("PhaseFailed", phase)
        now = utcnow()
        after, _ = await commit(
            self.services,
            job,
            Guard(workflow_id=job.workflow_id, statuses=("running",), run_ended=False),
            lambda current: Change(
                {
                    "error": error.model_dump(),
                    "phases": with_phase(current, phase, "failed", now, detail),
                    "run_ended": True,
                },
                outbox=[self._completed(current, "failed", error)],
            ),
        )
        self.services.metrics.phase_finished(after, phase)

    async def _advance(self, job: Job, message: PhaseOutcome) -> None:
        following = next_phase(message.phase)
        now = utcnow()

        # The guard is the supervisor's layer of invariant 2: only a running job of this run
        # whose phase is still running advances, so a paused job never reaches finalize, and
        # a redelivered outcome finds nothing to do but publish what is still unsent.
        def decide(current: Job) -> Change | None:
            if current.phase(message.phase).status != "running":
                return None
            phases = advanced(current, message.phase, message.status, now, message.detail)
            task = PhaseTask(job_id=current.id, workflow_id=current.workflow_id, phase=following)
            outbox = [phase_task(task, current.correlation_id)] if following else []
            return Change({"phases": phases}, outbox=outbox)

        after, _ = await commit(
            self.services, job, Guard(workflow_id=job.workflow_id, statuses=("running",)), decide
        )
        self.services.metrics.phase_finished(after, message.phase)
        if after is not None:
            log.info("phase_completed", status=message.status, next_phase=following)

    async def _end_run(self, job: Job) -> Job | None:
        """End the run once and announce it; the job if this call ended it."""
        after, _ = await commit(
            self.services,
            job,
            Guard(workflow_id=job.workflow_id, run_ended=False),
            lambda current: Change(
                {"run_ended": True}, outbox=[self._completed(current, "success")]
            ),
        )
        return after

    @staticmethod
    def _completed(job: Job, result: Result, error: ErrorEnvelope | None = None) -> OutboxEntry:
        return completed(
            WorkflowCompleted(
                job_id=job.id, workflow_id=job.workflow_id, result=result, error=error
            ),
            job.correlation_id,
        )

    async def _block_of(self, job: Job, message: PhaseOutcome) -> BillingBlock:
        """The billing block the outcome carries, or one made from the real balance."""
        if message.billing_block:
            return BillingBlock.model_validate(message.billing_block)
        feature = PHASE_FEATURES.get(message.phase, c.DOSSIER_RESEARCH)
        available = (await self.services.store.balances(job.customer_id)).get(feature, 0)
        text = message.error.message if message.error else ""
        return BillingBlock(
            feature_id=feature,
            phase=message.phase,
            required=max(1, available + 1),
            available=available,
            paused_at=utcnow(),
            message=text or pause_message(feature, available + 1, available),
        )


def _dump(error: ErrorEnvelope | None) -> dict[str, str | None] | None:
    return error.model_dump() if error else None
