"""Lifecycle events leadgen publishes to ``leadgen.events`` (contract section 4).

One model per event type; the routing key of each is its ``ROUTING_KEY``."""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from leadgen.messages.envelope import ErrorEnvelope


class JobEvent(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(frozen=True)
    ROUTING_KEY: ClassVar[str]

    type: str
    job_id: str
    customer_id: str
    workflow_id: str
    status: str
    at: datetime
    correlation_id: str | None = None
    # Who sent the command that caused the event (a start, resume or cancel), when known.
    user_id: str | None = None
    app_id: str | None = None


class JobStarted(JobEvent):
    """A job was accepted and its first run started."""

    ROUTING_KEY = "job.started"
    type: Literal["leadgen.job.started.v1"] = "leadgen.job.started.v1"
    request: dict[str, Any]


class JobPaused(JobEvent):
    """A job ran out of credits and waits for an upgrade."""

    ROUTING_KEY = "job.paused"
    type: Literal["leadgen.job.paused.v1"] = "leadgen.job.paused.v1"
    billing_block: dict[str, Any]


class JobResumed(JobEvent):
    """A paused job continues under a new workflow run."""

    ROUTING_KEY = "job.resumed"
    type: Literal["leadgen.job.resumed.v1"] = "leadgen.job.resumed.v1"
    previous_workflow_id: str
    reset_phases: list[str]


class JobResumeRefused(JobEvent):
    """A resume was refused; the job stays paused."""

    ROUTING_KEY = "job.resume_refused"
    type: Literal["leadgen.job.resume_refused.v1"] = "leadgen.job.resume_refused.v1"
    reason: str
    billing_block: dict[str, Any] | None


class JobCompleted(JobEvent):
    """A job finished and delivered its leads and dossiers."""

    ROUTING_KEY = "job.completed"
    type: Literal["leadgen.job.completed.v1"] = "leadgen.job.completed.v1"
    counts: dict[str, int]


class JobFailed(JobEvent):
    """A job failed for a reason other than billing."""

    ROUTING_KEY = "job.failed"
    type: Literal["leadgen.job.failed.v1"] = "leadgen.job.failed.v1"
    error: ErrorEnvelope | None


class JobCancelled(JobEvent):
    """A job was cancelled by its owner."""

    ROUTING_KEY = "job.cancelled"
    type: Literal["leadgen.job.cancelled.v1"] = "leadgen.job.cancelled.v1"
    reason: str | None


EVENTS: tuple[type[JobEvent], ...] = (
    JobStarted,
    JobPaused,
    JobResumed,
    JobResumeRefused,
    JobCompleted,
    JobFailed,
    JobCancelled,
)
