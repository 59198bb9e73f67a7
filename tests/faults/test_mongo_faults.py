"""Fault injection on the MongoDB store (SecantusDB): the systematic crash and one-time failure
at every store write of two paths, faults at every write inside the credit movements of a whole
run, and every intermediate state of a credit movement left by a crash, a failed call or a
lost reply, completed by the next call with the same key (invariants 5, 7 and 9).

Publishes are left to test_systematic.py: they go to the same in-process broker there."""

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from leadgen import constants as c
from leadgen.actors.audit import AuditActor
from leadgen.broker.base import Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.errors import StoreUnavailable
from leadgen.ids import charge_key, refund_key
from leadgen.messages.codec import encode
from leadgen.messages.tasks import AuditTask
from leadgen.providers.offline import OfflineAuditor, OfflineLeadSource
from leadgen.settings import Settings
from leadgen.store.models import AuditPlan, Job, JobRequest, Lead, Movement, PhaseState
from leadgen.store.mongo import MongoStore
from leadgen.worker.process import Worker
from leadgen.workflow.services import Services
from tests.faults.mongo_rig import (
    WRITE_STEPS,
    CallFault,
    arm,
    fresh_store,
    occurrences,
    play,
)
from tests.faults.outcome import pending_keys
from tests.faults.rig import WRITES, Fault
from tests.faults.scenarios import CUSTOMER, JOB, SCENARIOS
from tests.support.servers import database_name

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.timeout(300),
    # PyMongo (4.20) drops without closing the socket of a server check that close() cancels
    # mid-connect (see tests/store/test_mongo.py); these tests open and close hundreds of
    # clients, each closed in a finally, and its ResourceWarning comes at any later collection.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

# Between them these two paths make every store write: insert_job, update_job, clear_outbox,
# account_audit, add_leads, update_leads, record_audit and move_credits.
PATHS = ("grant_resumes", "cancel_during_audits")
# SecantusDB is one process on a 2-core machine: more runs at once only queue up behind it.
PARALLEL = 4


