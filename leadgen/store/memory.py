"""The in-process store: the embedded default of ``leadgen run`` and of the fast test tier.

It keeps the same contract as ``MongoStore``. State lives in dicts of plain documents shaped as
MongoDB would keep them (lists for tuples, UTC datetimes at millisecond precision), and every
read returns a fresh model, so callers can never change stored state by mutating a result.
No method awaits between its check and its write, which makes each one atomic under asyncio."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadgen.ids import utcnow
from leadgen.store.base import Guard
from leadgen.store.fields import (
    LEAD_RESERVED,
    audit_field,
    check_fields,
    check_key,
    job_reserved,
)
from leadgen.store.models import (
    AuditResult,
    Job,
    Lead,
    LeadTotals,
    LedgerEntry,
    Movement,
    OutboxEntry,
)


def plain(value: Any) -> Any:
    """A deep copy of ``value`` as MongoDB would store and return it; TypeError if it can't."""
    kind = type(value)
    if value is None or kind in _SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        for key in value:
            if type(key) is not str:
                raise TypeError("documents have string keys only")
        return {k: plain(v) for k, v in value.items()}
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        # BSON keeps milliseconds and reads a naive datetime as UTC.
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, bool | int | float | str | bytes):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


_SCALARS = frozenset({str, int, float, bool, bytes})


def fresh(value: Any) -> Any:
    """A copy of a stored document deep enough that no caller can change the stored one:
    stored documents hold only dicts, lists and immutable values (see ``plain``)."""
    if type(value) is dict:
        return {k: fresh(v) for k, v in value.items()}
    if type(value) is list:
        return [fresh(v) for v in value]
    return value


