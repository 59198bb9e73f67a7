"""What only the in-process broker has: watch queues, a look at ready messages, and join()."""

import asyncio

import pytest
import structlog

from leadgen import constants as c
from leadgen.broker.base import Delivery
from leadgen.broker.memory import MemoryBroker
from leadgen.errors import BrokerUnavailable
from tests.broker.support import WAIT, Inbox, eventually, must_get, outbound


async def test_bind_watch_queue_receives_only_matching_messages(
    memory_broker: MemoryBroker,
) -> None:
    """A queue from bind() gets the events its pattern matches, in order, and no others."""
    watch = memory_broker.bind(c.EVENTS_EXCHANGE, "job.*")
    wanted = [outbound(), outbound()]
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.started", wanted[0], mandatory=False)
    await memory_broker.publish(c.EVENTS_EXCHANGE, "lead.found", outbound(), mandatory=False)
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.deep.key", outbound(), mandatory=False)
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.completed", wanted[1], mandatory=False)

    got = memory_broker.messages(watch)
    assert [m.message_id for m in got] == [m.message_id for m in wanted]
    assert [m.routing_key for m in got] == ["job.started", "job.completed"]


async def test_bind_queue_is_bind_for_code_that_runs_on_either_broker(
    memory_broker: MemoryBroker,
) -> None:
    """bind_queue() makes a watch queue of its own that sees every message its key matches."""
    first = await memory_broker.bind_queue(c.EVENTS_EXCHANGE)
    second = await memory_broker.bind_queue(c.EVENTS_EXCHANGE, "job.#")
    sent = outbound()
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.paused", sent)

    assert first != second
    for watch in (first, second):
        delivery = await must_get(memory_broker, watch)
        assert delivery.message_id == sent.message_id
        await delivery.ack()


async def test_watch_queues_vanish_at_close_and_durable_queues_stay(
    memory_broker: MemoryBroker,
) -> None:
    """close() deletes watch queues with their messages; topology queues keep theirs."""
    watch = memory_broker.bind(c.EVENTS_EXCHANGE)
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.started", outbound())
    await memory_broker.publish("", c.AUDIT_QUEUE, outbound())

    await memory_broker.close()
    await memory_broker.connect()
    with pytest.raises(BrokerUnavailable):
        memory_broker.messages(watch)
    await memory_broker.publish(c.EVENTS_EXCHANGE, "job.started", outbound(), mandatory=False)
    assert await memory_broker.message_count(c.AUDIT_QUEUE) == 1


async def test_bind_to_an_unknown_exchange_raises_broker_unavailable(
    memory_broker: MemoryBroker,
) -> None:
    """Binding a watch queue to an exchange that does not exist fails as in RabbitMQ."""
    with pytest.raises(BrokerUnavailable):
        memory_broker.bind("leadgen.nowhere")


async def test_messages_lists_ready_messages_oldest_first_and_leaves_them(
    memory_broker: MemoryBroker,
) -> None:
    """messages() shows the ready messages with their properties; they stay in the queue."""
    sent = [outbound(body=b'{"n": 1}', headers={"x-k": "v"}), outbound(body=b'{"n": 2}')]
    for message in sent:
        await memory_broker.publish("", c.AUDIT_QUEUE, message)

    listed = memory_broker.messages(c.AUDIT_QUEUE)
    assert [(m.message_id, m.body) for m in listed] == [(m.message_id, m.body) for m in sent]
    assert dict(listed[0].headers) == {"x-k": "v"}
    assert memory_broker.messages(c.AUDIT_QUEUE) == listed
    assert await memory_broker.message_count(c.AUDIT_QUEUE) == 2
    assert (await must_get(memory_broker, c.AUDIT_QUEUE)).message_id == sent[0].message_id


async def test_messages_skips_deliveries_in_flight(memory_broker: MemoryBroker) -> None:
    """A message handed to a consumer and not yet settled is not among the ready messages."""
    inbox = Inbox()
    await memory_broker.consume(c.SUPERVISOR_QUEUE, inbox, prefetch=1)
    held, waiting = outbound(), outbound()
    for message in (held, waiting):
        await memory_broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, message)

    assert (await inbox.next()).message_id == held.message_id
    assert [m.message_id for m in memory_broker.messages(c.SUPERVISOR_QUEUE)] == [
        waiting.message_id
    ]


async def test_join_returns_once_consumed_queues_are_drained(memory_broker: MemoryBroker) -> None:
    """join() returns after every message of a consumed queue is handled and acked."""
    handled: list[str | None] = []

    async def handler(delivery: Delivery) -> None:
        await asyncio.sleep(0.01)
        handled.append(delivery.message_id)
        await delivery.ack()

    await memory_broker.consume(c.SUPERVISOR_QUEUE, handler, prefetch=2)
    sent = [outbound() for _ in range(5)]
    for message in sent:
        await memory_broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, message)

    await memory_broker.join(timeout=WAIT)
    assert len(handled) == 5
    assert set(handled) == {m.message_id for m in sent}
    assert await memory_broker.message_count(c.SUPERVISOR_QUEUE) == 0


async def test_join_ignores_ready_messages_nobody_consumes(memory_broker: MemoryBroker) -> None:
    """Messages waiting in a queue without consumers do not keep join() waiting."""
    await memory_broker.publish("", c.AUDIT_QUEUE, outbound())

    await memory_broker.join(timeout=1.0)
    assert await memory_broker.message_count(c.AUDIT_QUEUE) == 1


async def test_join_times_out_while_a_handler_blocks(memory_broker: MemoryBroker) -> None:
    """join() raises TimeoutError while a handler is stuck, and returns once it finishes."""
    started, release = asyncio.Event(), asyncio.Event()

    async def blocking(delivery: Delivery) -> None:
        started.set()
        await release.wait()
        await delivery.ack()

    await memory_broker.consume(c.SUPERVISOR_QUEUE, blocking, prefetch=1)
    await memory_broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, outbound())
    await asyncio.wait_for(started.wait(), WAIT)

    with pytest.raises(TimeoutError):
        await memory_broker.join(timeout=0.2)
    release.set()
    await memory_broker.join(timeout=WAIT)


async def test_join_waits_for_a_delivery_taken_with_get(memory_broker: MemoryBroker) -> None:
    """An unsettled delivery from get() keeps join() waiting until it is acked."""
    await memory_broker.publish("", c.AUDIT_QUEUE, outbound())
    delivery = await must_get(memory_broker, c.AUDIT_QUEUE)

    with pytest.raises(TimeoutError):
        await memory_broker.join(timeout=0.2)
    await delivery.ack()
    await memory_broker.join(timeout=WAIT)


async def test_handler_runs_without_the_publishers_log_context(
    memory_broker: MemoryBroker,
) -> None:
    """A handler does not see context variables bound by the code that published its message."""
    seen: list[dict[str, object]] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        await delivery.ack()

    await memory_broker.consume(c.SUPERVISOR_QUEUE, handler, prefetch=1)
    structlog.contextvars.bind_contextvars(job_id="publisher-job")
    await memory_broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, outbound())
    await eventually(lambda: seen, "the handler ran")
    assert seen == [{}]
