"""Fault injection on the embedded pair: a crash between any write and its ack, and every
internal message delivered twice. After restart, every job reaches the state it would have
reached without the fault, and credits are charged once (invariants 5, 6 and 7)."""

import asyncio
from typing import Any

import pytest

from leadgen import constants as c
from leadgen.broker.base import Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.settings import Settings
from leadgen.store.memory import MemoryStore
from leadgen.worker.process import Worker
from tests.support.harness import Harness

WRITES = ("insert_job", "update_job", "add_leads", "update_leads", "record_audit", "move_credits")


class CrashingStore(MemoryStore):
    """A MemoryStore whose ``crash_after``-th write completes and then never returns, as if
    the process died right after storing an effect and before acking its message."""

    def __init__(self, crash_after: int | None) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.writes = 0
        self.crashed = asyncio.Event()
        for name in WRITES:
            setattr(self, name, self._counting(getattr(self, name)))

    def _counting(self, write: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            result = await write(*args, **kwargs)
            self.writes += 1
            if self.writes == self.crash_after:
                self.crashed.set()
                await asyncio.Event().wait()  # the process is gone
            return result

        return counted


class DuplicatingBroker(MemoryBroker):
    """A MemoryBroker that delivers every internal message twice."""

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        await super().publish(exchange, routing_key, message, mandatory=mandatory)
        if exchange == c.INTERNAL_EXCHANGE:
            await super().publish(exchange, routing_key, message, mandatory=mandatory)


SETTINGS = Settings(audit_concurrency=2, max_attempts=3)


async def run_job(
    store: MemoryStore, broker: MemoryBroker, dossier_credits: int, crash_after: int | None = None
) -> Harness:
    """Start a worker, top up credits and start a job of 3 dossiers."""
    worker = Worker(SETTINGS, store=store, broker=broker)
    await worker.start()
    harness = Harness(worker, broker)
    await store.move_credits("acme", c.LEAD_DISCOVERY, 1, "grant:1")
    await store.move_credits("acme", c.DOSSIER_RESEARCH, dossier_credits, "grant:2")
    if isinstance(store, CrashingStore):
        store.writes, store.crash_after = 0, crash_after  # count the job's own writes only
    await harness.start("acme", "job-f", max_leads=6, max_dossiers=3)
    return harness


async def settled_state(harness: Harness) -> dict[str, Any]:
    """What must come out the same with or without faults."""
    job = await harness.job_until(
        "job-f",
        lambda job: job.status == "paused_for_upgrade" or job.workflow_status == "completed",
        timeout=30,
    )
    await harness.worker.services.broker.join(timeout=30)  # type: ignore[attr-defined]
    settled = await harness.store.get_job("job-f")
    assert settled is not None
    job = settled
    leads = await harness.store.leads(job.id)
    net: dict[str | None, int] = {}
    for entry in await harness.store.ledger(job.id):
        net[f"{entry.feature_id}:{entry.lead_id}"] = (
            net.get(f"{entry.feature_id}:{entry.lead_id}", 0) + entry.delta
        )
    return {
        "status": job.status,
        "phases": [(p.name, p.status) for p in job.phases],
        "counts": job.counts.model_dump(),
        "dossiers": sum(lead.dossier is not None for lead in leads),
        "charges_per_lead": sorted(net.values()),
        "balances": await harness.store.balances("acme"),
    }


async def reference(dossier_credits: int) -> dict[str, Any]:
    """The state a job reaches without any fault."""
    store, broker = MemoryStore(), MemoryBroker()
    harness = await run_job(store, broker, dossier_credits)
    state = await settled_state(harness)
    await harness.worker.stop(grace=1)
    return state


@pytest.mark.parametrize("dossier_credits", [3, 1], ids=["completes", "pauses"])
async def test_crash_after_any_write_loses_nothing(dossier_credits: int) -> None:
    """Crash the worker right after each write in turn, restart it: same end state."""
    expected = await reference(dossier_credits)
    probe = CrashingStore(crash_after=None)
    await settled_state(await run_job(probe, MemoryBroker(), dossier_credits))
    assert probe.writes > 10
    for crash_after in range(1, probe.writes + 1):
        store, broker = CrashingStore(None), MemoryBroker()
        await run_job(store, broker, dossier_credits, crash_after)
        await asyncio.wait_for(store.crashed.wait(), timeout=30)
        await broker.close()  # the crash: in-flight handlers die, unacked messages return
        store.crash_after = None
        restarted = Worker(SETTINGS, store=store, broker=broker)
        await restarted.start()
        state = await settled_state(Harness(restarted, broker))
        await restarted.stop(grace=1)
        assert state == expected, f"crash after write {crash_after}"


@pytest.mark.parametrize("dossier_credits", [3, 1], ids=["completes", "pauses"])
async def test_every_internal_message_twice(dossier_credits: int) -> None:
    """Every task, outcome and completion delivered twice: one effect each, one charge each."""
    expected = await reference(dossier_credits)
    broker = DuplicatingBroker()
    harness = await run_job(MemoryStore(), broker, dossier_credits)
    assert await settled_state(harness) == expected
    await harness.worker.stop(grace=1)
