"""Competing workers with different settings share one job, and a store outage on quorum
queues is waited out in place: every job completes and nothing is dead-lettered."""

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.base import Broker
from leadgen.ids import new_id
from leadgen.providers.offline import OfflineAuditor
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.store.models import Job, Lead
from leadgen.worker.backends import amqp_broker, mongo_store
from leadgen.workflow.metrics import Metrics
from tests.support.harness import Harness, running
from tests.support.servers import database_name, management, secantus_server

CUSTOMER = "cus-outage"


# -- helpers ------------------------------------------------------------------------------
class CountingAuditor:
    """The offline auditor, slowed down by ``delay`` seconds, counting how many audits run at
    once across every worker that shares it."""

    name = "counting"

    def __init__(self, delay: float) -> None:
        self.offline = OfflineAuditor()
        self.delay = delay
        self.active = 0
        self.peak = 0
        self.audits = 0

    async def audit(self, lead: Lead) -> dict[str, Any]:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            dossier = await self.offline.audit(lead)
        finally:
            self.active -= 1
        self.audits += 1
        return dossier


async def fund(store: Store, discovery: int, dossiers: int) -> None:
    """Give the customer credits (the store must be open)."""
    await store.move_credits(CUSTOMER, c.LEAD_DISCOVERY, discovery, f"grant:{new_id()}")
    await store.move_credits(CUSTOMER, c.DOSSIER_RESEARCH, dossiers, f"grant:{new_id()}")


def handled(metrics: Metrics, outcome: str, queue: str | None = None) -> float:
    """How many deliveries the worker settled with ``outcome`` (on ``queue``, or on any)."""
    return sum(
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "leadgen_messages_total"
        and sample.labels["outcome"] == outcome
        and (queue is None or sample.labels["queue"] == queue)
    )


# -- 3. two workers with different settings -----------------------------------------------
@dataclass
class Shared:
    """Two workers' stores and brokers on the same data and broker, and a client."""

    stores: tuple[Store, Store]
    brokers: tuple[Broker, Broker]
    client: Broker


