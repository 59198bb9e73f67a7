"""The MongoDB store: ``MongoStore``, on PyMongo's async API.

Every write is one single-document atomic operation with its guard in the filter, backed by
unique indexes; there are no multi-document transactions, so it runs on a standalone ``mongod``
as well as on a replica set (architecture.md, "MongoDB usage"). PyMongo's connection errors
are translated into ``StoreUnavailable`` here and never reach the actors."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError
from pymongo.monitoring import CommandListener

from leadgen.errors import StoreUnavailable
from leadgen.ids import utcnow
from leadgen.store.base import Guard
from leadgen.store.fields import (
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
from leadgen.store.mongo_credits import Doc, MongoCredits
from leadgen.store.mongo_errors import translated
from leadgen.store.mongo_leads import MongoLeads
from leadgen.store.mongo_queries import INDEXES, job_filter, outbox_fields

DUPLICATE_KEY = 11000
AFTER = ReturnDocument.AFTER


class MongoStore:
    """Jobs, leads and credits in the MongoDB database ``database`` at ``url``."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        server_selection_timeout_ms: int = 5000,
        operation_timeout_ms: int = 10_000,
        event_listeners: Sequence[CommandListener] = (),
    ) -> None:
        """Every operation is bounded by ``operation_timeout_ms`` (PyMongo's ``timeoutMS``),
        so a frozen server is an outage (``StoreUnavailable``), never a hang. PyMongo lets it
        bound finding a server as well, in place of ``server_selection_timeout_ms``."""
        self._url = url
        self._name = database
        self._timeout_ms = server_selection_timeout_ms
        self._operation_timeout_ms = operation_timeout_ms
        self._listeners = list(event_listeners)  # PyMongo command monitoring (the bench)
        self._client: AsyncMongoClient[Doc] | None = None
        self._book: MongoCredits | None = None

    def _database(self) -> AsyncDatabase[Doc]:
        if self._client is None:
            raise StoreUnavailable("MongoStore is not open")
        return self._client[self._name]

    def _collection(self, name: str) -> AsyncCollection[Doc]:
        return self._database()[name]

    @property
    def _jobs(self) -> AsyncCollection[Doc]:
        return self._collection("jobs")

    @property
    def _leads(self) -> AsyncCollection[Doc]:
        return self._collection("leads")

    @property
    def _credits(self) -> AsyncCollection[Doc]:
        return self._collection("credits")

    @property
    def _ledger(self) -> AsyncCollection[Doc]:
        return self._collection("credit_ledger")

    @translated
    async def open(self) -> None:
        """Connect and create indexes (idempotently)."""
        if self._client is None:
            self._client = AsyncMongoClient(
                self._url,
                serverSelectionTimeoutMS=self._timeout_ms,
                timeoutMS=self._operation_timeout_ms,
                tz_aware=True,
                tzinfo=UTC,
                event_listeners=self._listeners,
            )
            self._book = MongoCredits(self._credits, self._ledger)
        for collection, keys, options in INDEXES:
            await self._collection(collection).create_index(keys, **options)

    async def close(self) -> None:
        """Release connections."""
        if self._client is not None:
            client, self._client, self._book = self._client, None, None
            await client.close()

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self._database().command("ping")
        except (ConnectionFailure, StoreUnavailable):
            return False
        return True

    @translated
    async def drop(self) -> None:
        """Drop the whole database."""
        await self._database().client.drop_database(self._name)

    # -- jobs ---------------------------------------------------------------------------
    @translated
    async def insert_job(self, job: Job) -> bool:
        """Insert ``job``; False (and nothing changes) when its ``_id`` already exists."""
        try:
            await self._jobs.insert_one(job.document())
        except DuplicateKeyError:
            return False
        return True

    @translated
    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""
        doc = await self._jobs.find_one({"_id": job_id})
        return None if doc is None else Job.model_validate(doc)

    @translated
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
        now = utcnow()
        update: Doc = {
            "$set": {**fields, **outbox_fields(outbox, now), "updated_at": now},
            "$inc": {"version": 1, "runs": 1} if inc_runs else {"version": 1},
        }
        if add_commands:
            update["$push"] = {"command_ids": {"$each": list(add_commands)}}
        doc = await self._jobs.find_one_and_update(
            job_filter(job_id, guard), update, return_document=AFTER
        )
        return None if doc is None else Job.model_validate(doc)

    @translated
    async def clear_outbox(
        self, job_id: str, ids: Sequence[str], *, version: int | None = None
    ) -> None:
        """Forget published outbox entries; the whole outbox while the job is at ``version``."""
        if version is not None:
            cleared = await self._jobs.update_one(
                {"_id": job_id, "version": version},
                {"$set": {"outbox": {}, "outbox_since": None}},
            )
            if cleared.matched_count:
                return
        if ids:
            # A later transition may have added entries: remove only what was published.
            await self._jobs.update_one(
                {"_id": job_id}, {"$unset": {f"outbox.{check_key(i)}": "" for i in ids}}
            )

    @translated
    async def account_audit(
        self, job_id: str, lead_id: str, result: AuditResult, outbox: Sequence[OutboxEntry]
    ) -> Job | None:
        """Record the audit of ``lead_id`` on the job once; the job after, or None."""
        field = f"audits.{check_key(lead_id)}"
        counted = "counts.dossiers_done" if result == "done" else "counts.dossiers_failed"
        now = utcnow()
        doc = await self._jobs.find_one_and_update(
            {"_id": job_id, field: {"$exists": False}},
            {
                "$set": {field: result, **outbox_fields(outbox, now), "updated_at": now},
                "$inc": {counted: 1, "audits_pending": -1, "version": 1},
            },
            return_document=AFTER,
        )
        return None if doc is None else Job.model_validate(doc)

    async def unsent_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Jobs whose latest outbox entry was added before ``before``, oldest first."""
        return await self._find_jobs({"outbox_since": {"$lt": before}}, "outbox_since", limit)

    async def stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Running jobs not updated since ``before``, least recently updated first."""
        query = {"status": "running", "updated_at": {"$lt": before}}
        return await self._find_jobs(query, "updated_at", limit)

    async def paused_jobs(self, customer_id: str, feature_id: str) -> list[Job]:
        """The customer's jobs paused for lack of credits of ``feature_id``, oldest first."""
        query = {
            "customer_id": customer_id,
            "status": "paused_for_upgrade",
            "billing_block.feature_id": feature_id,
        }
        return await self._find_jobs(query, "created_at", limit=0)  # 0: no limit

    @translated
    async def _find_jobs(self, query: Doc, oldest_by: str, limit: int) -> list[Job]:
        cursor = self._jobs.find(query, sort=[(oldest_by, 1), ("_id", 1)], limit=limit)
        return [Job.model_validate(doc) async for doc in cursor]

    # -- leads (store/mongo_leads.py) ---------------------------------------------------
    @property
    def _lead_book(self) -> MongoLeads:
        return MongoLeads(self._leads)

    @translated
    async def add_leads(self, leads: Sequence[Lead]) -> None:
        """Insert leads that are not stored yet (by ``job_id`` and ``lead_id``); keep the rest."""
        await self._lead_book.add_leads(leads)

    @translated
    async def leads(self, job_id: str, *, include_duplicates: bool = False) -> list[Lead]:
        """The job's leads ordered by ``source_rank`` then ``lead_id``."""
        return await self._lead_book.leads(job_id, include_duplicates=include_duplicates)

    @translated
    async def get_lead(self, job_id: str, lead_id: str) -> Lead | None:
        """One lead of a job (duplicates included), or None."""
        return await self._lead_book.get_lead(job_id, lead_id)

    @translated
    async def lead_totals(self, job_id: str) -> LeadTotals:
        """How many non-duplicate leads the job has, queued, with a dossier, failed."""
        return await self._lead_book.lead_totals(job_id)

    @translated
    async def update_leads(self, job_id: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set fields on several leads; a lead that is not stored is left alone."""
        await self._lead_book.update_leads(job_id, changes)

    @translated
    async def record_audit(
        self,
        job_id: str,
        lead_id: str,
        *,
        dossier: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store the dossier or the error of a lead that has neither yet; False otherwise."""
        return await self._lead_book.record_audit(job_id, lead_id, dossier=dossier, error=error)

    # -- credits ------------------------------------------------------------------------
    @property
    def credit_book(self) -> MongoCredits:
        """The credit movements of this store's database."""
        if self._book is None:
            raise StoreUnavailable("MongoStore is not open")
        return self._book

    @translated
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
        return await self.credit_book.move_credits(
            customer_id, feature_id, delta, key, job_id=job_id, lead_id=lead_id
        )

    @translated
    async def balances(self, customer_id: str) -> dict[str, int]:
        """The customer's balances by feature; empty for an unknown customer."""
        return await self.credit_book.balances(customer_id)

    @translated
    async def has_movement(self, key: str) -> bool:
        """True when a movement with ``key`` was applied, even if not recorded yet."""
        return await self.credit_book.has_movement(key)

    @translated
    async def ledger(self, job_id: str) -> list[LedgerEntry]:
        """Every credit movement recorded for a job, oldest first."""
        return await self.credit_book.ledger(job_id)
