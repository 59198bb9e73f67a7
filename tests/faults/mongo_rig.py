"""Fault injection on MongoDB: scenarios played on a fresh ``MongoStore``, and faults around the
real PyMongo calls a credit movement makes.

``FaultyCollection`` wraps one of the two collections ``MongoCredits`` works on. Every call of
``find_one``, ``find_one_and_update``, ``update_one`` and ``insert_one`` goes to the real
collection; a ``CallFault`` numbers them and, at its target, makes the call fail once before it
reaches the server (``fail``: ``AutoReconnect``), lose its reply after it was applied (``lost``:
``AutoReconnect`` after the call), stop the caller for good after it (``crash``) or hold it until
released (``pause``, for interleaving a second caller)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import AutoReconnect

from leadgen.store.mongo import MongoStore
from tests.faults.outcome import check_books, settled_state
from tests.faults.rig import Fault
from tests.faults.scenarios import Scenario, drive, seed
from tests.support.servers import database_name

WRAPPED = ("find_one", "find_one_and_update", "update_one", "insert_one")
# The steps of a movement that write: create the credits document, move the balance and mark
# the key pending, record the ledger entry, remove the mark.
WRITE_STEPS = ("create", "apply", "record", "unmark")


def step_of(collection: str, method: str, args: tuple[Any, ...]) -> str:
    """What a call does in a credit movement, with the key it concerns: ``apply charge:...``."""
    if collection == "ledger":
        if method == "insert_one":
            return f"record {args[0]['_id']}"
        return f"lookup {args[0].get('_id', '')}"
    if method == "find_one_and_update":
        update = args[1]
        if "$push" in update:
            return f"apply {update['$push']['pending']}"
        return f"unmark {args[0]['pending']}"
    if method == "update_one":
        return f"create {args[0]['_id']}"
    return f"read {args[0].get('_id', args[0].get('pending', ''))}"


@dataclass
class CallFault:
    """One fault at call ``target`` of the wrapped collections, among the calls ``counted``
    admits (by step): an index, or a step and which of its occurrences (1 for the first). The
    steps of those calls are kept in ``calls``; ``dealt`` is the index the fault was dealt at."""

    target: int | tuple[str, int] | None = None
    mode: str = "crash"  # "fail", "lost", "crash" or "pause"
    counted: Callable[[str], bool] = lambda step: True
    calls: list[str] = field(default_factory=list)
    dealt: int | None = None
    crashed: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def _is_target(self, index: int, step: str) -> bool:
        if isinstance(self.target, tuple):
            return (step, self.calls.count(step)) == self.target
        return index == self.target

    async def around(self, step: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call``, with the fault if it is the target."""
        if not self.counted(step):
            return await call()
        index = len(self.calls)
        self.calls.append(step)
        if self.dealt is not None or not self._is_target(index, step):
            return await call()
        self.dealt = index
        if self.mode == "fail":
            raise AutoReconnect(f"injected failure of {step}")
        result = await call()
        if self.mode == "lost":
            raise AutoReconnect(f"injected loss of the reply to {step}")
        self.crashed.set()
        if self.mode == "pause":
            await self.release.wait()
            return result
        await asyncio.Event().wait()  # the process is gone
        return result

    def hit(self) -> str | None:
        """The step the fault was dealt at, once it was."""
        return None if self.dealt is None else self.calls[self.dealt]

    def applied_before_fault(self) -> bool:
        """True when the balance was moved by a call that completed (the target included,
        unless it failed before reaching the server)."""
        assert self.dealt is not None
        done = self.calls[: self.dealt + (self.mode != "fail")]
        return any(step.startswith("apply ") for step in done)


def occurrences(steps: list[str]) -> list[tuple[str, int]]:
    """Each step of ``steps`` as (step, which occurrence of it), in order."""
    return [(step, steps[: i + 1].count(step)) for i, step in enumerate(steps)]


class FaultyCollection:
    """A real PyMongo collection whose credit calls go through ``fault``."""

    def __init__(self, inner: Any, name: str, fault: CallFault) -> None:
        self.inner = inner
        self.name = name
        self.fault = fault

    def __getattr__(self, method: str) -> Any:
        attribute = getattr(self.inner, method)
        if method not in WRAPPED:
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            step = step_of(self.name, method, args)
            return await self.fault.around(step, lambda: attribute(*args, **kwargs))

        return call


def arm(store: MongoStore, fault: CallFault) -> None:
    """Route the credit book's calls of ``store`` through ``fault``."""
    book = store.credit_book
    book._credits = FaultyCollection(book._credits, "credits", fault)  # type: ignore[assignment]
    book._ledger = FaultyCollection(book._ledger, "ledger", fault)  # type: ignore[assignment]


@asynccontextmanager
async def fresh_store(url: str, name: str | None = None) -> AsyncIterator[MongoStore]:
    """An open MongoStore on database ``name`` (a new one by default), dropped afterwards."""
    store = MongoStore(url, name or database_name())
    await store.open()
    try:
        yield store
    finally:
        await store.open()  # a stopped worker closes its store
        await store.drop()
        await store.close()


async def play(
    url: str,
    scenario: Scenario,
    fault: Fault,
    *,
    with_message_id: bool = True,
    credit_fault: CallFault | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Play ``scenario`` on a fresh MongoDB database with ``fault`` (and ``credit_fault`` inside
    the credit movements); the settled state and what ``check_books`` found wrong."""
    async with fresh_store(url) as store:
        await seed(store, scenario)
        if credit_fault is not None:
            credit_fault.crashed = fault.crashed  # a crash inside a movement is the worker's
            arm(store, credit_fault)
        rig = await drive(store, scenario, fault, with_message_id)
        await store.open()  # the worker closed it
        return await settled_state(rig), await check_books(rig, scenario)