class MemoryStore:
    """Jobs, leads and credits in process memory; gone when the process ends."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._leads: dict[str, dict[str, dict[str, Any]]] = {}  # job id -> lead id -> lead
        self._balances: dict[str, dict[str, int]] = {}
        self._ledger: dict[str, LedgerEntry] = {}

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release; the data stays until ``drop``."""

    async def ping(self) -> bool:
        """Always answers."""
        return True

    async def drop(self) -> None:
        """Forget everything."""
        self._jobs.clear()
        self._leads.clear()
        self._balances.clear()
        self._ledger.clear()

    # -- jobs ---------------------------------------------------------------------------
    async def insert_job(self, job: Job) -> bool:
        """Insert ``job``; False (and nothing changes) when its ``_id`` already exists."""
        if job.id in self._jobs:
            return False
        self._jobs[job.id] = plain(job.document())
        return True

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""
        doc = self._jobs.get(job_id)
        return None if doc is None else Job.model_validate(fresh(doc))

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
        """Set top-level ``fields`` if ``guard`` admits the job; return the job after, or None."""
        check_fields(fields, job_reserved(add_commands=add_commands))
        entries = {check_key(e.id): plain(e.model_dump()) for e in outbox}
        doc = self._jobs.get(job_id)
        if doc is None or not guard.admits_document(doc):
            return None
        # Stored documents are never changed in place: the new one may share their parts.
        after = {**doc, **plain(fields)}
        now = utcnow()
        after["updated_at"] = now
        after["version"] = doc["version"] + 1
        if inc_runs:
            after["runs"] = doc["runs"] + 1
        after["command_ids"] = [*after["command_ids"], *add_commands]
        if entries:
            after["outbox"] = {**after["outbox"], **entries}
            after["outbox_since"] = now
        job = Job.model_validate(fresh(after))  # refuse a document that would not read
        self._jobs[job_id] = after
        return job

    async def clear_outbox(
        self, job_id: str, ids: Sequence[str], *, version: int | None = None
    ) -> None:
        """Forget published outbox entries; the whole outbox while the job is at ``version``."""
        doc = self._jobs.get(job_id)
        if doc is None:
            return
        if doc["version"] == version:
            doc["outbox"], doc["outbox_since"] = {}, None
        else:
            doc["outbox"] = {k: v for k, v in doc["outbox"].items() if k not in ids}

    async def account_audit(
        self, job_id: str, lead_id: str, result: AuditResult, outbox: Sequence[OutboxEntry]
    ) -> Job | None:
        """Record the audit of ``lead_id`` on the job once; the job after, or None."""
        check_key(lead_id)
        entries = {check_key(e.id): plain(e.model_dump()) for e in outbox}
        doc = self._jobs.get(job_id)
        if doc is None or lead_id in doc["audits"]:
            return None
        counted = "dossiers_done" if result == "done" else "dossiers_failed"
        now = utcnow()
        after = {
            **doc,
            "audits": {**doc["audits"], lead_id: result},
            "counts": {**doc["counts"], counted: doc["counts"][counted] + 1},
            "audits_pending": doc["audits_pending"] - 1,
            "version": doc["version"] + 1,
            "updated_at": now,
        }
        if entries:
            after["outbox"] = {**after["outbox"], **entries}
            after["outbox_since"] = now
        self._jobs[job_id] = after
        return Job.model_validate(fresh(after))

    async def unsent_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Jobs whose latest outbox entry was added before ``before``, oldest first."""
        docs = [d for d in self._jobs.values() if d["outbox_since"] and d["outbox_since"] < before]
        docs.sort(key=lambda d: d["outbox_since"])
        return [Job.model_validate(fresh(d)) for d in docs[:limit]]

    async def stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Running jobs not updated since ``before``, least recently updated first."""
        docs = [
            d for d in self._jobs.values() if d["status"] == "running" and d["updated_at"] < before
        ]
        docs.sort(key=lambda d: d["updated_at"])
        return [Job.model_validate(fresh(d)) for d in docs[:limit]]

    async def paused_jobs(self, customer_id: str, feature_id: str) -> list[Job]:
        """The customer's jobs paused for lack of credits of ``feature_id``, oldest first."""
        docs = [
            d
            for d in self._jobs.values()
            if d["customer_id"] == customer_id
            and d["status"] == "paused_for_upgrade"
            and (d["billing_block"] or {}).get("feature_id") == feature_id
        ]
        docs.sort(key=lambda d: (d["created_at"], d["_id"]))
        return [Job.model_validate(fresh(d)) for d in docs]

    # -- leads --------------------------------------------------------------------------
    async def add_leads(self, leads: Sequence[Lead]) -> None:
        """Insert leads that are not stored yet (by ``job_id`` and ``lead_id``); keep the rest."""
        for lead in leads:
            of_job = self._leads.setdefault(lead.job_id, {})
            of_job.setdefault(lead.lead_id, plain(lead.model_dump()))

    async def leads(self, job_id: str, *, include_duplicates: bool = False) -> list[Lead]:
        """The job's leads ordered by ``source_rank`` then ``lead_id``."""
        docs = [
            d
            for d in self._leads.get(job_id, {}).values()
            if include_duplicates or d["duplicate_of"] is None
        ]
        docs.sort(key=lambda d: (d["source_rank"], d["lead_id"]))
        return [Lead.model_validate(fresh(d)) for d in docs]

    async def get_lead(self, job_id: str, lead_id: str) -> Lead | None:
        """One lead of a job (duplicates included), or None."""
        doc = self._leads.get(job_id, {}).get(lead_id)
        return None if doc is None else Lead.model_validate(fresh(doc))

    async def lead_totals(self, job_id: str) -> LeadTotals:
        """How many non-duplicate leads the job has, queued, with a dossier, failed."""
        docs = [d for d in self._leads.get(job_id, {}).values() if d["duplicate_of"] is None]
        queued = [d for d in docs if d["queued"]]
        return LeadTotals(
            leads=len(docs),
            queued=len(queued),
            done=sum(d["dossier"] is not None for d in queued),
            failed=sum(d["dossier_error"] is not None for d in queued),
        )

    async def update_leads(self, job_id: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set fields on several leads; a lead that is not stored is left alone."""
        for fields in changes.values():
            check_fields(fields, LEAD_RESERVED)
        for lead_id, fields in changes.items():
            doc = self._leads.get(job_id, {}).get(lead_id)
            if doc is not None:
                doc.update(plain(fields))

    async def record_audit(
        self,
        job_id: str,
        lead_id: str,
        *,
        dossier: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store the dossier or the error of a lead that has neither yet; False otherwise."""
        field, value = audit_field(dossier, error)
        doc = self._leads.get(job_id, {}).get(lead_id)
        if doc is None or doc["dossier"] is not None or doc["dossier_error"] is not None:
            return False
        doc[field] = plain(value)
        return True

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
        """Add ``delta`` to a balance at most once per ``key``, never below zero."""
        balances = self._balances.setdefault(customer_id, {})
        current = balances.get(feature_id, 0)
        if key in self._ledger:
            return Movement(applied=False, already=True, balance=current)
        if current + delta < 0:
            return Movement(applied=False, already=False, balance=current)
        balances[feature_id] = current + delta
        self._ledger[key] = LedgerEntry(
            key=key,
            customer_id=customer_id,
            feature_id=feature_id,
            delta=delta,
            job_id=job_id,
            lead_id=lead_id,
            at=utcnow(),
        )
        return Movement(applied=True, already=False, balance=current + delta)

    async def balances(self, customer_id: str) -> dict[str, int]:
        """The customer's balances by feature; empty for an unknown customer."""
        return dict(self._balances.get(customer_id, {}))

    async def has_movement(self, key: str) -> bool:
        """True when a movement with ``key`` was applied."""
        return key in self._ledger

    async def ledger(self, job_id: str) -> list[LedgerEntry]:
        """Every credit movement recorded for a job, oldest first."""
        entries = [e for e in self._ledger.values() if e.job_id == job_id]
        return sorted(entries, key=lambda e: (e.at, e.key))
