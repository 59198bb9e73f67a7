"""Credit movements on MongoDB without transactions: at most once per key, never below zero.

The credits document marks a key ``pending`` in the same update that moves the balance, the
ledger entry follows, then the mark is removed. Removing a mark bumps the document's ``seq``;
a balance update applies only if ``seq`` is unchanged since the ledger was found without the
key, so a call that checked the ledger before another call with the same key finished cannot
apply it a second time; it starts over instead (invariant 5). A crash between any two steps
is completed by the next call with the same key."""

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from leadgen.errors import StoreUnavailable
from leadgen.ids import utcnow
from leadgen.store.models import LedgerEntry, Movement

Doc = dict[str, Any]
# Each failed attempt means another movement of the same customer completed meanwhile.
MAX_CREDIT_ATTEMPTS = 100
AFTER = ReturnDocument.AFTER


class MongoCredits:
    """Balances in ``credits`` (``_id`` = customer id) and movements in the ledger."""

    def __init__(self, credits: AsyncCollection[Doc], ledger: AsyncCollection[Doc]) -> None:
        self._credits = credits
        self._ledger = ledger

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
        move = _Move(customer_id, feature_id, delta, key, job_id, lead_id)
        for _ in range(MAX_CREDIT_ATTEMPTS):
            movement = await self._try_move(move)
            if movement is not None:
                return movement
        raise StoreUnavailable(f"credits of {customer_id} too busy to move {key}")

    async def _try_move(self, move: "_Move") -> Movement | None:
        """One attempt of ``move_credits``; None when it must start over."""
        # Read seq before the ledger: a key finished after this read changes seq.
        seq = (await self._credits_doc(move.customer_id)).get("seq")
        if await self._recorded(move.key):
            return await self._finish(move, applied=False, record=False)
        balance = f"balances.{move.feature_id}"
        query: Doc = {"_id": move.customer_id, "seq": seq, "pending": {"$ne": move.key}}
        if move.delta < 0:
            query[balance] = {"$gte": -move.delta}
        update = {"$inc": {balance: move.delta}, "$push": {"pending": move.key}}
        if await self._credits.find_one_and_update(query, update) is not None:
            return await self._finish(move, applied=True, record=True)
        now = await self._credits.find_one({"_id": move.customer_id}) or {}
        if move.key in now.get("pending", []):
            # An earlier call moved the credits and stopped before recording them.
            return await self._finish(move, applied=False, record=True)
        available = _balance(now, move.feature_id)
        if now.get("seq") == seq and available + move.delta < 0:
            return Movement(applied=False, already=False, balance=available)
        return None

    async def _credits_doc(self, customer_id: str) -> Doc:
        """The customer's credits document, created empty when missing."""
        doc = await self._credits.find_one({"_id": customer_id})
        if doc is not None:
            return doc
        with suppress(DuplicateKeyError):  # a concurrent call created it
            await self._credits.update_one(
                {"_id": customer_id},
                {"$setOnInsert": {"balances": {}, "pending": [], "seq": 0}},
                upsert=True,
            )
        return await self._credits.find_one({"_id": customer_id}) or {}

    async def _finish(self, move: "_Move", *, applied: bool, record: bool) -> Movement:
        """Record ``move`` in the ledger (when ``record``) and clear its pending mark."""
        if record:
            with suppress(DuplicateKeyError):  # a concurrent call recorded this same movement
                await self._ledger.insert_one(move.ledger_document())
        doc = await self._credits.find_one_and_update(
            {"_id": move.customer_id, "pending": move.key},
            {"$pull": {"pending": move.key}, "$inc": {"seq": 1}},
            return_document=AFTER,
        )
        if doc is None:
            doc = await self._credits.find_one({"_id": move.customer_id}) or {}
        balance = _balance(doc, move.feature_id)
        return Movement(applied=applied, already=not applied, balance=balance)

    async def balances(self, customer_id: str) -> dict[str, int]:
        """The customer's balances by feature; empty for an unknown customer."""
        doc = await self._credits.find_one({"_id": customer_id}, {"balances": True})
        return dict(doc.get("balances", {})) if doc is not None else {}

    async def has_movement(self, key: str) -> bool:
        """True when a movement with ``key`` was applied, even if not recorded yet."""
        if await self._recorded(key):
            return True
        return await self._credits.find_one({"pending": key}, {"_id": True}) is not None

    async def _recorded(self, key: str) -> bool:
        """True when the ledger holds ``key``."""
        return await self._ledger.find_one({"_id": key}, {"_id": True}) is not None

    async def ledger(self, job_id: str) -> list[LedgerEntry]:
        """Every credit movement recorded for a job, oldest first."""
        cursor = self._ledger.find({"job_id": job_id}, sort=[("at", 1), ("_id", 1)])
        return [LedgerEntry.model_validate({**doc, "key": doc["_id"]}) async for doc in cursor]


@dataclass(frozen=True)
class _Move:
    """The arguments of one ``move_credits`` call."""

    customer_id: str
    feature_id: str
    delta: int
    key: str
    job_id: str | None
    lead_id: str | None

    def ledger_document(self) -> Doc:
        """The ledger entry of this movement, keyed by its idempotency key."""
        doc = asdict(self)
        doc["_id"] = doc.pop("key")
        return {**doc, "at": utcnow()}


def _balance(doc: Mapping[str, Any], feature_id: str) -> int:
    """The balance of ``feature_id`` in a credits document; a missing one is 0."""
    return int(doc.get("balances", {}).get(feature_id, 0))
