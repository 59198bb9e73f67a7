"""MongoStore beyond the contract: indexes, crash recovery of credit movements, outages."""

import gc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from leadgen.errors import StoreUnavailable
from leadgen.ids import utcnow
from leadgen.store.models import Movement
from leadgen.store.mongo import MongoStore
from leadgen.store.mongo_credits import MongoCredits
from tests.support.servers import database_name, free_port

pytestmark = pytest.mark.mongo

FEATURE = "dossier_research"


@pytest.fixture
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A raw PyMongo handle on a database of this test's own, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[database_name()]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


@pytest.fixture
async def store(mongodb_url: str, db: AsyncDatabase[dict[str, Any]]) -> AsyncIterator[MongoStore]:
    """A MongoStore on the database of ``db``."""
    store = MongoStore(mongodb_url, db.name)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def crash_after_balance_update(db: AsyncDatabase[dict[str, Any]], key: str) -> None:
    """Do what ``move_credits`` does before recording a charge of one, then stop."""
    await db.credits.update_one(
        {"_id": "c1"}, {"$inc": {f"balances.{FEATURE}": -1}, "$push": {"pending": key}}
    )


def assert_moved_once(movement: Movement) -> None:
    """The movement was found already applied, with the balance charged once from 3."""
    assert (movement.applied, movement.already, movement.balance) == (False, True, 2)


async def test_open_creates_indexes_idempotently(
    store: MongoStore, db: AsyncDatabase[dict[str, Any]]
) -> None:
    """After open (twice) leads are unique per job; jobs (paused by customer, unsent outboxes,
    stalled runs) and the ledger are indexed."""
    await store.open()
    leads = await db.leads.index_information()
    unique = [i for i in leads.values() if i["key"] == [("job_id", 1), ("lead_id", 1)]]
    assert len(unique) == 1 and unique[0].get("unique") is True
    jobs = [i["key"] for i in (await db.jobs.index_information()).values()]
    assert sorted(k[:3] for k in jobs) == [
        [("_id", 1)],
        [("customer_id", 1), ("status", 1), ("billing_block.feature_id", 1)],
        [("outbox_since", 1)],
        [("status", 1), ("updated_at", 1)],
    ]
    ledger = [i["key"] for i in (await db.credit_ledger.index_information()).values()]
    assert any(k[0] == ("job_id", 1) for k in ledger)


async def test_recovers_a_crash_before_the_ledger_entry(
    store: MongoStore, db: AsyncDatabase[dict[str, Any]]
) -> None:
    """Credits moved but not recorded are recorded by the next call, and not moved again."""
    await store.move_credits("c1", FEATURE, 3, "grant-1")
    await crash_after_balance_update(db, "charge-1")
    assert await store.has_movement("charge-1") is True
    assert_moved_once(await store.move_credits("c1", FEATURE, -1, "charge-1", job_id="j1"))
    assert [(e.key, e.delta) for e in await store.ledger("j1")] == [("charge-1", -1)]
    credits = await db.credits.find_one({"_id": "c1"})
    assert credits is not None and credits["pending"] == []
    assert await store.balances("c1") == {FEATURE: 2}


async def test_recovers_a_crash_after_the_ledger_entry(
    store: MongoStore, db: AsyncDatabase[dict[str, Any]]
) -> None:
    """Credits moved and recorded but still marked pending are reported once and cleaned."""
    await store.move_credits("c1", FEATURE, 3, "grant-1")
    await crash_after_balance_update(db, "charge-1")
    entry = {"_id": "charge-1", "customer_id": "c1", "feature_id": FEATURE, "delta": -1}
    await db.credit_ledger.insert_one({**entry, "job_id": "j1", "lead_id": None, "at": utcnow()})
    assert_moved_once(await store.move_credits("c1", FEATURE, -1, "charge-1", job_id="j1"))
    credits = await db.credits.find_one({"_id": "c1"})
    assert credits is not None and credits["pending"] == []
    assert len(await store.ledger("j1")) == 1


def interleave(
    book: MongoCredits,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    other: Callable[[], Awaitable[Movement]],
    *,
    before: bool = False,
) -> list[Movement]:
    """Run ``other`` to its end just before or after the first ``book.<step>``; keep its result."""
    original = getattr(book, step)
    started: list[bool] = []
    results: list[Movement] = []

    async def interleaved(*args: Any, **kwargs: Any) -> Any:
        first = not started
        started.append(True)  # the nested call runs the plain step
        if first and before:
            results.append(await other())
        result = await original(*args, **kwargs)
        if first and not before:
            results.append(await other())
        return result

    monkeypatch.setattr(book, step, interleaved)
    return results


async def test_a_stale_ledger_check_does_not_move_twice(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that found no ledger entry before another with its key finished moves nothing."""
    await store.move_credits("c1", FEATURE, 3, "grant-1")

    def charge() -> Awaitable[Movement]:
        return store.move_credits("c1", FEATURE, -1, "charge-1")

    other = interleave(store.credit_book, monkeypatch, "_recorded", charge)
    first = await charge()
    assert [m.applied for m in other] == [True]
    assert (first.applied, first.already) == (False, True)
    assert await store.balances("c1") == {FEATURE: 2}


async def test_a_call_recording_anothers_movement_does_not_move_twice(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch, db: AsyncDatabase[dict[str, Any]]
) -> None:
    """A call that sees another's movement pending records it once; the balance moves once."""
    await store.move_credits("c1", FEATURE, 3, "grant-1")

    def charge() -> Awaitable[Movement]:
        return store.move_credits("c1", FEATURE, -1, "charge-1", job_id="j1")

    other = interleave(store.credit_book, monkeypatch, "_finish", charge, before=True)
    first = await charge()
    assert [m.already for m in other] == [True]
    assert (first.applied, first.balance) == (True, 2)
    assert await store.balances("c1") == {FEATURE: 2}
    assert len(await store.ledger("j1")) == 1
    credits = await db.credits.find_one({"_id": "c1"})
    assert credits is not None and credits["pending"] == []


async def test_unreachable_server_raises_store_unavailable() -> None:
    """A store whose server does not answer raises StoreUnavailable, never a PyMongo error."""
    store = MongoStore(
        f"mongodb://127.0.0.1:{free_port()}",
        database_name(),
        server_selection_timeout_ms=200,
        operation_timeout_ms=300,  # it bounds finding a server too
    )
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.get_job("job-1")
    with pytest.raises(StoreUnavailable):
        await store.move_credits("c1", FEATURE, 1, "grant-1")
    assert await store.ping() is False
    # PyMongo (4.20) drops without closing the socket of a server check that close() cancels
    # mid-connect; collect it here, where its ResourceWarning is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        await store.close()
        gc.collect()