@pytest.fixture(scope="module", autouse=True)
def _collect_dropped_sockets() -> Iterator[None]:
    """Collect the sockets PyMongo dropped here, while their warnings are expected."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def inject_everywhere(
    url: str, mode: str, *, in_credits: bool = False, paths: tuple[str, ...] = PATHS
) -> tuple[list[str], set[str]]:
    """Play each path fault-free, then once per call site with a ``mode`` fault there: at each
    store write, or (``in_credits``) at each write inside the credit movements; what ended
    differently from the fault-free run, and the sites the faults were dealt at."""
    limit = asyncio.Semaphore(PARALLEL)
    hits: set[str] = set()

    async def inject(path: str, expected: dict[str, Any], site: Any) -> list[str]:
        fault = Fault(target=None if in_credits else site, mode=mode)
        inner = CallFault(target=site, mode=mode, counted=is_write) if in_credits else None
        async with limit:
            try:
                state, problems = await play(url, SCENARIOS[path], fault, credit_fault=inner)
            except TimeoutError as exc:
                return [f"{path}: {mode} at {site}: {exc}"]
        hit = inner.hit() if inner else site[0] if fault.calls.count(site[0]) >= site[1] else None
        if hit is not None:
            hits.add(hit)
        diff = {k: (expected[k], state[k]) for k in expected if expected[k] != state[k]}
        if diff or problems:
            return [f"{path}: {mode} at {site} ({hit}): {diff or ''} {problems or ''}"]
        return []

    runs = []
    for path in paths:
        probe = Fault()
        inner = CallFault(counted=is_write) if in_credits else None
        expected, problems = await play(url, SCENARIOS[path], probe, credit_fault=inner)
        assert problems == [], f"{path} fault-free: {problems}"
        if inner is not None:
            sites: list[Any] = occurrences(inner.calls)
        else:  # publishes go to the in-process broker, as in test_systematic.py
            # By name and occurrence: the order of calls of concurrent handlers varies.
            sites = [site for site in occurrences(probe.calls) if site[0] in WRITES]
        runs += [inject(path, expected, site) for site in sites]
    failures = await asyncio.gather(*runs)
    return [f for some in failures for f in some], hits


def is_write(step: str) -> bool:
    """True for the steps of a credit movement that write."""
    return step.split(" ")[0] in WRITE_STEPS


@pytest.mark.parametrize("mode", ["crash", "fail"])
async def test_every_store_fault_on_mongodb_ends_like_the_fault_free_run(
    mongodb_url: str, mode: str
) -> None:
    """On MongoDB, a crash after, or a one-time failure of, any store write of the grant-resume
    and cancel-in-audits paths changes no outcome, and every kind of store write is hit."""
    found, hits = await inject_everywhere(mongodb_url, mode)
    assert not found, "\n".join(found)
    assert set(WRITES) <= hits


@pytest.mark.parametrize("mode", ["crash", "fail", "lost"])
async def test_every_credit_write_fault_in_a_run_ends_like_the_fault_free_run(
    mongodb_url: str, mode: str
) -> None:
    """Inside every credit movement of the grant-resume path (source charge, audit charges, the
    grant), a crash after, a failure of, or a lost reply to any write changes no outcome and
    leaves no pending mark: a redelivered audit completes a charge whose ledger entry was lost."""
    found, hits = await inject_everywhere(
        mongodb_url, mode, in_credits=True, paths=("grant_resumes",)
    )
    assert not found, "\n".join(found)
    steps = {(hit.split(" ")[0], hit.split(" ")[1].split(":")[0]) for hit in hits}
    assert {(s, kind) for s in ("apply", "record", "unmark") for kind in ("charge", "grant")} <= (
        steps
    )


# -- one credit movement, every intermediate state ----------------------------------------

LEAD = "ld_1"


@dataclass(frozen=True)
class Spec:
    """A credit movement as leadgen makes it, and how to prepare the customer for it."""

    customer: str
    delta: int
    key: str
    job_id: str | None = None
    lead_id: str | None = None
    seed: int | None = None  # the balance before, None for a customer without credits yet
    charged: bool = False  # the lead's charge was made before (a refund gives it back)

    async def prepare(self, store: MongoStore) -> None:
        """Seed the balance and the earlier charge, through the store, fault-free."""
        if self.seed is not None:
            await store.move_credits(self.customer, c.DOSSIER_RESEARCH, self.seed, "seed:1")
        if self.charged:
            await charge.move(store)

    def move(self, store: MongoStore) -> Awaitable[Movement]:
        """The movement, through ``store``."""
        return store.move_credits(
            self.customer,
            c.DOSSIER_RESEARCH,
            self.delta,
            self.key,
            job_id=self.job_id,
            lead_id=self.lead_id,
        )


charge = Spec(CUSTOMER, -1, charge_key(JOB, LEAD), JOB, LEAD, seed=3)
SPECS = {
    "charge": charge,
    "refund": Spec(CUSTOMER, +1, refund_key(JOB, LEAD), JOB, LEAD, seed=3, charged=True),
    "grant": Spec("newco", +3, "grant:g-1"),  # creates the customer's credits document
}


async def book_state(store: MongoStore, spec: Spec) -> tuple[int, list[dict[str, Any]], list[str]]:
    """The balance, the ledger entries of the movement's key and the pending marks, read
    from the raw collections."""
    doc = await store._credits.find_one({"_id": spec.customer}) or {}
    balance = int(doc.get("balances", {}).get(c.DOSSIER_RESEARCH, 0))
    entries = [e async for e in store._ledger.find({"_id": spec.key})]
    return balance, entries, list(doc.get("pending", []))


async def interrupted(store: MongoStore, spec: Spec, fault: CallFault) -> None:
    """Make the movement meet ``fault``: a failure or a lost reply surfaces as StoreUnavailable;
    a crash leaves the call hanging, and it is then abandoned as a dead process is."""
    arm(store, fault)
    if fault.mode != "crash":
        with pytest.raises(StoreUnavailable):
            await spec.move(store)
        return
    task = asyncio.ensure_future(spec.move(store))
    crashed = asyncio.ensure_future(fault.crashed.wait())
    await asyncio.wait({task, crashed}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    crashed.cancel()
    assert fault.crashed.is_set() and not task.done(), "the crash was not dealt"
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def check_completed(
    store: MongoStore, spec: Spec, before: int, movement: Movement, moved_before: bool
) -> list[str]:
    """What is wrong after the movement was made again: it must have moved the balance once,
    recorded one ledger entry, left no mark, and said whether it moved the credits itself."""
    problems = []
    balance, entries, pending = await book_state(store, spec)
    if balance != before + spec.delta:
        problems.append(f"balance {balance}, expected {before + spec.delta}")
    records = [(e["delta"], e["job_id"], e["lead_id"], e["customer_id"]) for e in entries]
    if records != [(spec.delta, spec.job_id, spec.lead_id, spec.customer)]:
        problems.append(f"ledger entries {records}")
    if pending:
        problems.append(f"pending marks {pending}")
    if not await store.has_movement(spec.key):
        problems.append("has_movement is False")
    said = (movement.applied, movement.already, movement.balance)
    if said != (not moved_before, moved_before, before + spec.delta):
        problems.append(f"second call said applied/already/balance {said}")
    return problems


async def move_with_fault(url: str, spec: Spec, fault: CallFault) -> list[str]:
    """Make ``spec`` meet ``fault`` on a fresh database, then make it again as a retry (the same
    store) or a redelivery (a fresh store, after a crash); what is wrong, if anything."""
    async with fresh_store(url) as store:
        await spec.prepare(store)
        before, _, _ = await book_state(store, spec)
        await interrupted(store, spec, fault)
        where = f"{fault.mode} at #{fault.target} {fault.hit()}"
        crashed = fault.mode == "crash"
        async with fresh_store(url, store._name) if crashed else nullcontext(store) as again:
            balance, _, pending = await book_state(again, spec)
            moved = balance != before
            problems = []
            if moved != fault.applied_before_fault():
                problems.append(f"balance {balance} after calls {fault.calls}")
            if moved and balance != before + spec.delta:
                problems.append(f"balance {balance} moved by other than {spec.delta}")
            if await again.has_movement(spec.key) != moved:
                problems.append(f"has_movement is not {moved} (pending {pending})")
            movement = await spec.move(again)
            problems += await check_completed(again, spec, before, movement, moved)
        return [f"{where}: {p}" for p in problems]


async def count_calls(url: str, spec: Spec) -> list[str]:
    """The steps of the movement made fault-free on a fresh database."""
    probe = CallFault()
    async with fresh_store(url) as store:
        await spec.prepare(store)
        arm(store, probe)
        movement = await spec.move(store)
    assert movement.applied
    return probe.calls


@pytest.mark.parametrize("mode", ["crash", "fail", "lost"])
@pytest.mark.parametrize("movement", sorted(SPECS))
async def test_a_credit_movement_interrupted_at_any_call_is_completed_exactly_once(
    mongodb_url: str, movement: str, mode: str
) -> None:
    """A charge, refund or grant crashed after, failed at, or with the reply lost of any of its
    MongoDB calls is completed by the next call with its key: balance moved once, one ledger
    entry, no pending mark, has_movement true, and the call says who moved the credits."""
    spec = SPECS[movement]
    steps = await count_calls(mongodb_url, spec)
    assert [s.split(" ")[0] for s in steps if is_write(s)][-3:] == ["apply", "record", "unmark"]
    found = await asyncio.gather(
        *(
            move_with_fault(mongodb_url, spec, CallFault(target=n, mode=mode))
            for n in range(len(steps))
        )
    )
    problems = [p for some in found for p in some]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("movement", sorted(SPECS))
async def test_a_concurrent_call_with_the_same_key_never_moves_credits_twice(
    mongodb_url: str, movement: str
) -> None:
    """A call held after any of its MongoDB calls while another call with the same key runs to
    the end (the seq fence) does not move the credits again: exactly one call applies."""
    spec = SPECS[movement]
    steps = await count_calls(mongodb_url, spec)

    async def interleave(target: int) -> list[str]:
        fault = CallFault(target=target, mode="pause")
        async with fresh_store(mongodb_url) as store:
            await spec.prepare(store)
            before, _, _ = await book_state(store, spec)
            arm(store, fault)
            held = asyncio.ensure_future(spec.move(store))
            await asyncio.wait_for(fault.crashed.wait(), 10)
            async with fresh_store(mongodb_url, store._name) as other:
                second = await spec.move(other)
                fault.release.set()
                first = await asyncio.wait_for(held, 10)
                balance, entries, pending = await book_state(other, spec)
        problems = []
        if [first.applied, second.applied].count(True) != 1:
            problems.append(f"applied: first {first}, second {second}")
        if (balance, len(entries), pending) != (before + spec.delta, 1, []):
            problems.append(f"balance {balance}, {len(entries)} ledger entries, pending {pending}")
        return [f"held after #{target} {fault.hit()}: {p}" for p in problems]

    found = await asyncio.gather(*(interleave(n) for n in range(len(steps))))
    problems = [p for some in found for p in some]
    assert not problems, "\n".join(problems)


# -- the reported state: balance moved, pending mark present, no ledger entry --------------


async def half_recorded_charge(store: MongoStore) -> None:
    """Seed 3 credits, then leave the lead's charge as a crash before its ledger insert does."""
    await store.move_credits(CUSTOMER, c.DOSSIER_RESEARCH, 3, "seed:1")
    await store._credits.update_one(
        {"_id": CUSTOMER},
        {"$inc": {f"balances.{c.DOSSIER_RESEARCH}": -1}, "$push": {"pending": charge.key}},
    )


