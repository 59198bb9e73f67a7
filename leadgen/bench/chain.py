"""The baseline: a plain aio-pika chain with leadgen's durability and no framework.

Each job is one message passed along ``hops`` durable queues: persistent messages, publisher
confirms, and each hop acked only after its next publish is confirmed, in one process."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from leadgen.bench.figures import Round


async def run_chain(amqp_url: str, jobs: int, hops: int, *, one_at_a_time: bool = False) -> Round:
    """Pass ``jobs`` messages through ``hops`` queues, all at once or ``one_at_a_time``; the
    round's figures."""
    prefix = f"leadgen.bench.chain.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=32)
        queues = [await channel.declare_queue(f"{prefix}.{i}", durable=True) for i in range(hops)]
        started: dict[str, float] = {}
        latencies: list[float] = []
        finished = asyncio.Queue[None]()

        def hop(index: int) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
            async def handle(message: AbstractIncomingMessage) -> None:
                if index + 1 < hops:
                    await channel.default_exchange.publish(
                        aio_pika.Message(message.body, delivery_mode=2),
                        routing_key=queues[index + 1].name,
                    )
                else:
                    latencies.append(time.perf_counter() - started[message.body.decode()])
                    finished.put_nowait(None)
                await message.ack()

            return handle

        for index, queue in enumerate(queues):
            await queue.consume(hop(index))
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(jobs):
            name = f"job-{n}"
            started[name] = time.perf_counter()
            await channel.default_exchange.publish(
                aio_pika.Message(name.encode(), delivery_mode=2), routing_key=queues[0].name
            )
            if one_at_a_time:
                await finished.get()
        while len(latencies) < jobs:
            await finished.get()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for queue in queues:
            await queue.delete(if_unused=False, if_empty=False)
        return Round("chain", jobs, jobs * hops, wall, cpu, latencies)
    finally:
        await connection.close()
