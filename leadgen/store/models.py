"""Documents the store keeps: jobs, leads and credit movements (contract section 3).

Models are frozen; a change is a new document written by one guarded update."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgen.constants import PHASES
from leadgen.ids import utcnow
from leadgen.messages.envelope import ErrorEnvelope

JobStatus = Literal["running", "paused_for_upgrade", "completed", "failed", "cancelled"]
WorkflowStatus = Literal["running", "completed", "failed", "cancelled", "paused"]
AuditResult = Literal["done", "failed"]
PhaseStatus = Literal[
    "pending", "running", "completed", "completed_with_failures", "failed", "paused"
]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class JobRequest(_Doc):
    """What the customer asked for."""

    query: str
    location: str | None = None
    max_leads: int = 25
    max_dossiers: int = 10


class PhaseState(_Doc):
    """One entry of ``job.phases``."""

    name: str
    status: PhaseStatus = "pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class BillingBlock(_Doc):
    """Why a job is paused: the feature it lacks credits for, and how many."""

    feature_id: str
    phase: str
    required: int
    available: int
    paused_at: datetime
    message: str


class Counts(_Doc):
    """Totals of a job, kept current by the phases that change them."""

    leads: int = 0
    dossiers_done: int = 0
    dossiers_failed: int = 0


class LeadTotals(_Doc):
    """How a job's (non-duplicate) leads stand: counted by the store, not read one by one."""

    leads: int = 0
    queued: int = 0
    done: int = 0  # queued leads with a dossier
    failed: int = 0  # queued leads whose audit failed

    @property
    def all_accounted(self) -> bool:
        """True once every queued lead has its dossier or its error."""
        return self.done + self.failed >= self.queued

    def counts(self) -> Counts:
        """The job's ``counts`` field."""
        return Counts(leads=self.leads, dossiers_done=self.done, dossiers_failed=self.failed)


class AuditPlan(_Doc):
    """The leads ``generate_dossier`` audits in one run, in dispatch order, and how many of them
    may be in flight at once: decided once per run, whatever worker handles a later audit."""

    workflow_id: str
    lead_ids: list[str]
    window: int = 4


class OutboxEntry(_Doc):
    """A message a job's transition caused, stored in the same write as the transition and
    kept until it is published (the transactional outbox, invariant 9)."""

    id: str  # the message id: fixed when the transition is decided, so a re-send is a duplicate
    exchange: str
    routing_key: str
    type: str
    body: str  # the JSON body
    correlation_id: str | None = None
    mandatory: bool = True  # an unroutable message is an error (events: nobody may be bound)


class Job(_Doc):
    """A job document. Internal fields (``version`` onwards) are leadgen's own bookkeeping."""

    id: str = Field(alias="_id")
    customer_id: str
    status: JobStatus = "running"
    workflow_status: WorkflowStatus = "running"
    workflow_id: str
    runs: int = 1
    request: JobRequest
    phases: list[PhaseState] = Field(
        default_factory=lambda: [PhaseState(name=name) for name in PHASES]
    )
    billing_block: BillingBlock | None = None
    counts: Counts = Field(default_factory=Counts)
    error: ErrorEnvelope | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    # Internal: optimistic-concurrency counter, bumped by every update.
    version: int = 0
    # Internal: true once the current run sent its WorkflowCompleted.
    run_ended: bool = False
    # Internal: message ids of commands already applied (contract: idempotency key).
    command_ids: list[str] = Field(default_factory=list)
    audit_plan: AuditPlan | None = None
    cancel_reason: str | None = None
    # Internal: who sent the cancel (``user_id``, ``app_id``), for the job.cancelled event.
    cancelled_by: dict[str, str] | None = None
    # Internal: messages caused by stored transitions and not yet published, by message id;
    # ``outbox_since`` is when the latest was added (the relay looks for old ones).
    outbox: dict[str, OutboxEntry] = Field(default_factory=dict)
    outbox_since: datetime | None = None
    # Internal: every audited lead of the job, across runs: lead id -> "done" or "failed".
    audits: dict[str, AuditResult] = Field(default_factory=dict)
    # Internal: audits of the current plan not accounted yet; the audit that brings it to 0
    # reports the phase.
    audits_pending: int = 0
    # Internal: the run a resume continued (the idempotency key of a resume without message id).
    resumed_from: str | None = None
    # Internal: how often the reconciler re-drove the job.
    redrives: int = 0

    def phase(self, name: str) -> PhaseState:
        """The state of phase ``name``."""
        return next(p for p in self.phases if p.name == name)

    def document(self) -> dict[str, Any]:
        """The job as stored: ``_id`` and plain values."""
        return self.model_dump(by_alias=True)


class Lead(_Doc):
    """One lead of a job, with what each phase learnt about it."""

    job_id: str
    lead_id: str
    name: str
    website: str | None = None
    domain: str | None = None
    location: str | None = None
    phone: str | None = None
    email: str | None = None
    industry: str | None = None
    signals: dict[str, Any] = Field(default_factory=dict)
    source_rank: int = 0
    duplicate_of: str | None = None
    score: int | None = None
    score_reasons: list[str] = Field(default_factory=list)
    queued: bool = False
    queue_rank: int | None = None
    dossier: dict[str, Any] | None = None
    dossier_error: ErrorEnvelope | None = None

    @property
    def accounted(self) -> bool:
        """True once the lead's audit produced a dossier or failed for good."""
        return self.dossier is not None or self.dossier_error is not None


class Movement(_Doc):
    """The result of one idempotent credit movement."""

    applied: bool  # this call moved the credits
    already: bool  # an earlier call with the same key moved them
    balance: int  # the balance of the feature after the call


class LedgerEntry(_Doc):
    """One credit movement as recorded, keyed by its idempotency key."""

    key: str
    customer_id: str
    feature_id: str
    delta: int
    job_id: str | None = None
    lead_id: str | None = None
    at: datetime
