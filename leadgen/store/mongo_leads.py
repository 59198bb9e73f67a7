"""Leads on MongoDB: one document per (job, lead), unique by both, written by bulk upserts.

``MongoStore`` (store/mongo.py) delegates its lead methods here and translates PyMongo's
connection errors at its own edge."""

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from leadgen.store.fields import LEAD_RESERVED, audit_field, check_fields
from leadgen.store.models import Lead, LeadTotals

Doc = dict[str, Any]
DUPLICATE_KEY = 11000


class MongoLeads:
    """The ``leads`` collection of a store's database."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._collection = collection

    async def add_leads(self, leads: Sequence[Lead]) -> None:
        """Insert leads that are not stored yet (by ``job_id`` and ``lead_id``); keep the rest."""
        if not leads:
            return
        ops = [
            UpdateOne(
                {"job_id": lead.job_id, "lead_id": lead.lead_id},
                {"$setOnInsert": lead.model_dump(exclude={"job_id", "lead_id"})},
                upsert=True,
            )
            for lead in leads
        ]
        try:
            await self._collection.bulk_write(ops, ordered=False)
        except BulkWriteError as e:
            # Concurrent upserts of one lead: the loser hits the unique index, the lead is stored.
            errors = e.details.get("writeErrors", [])
            if e.details.get("writeConcernErrors") or any(
                err.get("code") != DUPLICATE_KEY for err in errors
            ):
                raise

    async def leads(self, job_id: str, *, include_duplicates: bool = False) -> list[Lead]:
        """The job's leads ordered by ``source_rank`` then ``lead_id``."""
        query: Doc = {"job_id": job_id}
        if not include_duplicates:
            query["duplicate_of"] = None
        cursor = self._collection.find(
            query, {"_id": False}, sort=[("source_rank", 1), ("lead_id", 1)]
        )
        return [Lead.model_validate(doc) async for doc in cursor]

    async def get_lead(self, job_id: str, lead_id: str) -> Lead | None:
        """One lead of a job (duplicates included), or None."""
        doc = await self._collection.find_one(
            {"job_id": job_id, "lead_id": lead_id}, {"_id": False}
        )
        return None if doc is None else Lead.model_validate(doc)

    async def lead_totals(self, job_id: str) -> LeadTotals:
        """How many non-duplicate leads the job has, queued, with a dossier, failed.

        Counted by the server: an audit checks these after every lead, and reading every lead
        (dossiers included) each time would make a job's audits quadratic in its size."""

        def queued_with(field: str) -> Doc:
            condition = {"$and": ["$queued", {"$ne": [f"${field}", None]}]}
            return {"$sum": {"$cond": [condition, 1, 0]}}

        pipeline: list[Doc] = [
            {"$match": {"job_id": job_id, "duplicate_of": None}},
            {
                "$group": {
                    "_id": None,
                    "leads": {"$sum": 1},
                    "queued": {"$sum": {"$cond": ["$queued", 1, 0]}},
                    "done": queued_with("dossier"),
                    "failed": queued_with("dossier_error"),
                }
            },
        ]
        async for doc in await self._collection.aggregate(pipeline):
            return LeadTotals.model_validate(doc)
        return LeadTotals()

    async def update_leads(self, job_id: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set fields on several leads; a lead that is not stored is left alone."""
        for fields in changes.values():
            check_fields(fields, LEAD_RESERVED)
        ops = [
            UpdateOne({"job_id": job_id, "lead_id": lead_id}, {"$set": dict(fields)})
            for lead_id, fields in changes.items()
            if fields
        ]
        if ops:
            await self._collection.bulk_write(ops)

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
        result = await self._collection.update_one(
            {"job_id": job_id, "lead_id": lead_id, "dossier": None, "dossier_error": None},
            {"$set": {field: value}},
        )
        return result.modified_count == 1