async def test_a_charge_whose_ledger_insert_was_lost_is_completed_by_the_next_call(
    mongodb_url: str,
) -> None:
    """With the balance moved and the key pending but no ledger entry, has_movement is true and
    the next call with the key records the entry and removes the mark without charging again."""
    async with fresh_store(mongodb_url) as store:
        await half_recorded_charge(store)
        assert await store.has_movement(charge.key)
        assert await store.ledger(JOB) == []
        movement = await charge.move(store)
        assert (movement.applied, movement.already, movement.balance) == (False, True, 2)
        balance, entries, pending = await book_state(store, charge)
        assert (balance, len(entries), pending) == (2, 1, [])
        assert [(e.key, e.delta) for e in await store.ledger(JOB)] == [(charge.key, -1)]
        assert await pending_keys(store) == []


def running_audit_job() -> Job:
    """A job in ``generate_dossier`` whose plan has one lead, ``LEAD``, not accounted yet."""
    before = c.PHASES.index(c.GENERATE_DOSSIER)
    phases = [
        PhaseState(name=name, status="completed" if i < before else "pending")
        for i, name in enumerate(c.PHASES)
    ]
    phases[before] = PhaseState(name=c.GENERATE_DOSSIER, status="running")
    return Job(
        id=JOB,
        customer_id=CUSTOMER,
        workflow_id="run-1",
        request=JobRequest(query="dentists", location="Austin, TX", max_leads=4, max_dossiers=1),
        phases=phases,
        audit_plan=AuditPlan(workflow_id="run-1", lead_ids=[LEAD], window=2),
        audits_pending=1,
    )


