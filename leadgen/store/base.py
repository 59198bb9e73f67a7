"""The store port: what actors need from persistence, independent of MongoDB.

Two implementations keep the same contract: ``MongoStore`` (store/mongo.py) and
``MemoryStore`` (store/memory.py). Every update of a job is one atomic, guarded write:
the ``Guard`` says what must still be true, and the write happens only if it is."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from leadgen.store.models import (
    AuditResult,
    Job,
    Lead,
    LeadTotals,
    LedgerEntry,
    Movement,
    OutboxEntry,
)


@dataclass(frozen=True)
class Guard:
    """Conditions a job must meet for an update to apply; ``None`` means "any"."""

    workflow_id: str | None = None
    statuses: tuple[str, ...] | None = None
    version: int | None = None
    run_ended: bool | None = None
    customer_id: str | None = None
    without_command: str | None = None  # this command id is not yet in ``command_ids``

    def admits(self, job: Job) -> bool:
        """True when ``job`` meets every condition (the reference semantics of the guard)."""
        return self._holds(lambda name: getattr(job, name))

    def admits_document(self, doc: Mapping[str, Any]) -> bool:
        """``admits``, judged on a job document as stored (same field names)."""
        return self._holds(doc.__getitem__)

    def _holds(self, field: Callable[[str], Any]) -> bool:
        return (
            (self.workflow_id is None or field("workflow_id") == self.workflow_id)
            and (self.statuses is None or field("status") in self.statuses)
            and (self.version is None or field("version") == self.version)
            and (self.run_ended is None or field("run_ended") == self.run_ended)
            and (self.customer_id is None or field("customer_id") == self.customer_id)
            and (self.without_command is None or self.without_command not in field("command_ids"))
        )


class Store(Protocol):
    """Jobs, leads and credits. Every method is safe to call again with the same arguments."""

    async def open(self) -> None:
        """Connect and create indexes (idempotently)."""

    async def close(self) -> None:
        """Release connections."""

    async def ping(self) -> bool:
        """True when the backing database answers."""

    # -- jobs ---------------------------------------------------------------------------
    async def insert_job(self, job: Job) -> bool:
        """Insert ``job``; False (and nothing changes) when its ``_id`` already exists."""

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""

    async def update_job(
        self,
        job_id: str,
        guard: Guard,
        fields: Mapping[str, Any],
        *,
        inc_runs: bool = False,
        add_commands: Sequence[str] = (),
        outbox: Sequence[OutboxEntry] = (),
    ) -> Job | None:
        """Set top-level ``fields`` if ``guard`` admits the job; return the job after, or None.

        Every applied update also bumps ``version`` and sets ``updated_at``. Values are
        plain (``model_dump()`` output); ``add_commands`` are appended to ``command_ids``;
        ``outbox`` entries are added to the job's outbox in the same atomic write."""

    async def clear_outbox(
        self, job_id: str, ids: Sequence[str], *, version: int | None = None
    ) -> None:
        """Forget outbox entries ``ids`` once published. Given the ``version`` of a copy whose
        whole outbox was published, and while the job is still at it, the outbox is emptied
        (``outbox_since`` too); otherwise only ``ids`` go. Never changes ``version``: a
        concurrent transition is not disturbed."""

    async def account_audit(
        self, job_id: str, lead_id: str, result: AuditResult, outbox: Sequence[OutboxEntry]
    ) -> Job | None:
        """Record the audit of ``lead_id`` on the job once: ``audits[lead_id] = result``, the
        matching count and ``audits_pending`` moved by one, ``outbox`` added; the job after,
        or None when the lead was accounted already (or the job is unknown)."""

    async def unsent_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Jobs whose latest outbox entry was added before ``before`` (the relay's work)."""

    async def stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Running jobs not updated since ``before`` (the reconciler's work)."""

    async def paused_jobs(self, customer_id: str, feature_id: str) -> list[Job]:
        """The customer's jobs paused for lack of credits of ``feature_id``, oldest first."""

    # -- leads --------------------------------------------------------------------------
    async def add_leads(self, leads: Sequence[Lead]) -> None:
        """Insert leads that are not stored yet (by ``job_id`` and ``lead_id``); keep the rest."""

    async def leads(self, job_id: str, *, include_duplicates: bool = False) -> list[Lead]:
        """The job's leads ordered by ``source_rank`` then ``lead_id``."""

    async def get_lead(self, job_id: str, lead_id: str) -> Lead | None:
        """One lead of a job (duplicates included), or None."""

    async def lead_totals(self, job_id: str) -> LeadTotals:
        """How many non-duplicate leads the job has, queued, with a dossier, failed."""

    async def update_leads(self, job_id: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set fields on several leads: ``changes[lead_id]`` holds the fields of one lead."""

    async def record_audit(
        self,
        job_id: str,
        lead_id: str,
        *,
        dossier: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store the dossier or the error of a lead that has neither yet; False otherwise."""

    # -- credits ------------------------------------------------------------------------
    async def move_credits(
        self,
        customer_id: str,
        feature_id: str,
        delta: int,
        key: str,
        *,
        job_id: str | None = None,
        lead_id: str | None = None,
    ) -> Movement:
        """Add ``delta`` to a balance at most once per ``key``, never below zero.

        A negative ``delta`` larger than the balance moves nothing (``applied`` and
        ``already`` both False). Safe under concurrency and after a crash at any point."""

    async def balances(self, customer_id: str) -> dict[str, int]:
        """The customer's balances by feature; empty for an unknown customer."""

    async def has_movement(self, key: str) -> bool:
        """True when a movement with ``key`` was applied."""

    async def ledger(self, job_id: str) -> list[LedgerEntry]:
        """Every credit movement recorded for a job, oldest first."""
