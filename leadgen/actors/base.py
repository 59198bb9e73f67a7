"""What an actor is: a consumer of one queue that decodes its message into a model and
handles it. ``PhaseActor`` adds what every phase shares: the run fence and the outcome."""

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

import structlog
from pydantic import TypeAdapter

from leadgen import constants as c
from leadgen.broker.base import Delivery
from leadgen.broker.headers import is_replay
from leadgen.errors import BrokerUnavailable, PausedForBilling, StoreUnavailable, Superseded
from leadgen.log import log
from leadgen.messages.codec import decode
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PHASE_TASK, PhaseOutcome, PhaseTask
from leadgen.store.models import Job
from leadgen.workflow.billing import is_billing_pause_error
from leadgen.workflow.outbox import outcome
from leadgen.workflow.services import Services

M = TypeVar("M")

# Errors that say "try again later", not "this phase failed".
TRANSIENT: tuple[type[Exception], ...] = (StoreUnavailable, BrokerUnavailable)


class Actor(ABC, Generic[M]):
    """Consumes ``queue``; ``handle`` stores its effects and publishes what follows.

    The runner (worker/runner.py) acks after ``handle`` returns (invariant 7), dead-letters
    undecodable messages and retries unexpected errors."""

    queue: ClassVar[str]
    adapter: ClassVar[TypeAdapter[Any]]

    def __init__(self, services: Services) -> None:
        self.services = services

    def decode(self, delivery: Delivery) -> M:
        """The message model of ``delivery``; raises DecodeError for a body that is not one."""
        message: M = decode(self.adapter, delivery.body)
        return message

    @abstractmethod
    async def handle(self, message: M, delivery: Delivery) -> None:
        """Handle one decoded message."""

    async def give_up(self, message: M, reason: str) -> None:
        """The message failed every attempt and is being dead-lettered: make that a failure of
        its job, so that no job waits for it forever (invariant 10). Nothing by default."""


def bind_job(job: Job) -> None:
    """Bind the job's ids to every log line of the current message."""
    structlog.contextvars.bind_contextvars(
        job_id=job.id, customer_id=job.customer_id, workflow_id=job.workflow_id
    )


async def recover(services: Services, job: Job | None, delivery: Delivery) -> None:
    """On a message that may have been handled before (redelivered, or a retried copy), first
    publish what the job's outbox still holds: the earlier delivery may have stored its
    transition and stopped before publishing what it caused (invariant 9)."""
    if job is not None and is_replay(delivery):
        await services.publisher.flush(job)


async def current_job(services: Services, job_id: str, workflow_id: str, delivery: Delivery) -> Job:
    """The job, if ``workflow_id`` is still its current run; Superseded otherwise."""
    job = await services.store.get_job(job_id)
    await recover(services, job, delivery)
    if job is None or job.workflow_id != workflow_id:
        raise Superseded(f"run {workflow_id} of job {job_id} is not current")
    bind_job(job)
    return job


class PhaseActor(Actor[PhaseTask]):
    """Runs one phase of a running job and reports its outcome to the supervisor."""

    phase: ClassVar[str]
    adapter = PHASE_TASK

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "phase"):
            cls.queue = c.phase_queue(cls.phase)

    async def handle(self, message: PhaseTask, delivery: Delivery) -> None:
        """Run the phase unless the run is stale or the job is not running."""
        structlog.contextvars.bind_contextvars(phase=self.phase)
        job = await current_job(self.services, message.job_id, message.workflow_id, delivery)
        if job.status != "running":
            await self.skip_not_running(job)
            return
        if job.phase(self.phase).status != "running":
            # A duplicate of a task whose phase already ended: its outcome was reported.
            log.info("phase_skipped", phase_status=job.phase(self.phase).status)
            return
        try:
            detail = await self.run(job)
        except PausedForBilling:
            return  # the pause was stored with the outcome that reports it
        except (StoreUnavailable, BrokerUnavailable, Superseded):
            raise
        except Exception as exc:
            await self.report_error(job, exc)
            return
        if detail is not None:
            await self.report(job, detail)

    async def report(self, job: Job, detail: dict[str, Any]) -> None:
        """Tell the supervisor the phase completed."""
        await self.services.publisher.send(
            outcome(
                PhaseOutcome(
                    job_id=job.id, workflow_id=job.workflow_id, phase=self.phase, detail=detail
                ),
                job.correlation_id,
            )
        )

    async def skip_not_running(self, job: Job) -> None:
        """A task for a job that is paused, cancelled or ended does nothing."""
        log.info("phase_skipped", status=job.status)

    async def report_error(self, job: Job, exc: Exception) -> None:
        """Send the error to the supervisor as data ``{name, message, code}``."""
        await report_failure(self.services, job, self.phase, ErrorEnvelope.from_exception(exc))

    async def give_up(self, message: PhaseTask, reason: str) -> None:
        """A phase task that can never be handled fails its phase, and with it the job."""
        job = await self.services.store.get_job(message.job_id)
        if job is None or job.workflow_id != message.workflow_id or job.status != "running":
            return
        error = ErrorEnvelope.failure("PhaseTaskFailed", f"{self.phase}: {reason}")
        await report_failure(self.services, job, self.phase, error)

    @abstractmethod
    async def run(self, job: Job) -> dict[str, Any] | None:
        """Do the phase's work; the outcome detail, or None when the outcome comes later."""


async def report_failure(services: Services, job: Job, phase: str, error: ErrorEnvelope) -> None:
    """Tell the supervisor that ``phase`` of ``job``'s run failed with ``error``, as data.

    Sent directly: nothing was stored, and a redelivered task fails the same way again."""
    if not is_billing_pause_error(error):
        log.warning("phase_failed", error=error.model_dump())
    await services.publisher.send(
        outcome(
            PhaseOutcome(
                job_id=job.id,
                workflow_id=job.workflow_id,
                phase=phase,
                status="failed",
                error=error,
            ),
            job.correlation_id,
        )
    )