async def audit_services(store: MongoStore) -> tuple[Services, MemoryBroker]:
    """The audit actor's services on ``store`` and a memory broker whose internal messages
    and events are kept; the job of ``running_audit_job`` and its lead stored."""
    broker = MemoryBroker()
    await broker.connect()
    broker.bind(c.INTERNAL_EXCHANGE, "#")
    broker.bind(c.EVENTS_EXCHANGE, "#")
    assert await store.insert_job(running_audit_job())
    lead = Lead(job_id=JOB, lead_id=LEAD, name="Smile Dental", queued=True, queue_rank=0)
    await store.add_leads([lead])
    services = Services(
        store=store,
        broker=broker,
        lead_source=OfflineLeadSource(),
        auditor=OfflineAuditor(),
        settings=Settings(),
    )
    return services, broker


async def assert_books(store: MongoStore, balance: int) -> None:
    """The balance is ``balance``, the seeded 3 plus what the job's ledger moved, and no
    movement is left pending."""
    assert await store.balances(CUSTOMER) == {c.DOSSIER_RESEARCH: balance}
    assert 3 + sum(e.delta for e in await store.ledger(JOB)) == balance
    assert await pending_keys(store) == []


async def test_a_redelivered_audit_completes_a_charge_whose_ledger_insert_was_lost(
    mongodb_url: str,
) -> None:
    """The audit redelivered after its charge lost the ledger insert finds the charge paid,
    records it, removes the mark, produces the dossier and accounts it, charging once."""
    async with fresh_store(mongodb_url) as store:
        await half_recorded_charge(store)
        services, broker = await audit_services(store)
        actor = AuditActor(services)
        task = AuditTask(job_id=JOB, workflow_id="run-1", lead_id=LEAD, index=0)
        outbound = Outbound(body=encode(task), type=task.type, message_id="m1")
        await broker.publish("", actor.queue, outbound)
        delivery = await broker.get(actor.queue, timeout=1)
        assert delivery is not None
        await delivery.requeue()
        delivery = await broker.get(actor.queue, timeout=1)
        assert delivery is not None and delivery.redelivered
        await actor.handle(actor.decode(delivery), delivery)
        await delivery.ack()
        await broker.close()
        job = await store.get_job(JOB)
        assert job is not None and job.audits == {LEAD: "done"}
        lead = await store.get_lead(JOB, LEAD)
        assert lead is not None and lead.dossier is not None
        assert [(e.key, e.delta) for e in await store.ledger(JOB)] == [(charge.key, -1)]
        await assert_books(store, 2)