@pytest.fixture(params=["embedded", "real"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[Shared]:
    """Embedded: one MemoryBroker and one MemoryStore for both workers. Real: one RabbitMQ
    virtual host and one database, a connection and a client of its own for each worker."""
    if request.param == "embedded":
        from leadgen.broker.memory import MemoryBroker
        from leadgen.store.memory import MemoryStore

        store, broker = MemoryStore(), MemoryBroker()
        yield Shared((store, store), (broker, broker), broker)
        return
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.store.mongo import MongoStore

    mongodb_url = request.getfixturevalue("mongodb_url")
    amqp_url = request.getfixturevalue("amqp_url")
    name = database_name()
    yield Shared(
        (MongoStore(mongodb_url, name), MongoStore(mongodb_url, name)),
        (AmqpBroker(amqp_url), AmqpBroker(amqp_url)),
        AmqpBroker(amqp_url),
    )
    cleanup = MongoStore(mongodb_url, name)
    await cleanup.open()
    await cleanup.drop()
    await cleanup.close()


def planned(harness: Harness) -> bool:
    """True when this worker handled the ``generate_dossier`` task (it made the audit plan)."""
    queue = c.phase_queue(c.GENERATE_DOSSIER)
    return handled(harness.worker.services.metrics, "acked", queue) > 0


async def test_two_workers_with_different_settings_complete_one_job(shared: Shared) -> None:
    """Workers with audit_concurrency 1 / prefetch 1 and 4 / 16 on one store and broker
    complete a job of 8 dossiers with every queued lead accounted; the plan keeps the
    planning worker's window, and no more audits than that ever run at once."""
    auditor = CountingAuditor(delay=0.05)
    narrow: dict[str, Any] = {"audit_concurrency": 1, "prefetch": 1}
    wide: dict[str, Any] = {"audit_concurrency": 4, "prefetch": 16}
    store_a, store_b = shared.stores
    broker_a, broker_b = shared.brokers
    async with (
        running(store_a, broker_a, shared.client, auditor=auditor, **narrow) as a,
        running(store_b, broker_b, broker_b, auditor=auditor, **wide) as b,
    ):
        await fund(a.store, discovery=1, dossiers=8)
        await a.start(CUSTOMER, "job-two-workers", max_leads=10, max_dossiers=8)
        job = await a.job_until(
            "job-two-workers", lambda job: job.workflow_status != "running", timeout=30
        )
        leads = await a.store.leads(job.id)
        balances = await a.store.balances(CUSTOMER)
        planners = [settings for h, settings in ((a, narrow), (b, wide)) if planned(h)]
        busy = [handled(h.worker.services.metrics, "acked") for h in (a, b)]

    queued = {lead.lead_id for lead in leads if lead.queued}
    assert job.status == "completed"
    assert job.phase(c.GENERATE_DOSSIER).status == "completed"
    assert len(queued) == 8
    assert job.audits == dict.fromkeys(queued, "done")
    assert (job.counts.dossiers_done, job.counts.dossiers_failed) == (8, 0)
    assert all(lead.dossier is not None for lead in leads if lead.lead_id in queued)
    assert balances == {c.LEAD_DISCOVERY: 0, c.DOSSIER_RESEARCH: 0}
    assert auditor.audits == 8
    assert all(count > 0 for count in busy), busy  # both workers competed for the messages
    [planner] = planners
    assert job.audit_plan is not None
    assert job.audit_plan.window == planner["audit_concurrency"]
    assert 1 <= auditor.peak <= job.audit_plan.window


# -- 6. quorum queues and a frozen store ---------------------------------------------------
@dataclass
class StoreProcess:
    """A SecantusDB server of this test's own, which it may freeze (SIGSTOP) and thaw."""

    process: "subprocess.Popen[bytes]"
    url: str

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def own_store_server(tmp_path: Path) -> Iterator[StoreProcess]:
    """A SecantusDB server for this test only: the session's server must never be frozen."""
    with secantus_server(tmp_path) as (process, url):
        server = StoreProcess(process, url)
        try:
            yield server
        finally:
            if process.poll() is None:
                server.thaw()


JOBS = ("job-q1", "job-q2", "job-q3")
DOSSIERS = 6
FREEZE_SECONDS = 10.0


async def first_dossier(harness: Harness) -> list[Job]:
    """Wait until a dossier is accounted while some job still runs; the jobs then."""
    jobs: list[Job] = []

    async def reached() -> bool:
        jobs[:] = [job for job_id in JOBS if (job := await harness.store.get_job(job_id))]
        return len(jobs) == len(JOBS) and sum(j.counts.dossiers_done for j in jobs) >= 1

    await harness.until(reached, timeout=30)
    return jobs


@pytest.mark.amqp
@pytest.mark.mongo
async def test_quorum_queues_wait_out_a_frozen_store_without_dead_lettering(
    own_store_server: StoreProcess, amqp_url: str
) -> None:
    """With quorum queues (delivery limit 3) and the store frozen for 10 s in the middle of
    three jobs, deliveries are held while the outage is waited out: every job completes,
    nothing is requeued or dead-lettered, and the worker logs ``message_waiting_out_outage``."""
    overrides: dict[str, Any] = {
        "amqp_url": amqp_url,
        "mongodb_url": own_store_server.url,
        "mongodb_db": database_name(),
        "queue_type": "quorum",
        "delivery_limit": 3,
        "store_timeout_seconds": 1.0,
        "audit_concurrency": 2,
    }
    settings = Settings(**overrides)
    auditor = CountingAuditor(delay=0.5)
    with capture_logs() as logs:
        async with running(
            mongo_store(settings),
            amqp_broker(settings, "worker"),
            amqp_broker(settings, "client"),
            auditor=auditor,
            **overrides,
        ) as harness:
            await fund(harness.store, discovery=len(JOBS), dossiers=len(JOBS) * DOSSIERS)
            for job_id in JOBS:
                await harness.start(CUSTOMER, job_id, max_leads=8, max_dossiers=DOSSIERS)
            at_freeze = await first_dossier(harness)
            own_store_server.freeze()
            try:
                await asyncio.sleep(FREEZE_SECONDS)
            finally:
                own_store_server.thaw()
            jobs = [
                await harness.job_until(
                    job_id, lambda job: job.workflow_status != "running", timeout=60
                )
                for job_id in JOBS
            ]
            balances = await harness.store.balances(CUSTOMER)
            dead = await harness.client.message_count(c.DEAD_LETTER_QUEUE)  # type: ignore[attr-defined]
            metrics = harness.worker.services.metrics

    vhost = urlsplit(amqp_url).path.lstrip("/")
    audit_queue = management("GET", f"/queues/{vhost}/{c.AUDIT_QUEUE}")
    assert isinstance(audit_queue, dict)
    assert audit_queue["type"] == "quorum"
    assert audit_queue["arguments"]["x-delivery-limit"] == 3
    assert any(job.workflow_status == "running" for job in at_freeze)
    assert [(job.status, job.counts.dossiers_done) for job in jobs] == [
        ("completed", DOSSIERS)
    ] * len(JOBS)
    assert balances == {c.LEAD_DISCOVERY: 0, c.DOSSIER_RESEARCH: 0}
    assert dead == 0
    assert (handled(metrics, "requeued"), handled(metrics, "rejected")) == (0, 0)
    waited = [e for e in logs if e["event"] == "message_waiting_out_outage"]
    assert waited and all("StoreUnavailable" in e["reason"] for e in waited)
