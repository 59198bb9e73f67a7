"""Throughput of whole jobs: ``python -m benchmarks [--jobs N] [--real]``.

Runs N jobs (25 leads, 10 dossiers each, enough credits) through one worker and prints how long
they took, jobs per second and messages per second. The embedded pair is the default;
``--real`` uses RabbitMQ and MongoDB from ``LEADGEN_AMQP_URL`` / ``LEADGEN_MONGODB_URL`` (a
fresh database, dropped afterwards). Figures depend on the machine: compare runs made on the
same one."""

import argparse
import asyncio
import time
import uuid

from leadgen import constants as c
from leadgen.broker.base import Broker, Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.log import configure_logging
from leadgen.messages.codec import encode
from leadgen.messages.commands import StartJob
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.store.memory import MemoryStore
from leadgen.worker import Worker


async def run(jobs: int, store: Store, broker: Broker, client: Broker, settings: Settings) -> None:
    worker = Worker(settings, store=store, broker=broker)
    await worker.start()
    if client is not broker:
        await client.connect()
    try:
        for feature, amount in ((c.LEAD_DISCOVERY, jobs), (c.DOSSIER_RESEARCH, jobs * 10)):
            await store.move_credits("bench", feature, amount, f"grant:{uuid.uuid4().hex}")
        ids = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(jobs)]
        started = time.perf_counter()
        for job_id in ids:
            command = StartJob(
                customer_id="bench",
                query="dentists",
                location="Austin, TX",
                job_id=job_id,
                max_leads=25,
                max_dossiers=10,
            )
            await client.publish(
                c.COMMANDS_EXCHANGE,
                c.START_KEY,
                Outbound(body=encode(command), type=command.type, message_id=job_id),
            )
        pending = set(ids)
        while pending:
            for job_id in list(pending):
                job = await store.get_job(job_id)
                if job is not None and job.workflow_status == "completed":
                    pending.discard(job_id)
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        handled = sum(
            sample.value
            for metric in worker.services.metrics.registry.collect()
            if metric.name == "leadgen_messages"
            for sample in metric.samples
            if sample.name == "leadgen_messages_total"
        )
        print(
            f"{jobs} jobs in {elapsed:.2f} s: {jobs / elapsed:.1f} jobs/s, "
            f"{handled / elapsed:.0f} messages/s ({handled:.0f} messages)"
        )
    finally:
        if client is not broker:
            await client.close()
        await worker.stop(grace=5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--real", action="store_true", help="RabbitMQ and MongoDB from settings")
    args = parser.parse_args()
    configure_logging("json", "error")
    settings = Settings(http_port=0)
    if not args.real:
        broker = MemoryBroker()
        print("embedded (in-process broker and store):", end=" ", flush=True)
        asyncio.run(run(args.jobs, MemoryStore(), broker, broker, settings))
        return
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.store.mongo import MongoStore

    database = f"leadgen_bench_{uuid.uuid4().hex[:8]}"
    store = MongoStore(settings.mongodb_url, database)
    print(f"RabbitMQ {settings.amqp_url} + MongoDB {settings.mongodb_url}:", end=" ", flush=True)
    asyncio.run(
        run(
            args.jobs, store, AmqpBroker(settings.amqp_url), AmqpBroker(settings.amqp_url), settings
        )
    )

    async def drop() -> None:
        cleanup = MongoStore(settings.mongodb_url, database)
        await cleanup.open()
        await cleanup.drop()
        await cleanup.close()

    asyncio.run(drop())


main()
