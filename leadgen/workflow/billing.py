"""Billing pauses: recognising them on either side of a wire, and pausing a job for one.

An error that crossed an actor boundary is data, ``{name, message}``: its class is gone, so
``is_billing_pause_error`` recognises a pause by name or by the text every BillingError
message starts with. Missing it is the failure this module exists to prevent: a paused job
finalized and marked completed."""

from collections.abc import Mapping
from typing import NoReturn

from leadgen import constants as c
from leadgen.errors import BillingError, PausedForBilling, Superseded
from leadgen.ids import utcnow
from leadgen.log import log
from leadgen.messages.envelope import BILLING_PAUSE, ErrorEnvelope
from leadgen.messages.events import JobPaused
from leadgen.messages.tasks import PhaseOutcome
from leadgen.store.base import Guard
from leadgen.store.models import BillingBlock, Job, OutboxEntry
from leadgen.workflow.jobs import Change, commit, make_event
from leadgen.workflow.outbox import event, outcome
from leadgen.workflow.phases import with_phase
from leadgen.workflow.services import Services

__all__ = ["PAUSE_MARKER", "BillingError", "is_billing_pause_error", "pause_for_billing"]

PAUSE_MARKER = "Workflow paused for billing"

# The feature each billed phase spends.
PHASE_FEATURES = {c.SOURCE: c.LEAD_DISCOVERY, c.GENERATE_DOSSIER: c.DOSSIER_RESEARCH}


def is_billing_pause_error(err: object) -> bool:
    """True when ``err`` means "the workflow paused for billing", in any form it may arrive.

    Accepts an exception, an ErrorEnvelope, a mapping with ``name``/``message`` or a string.
    An envelope (or mapping) with a ``code`` is what leadgen made: the code decides, so a
    failure whose text merely quotes the marker is not a pause. Without a code (another
    runtime's envelope, an exception, a string) the original rule holds: a BillingError
    instance, ``name == "BillingError"``, or a message containing ``Workflow paused for
    billing`` anywhere. False for anything else, including None."""
    if isinstance(err, BillingError):
        return True
    name: object
    message: object
    code: object = None
    if isinstance(err, BaseException):
        name, message = type(err).__name__, str(err)
    elif isinstance(err, ErrorEnvelope):
        name, message, code = err.name, err.message, err.code
    elif isinstance(err, Mapping):
        name, message, code = err.get("name"), err.get("message"), err.get("code")
    elif isinstance(err, str):
        name, message = None, err
    else:
        return False
    if code is not None:
        return bool(code == BILLING_PAUSE)
    return name == BillingError.__name__ or (isinstance(message, str) and PAUSE_MARKER in message)


def pause_message(feature_id: str, required: int, available: int) -> str:
    """The text of a BillingError: it starts with the marker receivers look for."""
    return (
        f"{PAUSE_MARKER}: {feature_id} needs {required} credit(s), "
        f"{available} available; top up and resume the job"
    )


def pause_fields(current: Job, block: BillingBlock) -> dict[str, object]:
    """The fields that pause ``current``'s run for ``block``: the paused phase becomes
    ``paused``, never ``completed_with_failures`` (invariant 3)."""
    return {
        "status": "paused_for_upgrade",
        "workflow_status": "paused",
        "billing_block": block.model_dump(),
        "phases": with_phase(current, block.phase, "paused", block.paused_at),
    }


def paused_event(job: Job, block: BillingBlock) -> OutboxEntry:
    """The ``job.paused`` event of ``job``'s run."""
    return event(
        make_event(JobPaused, job, status="paused_for_upgrade", billing_block=block.model_dump())
    )


def log_pause(services: Services, job: Job, block: BillingBlock) -> None:
    """Log and count a pause that was just stored."""
    services.metrics.billing_pauses.labels(block.feature_id, block.phase).inc()
    log.warning(
        "job_paused_for_billing",
        job_id=job.id,
        customer_id=job.customer_id,
        workflow_id=job.workflow_id,
        phase=block.phase,
        feature_id=block.feature_id,
        required=block.required,
        available=block.available,
    )


async def pause_job(services: Services, job: Job, block: BillingBlock) -> Job | None:
    """Store the pause of ``job``'s run in one guarded update; the paused job, or None.

    Only a running job of the same run is paused (invariant 4). The same write stores the
    ``job.paused`` event and the outcome that tells the supervisor (a BillingError envelope
    with the block), and both are published before this returns (invariant 9)."""
    error = ErrorEnvelope.from_exception(BillingError(block.message))
    report = PhaseOutcome(
        job_id=job.id,
        workflow_id=job.workflow_id,
        phase=block.phase,
        status="failed",
        error=error,
        billing_block=block.model_dump(mode="json"),
    )
    after, _ = await commit(
        services,
        job,
        Guard(workflow_id=job.workflow_id, statuses=("running",)),
        lambda current: Change(
            pause_fields(current, block),
            outbox=[paused_event(current, block), outcome(report, current.correlation_id)],
        ),
    )
    if after is not None:
        log_pause(services, after, block)
    return after


async def pause_for_billing(
    services: Services, job: Job, *, phase: str, feature_id: str, required: int, available: int
) -> NoReturn:
    """Pause ``job`` for lack of ``feature_id`` credits, then raise ``PausedForBilling``.

    Raises Superseded instead when the run is no longer current (resumed or cancelled):
    there is nothing left to pause."""
    message = pause_message(feature_id, required, available)
    block = BillingBlock(
        feature_id=feature_id,
        phase=phase,
        required=required,
        available=available,
        paused_at=utcnow(),
        message=message,
    )
    after = await pause_job(services, job, block)
    if after is None:
        current = await services.store.get_job(job.id)
        if (
            current is None
            or current.workflow_id != job.workflow_id
            or (current.status != "paused_for_upgrade")
        ):
            raise Superseded(f"run {job.workflow_id} of job {job.id} is no longer current")
    raise PausedForBilling(message)