async def test_an_audit_given_up_after_a_half_recorded_charge_leaves_the_books_straight(
    mongodb_url: str,
) -> None:
    """An audit given up (failed for good) after its charge lost the ledger insert records the
    charge and its refund and removes the mark: balance back to 3, ledger nets to zero."""
    async with fresh_store(mongodb_url) as store:
        await half_recorded_charge(store)
        services, broker = await audit_services(store)
        task = AuditTask(job_id=JOB, workflow_id="run-1", lead_id=LEAD, index=0)
        await AuditActor(services).give_up(task, "RuntimeError: poison")
        await broker.close()
        job = await store.get_job(JOB)
        assert job is not None and job.audits == {LEAD: "failed"}
        entries = sorted((e.key, e.delta) for e in await store.ledger(JOB))
        assert entries == [(charge.key, -1), (refund_key(JOB, LEAD), +1)]
        await assert_books(store, 3)


# -- stopping a worker whose store call swallows its cancellation --------------------------


class SwallowingStore(MongoStore):
    """A MongoStore whose first relay read is in flight when the worker stops and ends
    normally when cancelled, as PyMongo's calls were seen to do now and then (Python 3.11)."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(url, database)
        self.entered = asyncio.Event()
        self.swallowed = False

    async def unsent_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        if not self.entered.is_set():
            self.entered.set()
            try:
                await asyncio.sleep(10)  # a slow call, in flight when the worker stops
            except asyncio.CancelledError:
                self.swallowed = True
        return await super().unsent_jobs(before, limit)


async def test_a_worker_stops_when_a_store_call_swallows_its_cancellation(
    mongodb_url: str,
) -> None:
    """Worker.stop returns even when the relay's store call in flight swallows the cancellation
    (seen with PyMongo on SecantusDB: one stop in about fifty then waited forever)."""
    store = SwallowingStore(mongodb_url, database_name())
    settings = Settings(relay_after_seconds=0.1, stall_seconds=600)
    worker = Worker(settings, store=store, broker=MemoryBroker())
    await worker.start()
    passes = worker.maintenance._task
    assert passes is not None
    stopping: asyncio.Future[None] | None = None
    try:
        await asyncio.wait_for(store.entered.wait(), 5)
        stopping = asyncio.ensure_future(worker.stop(grace=1))
        done, _ = await asyncio.wait({stopping}, timeout=3)
        assert store.swallowed
        assert done, "Worker.stop still waits for the relay and reconciler 3 s later"
    finally:
        passes.cancel()  # a second cancellation gets through
        await asyncio.wait({passes}, timeout=5)
        if stopping is not None:
            await stopping
        await store.open()
        await store.drop()
        await store.close()
