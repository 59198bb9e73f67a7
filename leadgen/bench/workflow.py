"""A bench round of leadgen itself: one worker on RabbitMQ and the memory store, the jobs
started as another service would, each timed from its start command to its ``job.completed``."""

import asyncio
import json
import time
import uuid
from collections.abc import Callable

from leadgen import constants as c
from leadgen.bench.counting import CountingStore
from leadgen.bench.figures import Round
from leadgen.bench.leads import BenchLeadSource
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Broker, Delivery, Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.errors import LeadgenError
from leadgen.messages.codec import encode
from leadgen.messages.commands import StartJob
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.store.memory import MemoryStore
from leadgen.worker.process import Worker

CUSTOMER = "bench"
# Events that end a job (or its run): the bench waits for one per job, never forever.
ENDINGS = ("job.completed", "job.failed", "job.paused", "job.cancelled")


class Endings:
    """The jobs started and when each ended (``job.completed`` or any other end)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.latencies: list[float] = []
        self.unfinished: list[str] = []
        self.ended = asyncio.Queue[str]()

    def start(self, job_id: str) -> None:
        """Note the instant job ``job_id`` was started."""
        self.started[job_id] = time.perf_counter()

    async def on_event(self, delivery: Delivery) -> None:
        """Consumer of the end events: time the job, note one that did not complete."""
        event = json.loads(delivery.body)
        began = self.started.pop(event["job_id"], None)
        if began is not None:
            self.latencies.append(time.perf_counter() - began)
            if event["type"] != "leadgen.job.completed.v1":
                self.unfinished.append(f"{event['job_id']} is {event['status']}")
            self.ended.put_nowait(event["job_id"])
        await delivery.ack()

    async def wait(self, count: int) -> None:
        """Return once ``count`` jobs ended in all."""
        while len(self.latencies) < count:
            await self.ended.get()


async def run_leadgen(
    settings: Settings,
    jobs: int,
    leads: int,
    dossiers: int,
    *,
    embedded: bool = False,
    one_at_a_time: bool = False,
    name: str = "leadgen",
    store: Store | None = None,
    commands: Callable[[], int] = lambda: 0,
) -> Round:
    """Run ``jobs`` jobs of ``leads`` leads and ``dossiers`` dossiers, all at once or
    ``one_at_a_time``, on RabbitMQ or on the ``embedded`` in-process broker, with ``store``
    (a memory store by default); the figures. ``commands`` reads a count of database
    commands, whose growth during the run the figures include."""
    store = CountingStore(store or MemoryStore())
    broker: Broker = MemoryBroker() if embedded else AmqpBroker(settings.amqp_url)
    client = broker if embedded else AmqpBroker(settings.amqp_url)
    worker = Worker(settings, store=store.as_store(), broker=broker, lead_source=BenchLeadSource())
    await worker.start()
    if client is not broker:
        await client.connect()
    try:
        for feature, amount in ((c.LEAD_DISCOVERY, jobs), (c.DOSSIER_RESEARCH, jobs * dossiers)):
            await store.inner.move_credits(CUSTOMER, feature, amount, f"grant:{uuid.uuid4().hex}")
        endings = Endings()
        for key in ENDINGS:
            await client.consume(await watch(client, key), endings.on_event, prefetch=100)
        ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(jobs)]
        handled, calls, sent = _handled(worker), store.total, commands()
        cpu, wall = time.process_time(), time.perf_counter()
        for count, job_id in enumerate(ids, start=1):
            endings.start(job_id)
            await start_job(client, job_id, leads, dossiers)
            if one_at_a_time:
                await endings.wait(count)
        await endings.wait(jobs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        messages, calls = int(_handled(worker) - handled), store.total - calls
        sent = commands() - sent
        if endings.unfinished:
            raise BenchFailed(f"a bench job did not complete: {endings.unfinished[0]}")
        done = await _dossiers(store.inner, ids)
        return Round(name, jobs, messages, wall, cpu, endings.latencies, calls, done, sent)
    finally:
        if client is not broker:
            await client.close()
        await worker.stop(grace=5)


class BenchFailed(LeadgenError):
    """Raised when a bench job does not complete: its figures would mean nothing."""


async def _dossiers(store: Store, ids: list[str]) -> int:
    """Dossiers the jobs ``ids`` produced or tried (failed audits count: they were worked)."""
    total = 0
    for job_id in ids:
        job = await store.get_job(job_id)
        if job is not None:
            total += job.counts.dossiers_done + job.counts.dossiers_failed
    return total


async def watch(broker: Broker, key: str) -> str:
    """A queue of ``broker`` bound to the events with routing key ``key``; its name."""
    if isinstance(broker, MemoryBroker):
        return broker.bind(c.EVENTS_EXCHANGE, key)
    assert isinstance(broker, AmqpBroker)
    return await broker.bind_queue(c.EVENTS_EXCHANGE, key)


async def start_job(broker: Broker, job_id: str, leads: int, dossiers: int) -> None:
    """Publish a start command as another service would."""
    command = StartJob(
        customer_id=CUSTOMER,
        query="dentists",
        job_id=job_id,
        max_leads=leads,
        max_dossiers=dossiers,
    )
    body = Outbound(body=encode(command), type=command.type, message_id=job_id)
    await broker.publish(c.COMMANDS_EXCHANGE, c.START_KEY, body)


def _handled(worker: Worker) -> float:
    """Messages the worker's actors have handled so far."""
    return sum(
        sample.value
        for metric in worker.services.metrics.registry.collect()
        if metric.name == "leadgen_messages"
        for sample in metric.samples
        if sample.name == "leadgen_messages_total"
    )
