"""Internal messages between the supervisor, the phase actors and the completion actor."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from leadgen.messages.envelope import ErrorEnvelope


class _Internal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    workflow_id: str


class PhaseTask(_Internal):
    """Asks the actor of ``phase`` to run it for one workflow run of a job."""

    type: Literal["leadgen.phase_task"] = "leadgen.phase_task"
    phase: str


class AuditTask(_Internal):
    """Asks for the research audit of one lead: entry ``index`` of the run's audit plan."""

    type: Literal["leadgen.audit_task"] = "leadgen.audit_task"
    lead_id: str
    index: int = Field(ge=0)


class PhaseOutcome(_Internal):
    """What a phase actor reports to the supervisor: success with a detail, or an error."""

    type: Literal["leadgen.phase_outcome"] = "leadgen.phase_outcome"
    phase: str
    status: Literal["completed", "completed_with_failures", "failed"] = "completed"
    detail: dict[str, Any] = Field(default_factory=dict)
    error: ErrorEnvelope | None = None
    billing_block: dict[str, Any] | None = None


class WorkflowCompleted(_Internal):
    """Sent once when a workflow run ends, whatever the reason: the workflow's onComplete."""

    type: Literal["leadgen.workflow_completed"] = "leadgen.workflow_completed"
    result: Literal["success", "failed", "canceled"]
    error: ErrorEnvelope | None = None


PHASE_TASK = TypeAdapter(PhaseTask)
AUDIT_TASK = TypeAdapter(AuditTask)
PHASE_OUTCOME = TypeAdapter(PhaseOutcome)
WORKFLOW_COMPLETED = TypeAdapter(WorkflowCompleted)
