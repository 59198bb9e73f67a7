"""The broker contract, run against both brokers: MemoryBroker and AmqpBroker on RabbitMQ."""

import asyncio

import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Delivery
from leadgen.broker.memory import MemoryBroker
from leadgen.broker.topology import QUEUES
from leadgen.errors import BrokerUnavailable, UnroutableMessage
from tests.broker.support import AnyBroker, Inbox, count_is, eventually, must_get, outbound


async def reconnected(broker: AnyBroker) -> AnyBroker:
    """The same broker seen by a restarted worker: a new connection to the same vhost/object."""
    if isinstance(broker, MemoryBroker):
        await broker.connect()
        return broker
    fresh = AmqpBroker(broker.url)
    await fresh.connect()
    return fresh


async def test_command_reaches_commands_queue_with_properties_intact(broker: AnyBroker) -> None:
    """A command published to leadgen.commands arrives in its queue with body and ids intact."""
    sent = outbound(
        body=b'{"type": "leadgen.start.v1"}',
        type="leadgen.start.v1",
        correlation_id="corr-1",
        headers={"x-text": "a", "x-count": 3, "x-flag": True},
    )
    await broker.publish(c.COMMANDS_EXCHANGE, c.START_KEY, sent)

    got = await must_get(broker, c.COMMANDS_QUEUE)
    assert got.body == sent.body
    assert (got.message_id, got.correlation_id, got.type) == (sent.message_id, "corr-1", sent.type)
    assert dict(got.headers) == {"x-text": "a", "x-count": 3, "x-flag": True}
    assert (got.exchange, got.routing_key, got.redelivered) == (
        c.COMMANDS_EXCHANGE,
        "leadgen.start",
        False,
    )
    await got.ack()


async def test_every_command_key_reaches_the_commands_queue(broker: AnyBroker) -> None:
    """The binding ``leadgen.#`` takes every public command key, however many words it has."""
    keys = [c.START_KEY, c.RESUME_KEY, c.CANCEL_KEY, c.GRANT_KEY]
    for key in keys:
        await broker.publish(c.COMMANDS_EXCHANGE, key, outbound())

    received = [await must_get(broker, c.COMMANDS_QUEUE) for _ in keys]
    assert [delivery.routing_key for delivery in received] == keys
    for delivery in received:
        await delivery.ack()


@pytest.mark.parametrize(
    ("routing_key", "queue"),
    [(c.SUPERVISOR_KEY, c.SUPERVISOR_QUEUE), (c.phase_key(c.SOURCE), c.phase_queue(c.SOURCE))],
)
async def test_internal_exchange_routes_by_key(
    broker: AnyBroker, routing_key: str, queue: str
) -> None:
    """The direct exchange leadgen.internal delivers a task to the queue bound to its key."""
    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, routing_key, sent)

    got = await must_get(broker, queue)
    assert got.message_id == sent.message_id
    await got.ack()
    assert await broker.message_count(c.COMPLETION_QUEUE) == 0


async def test_default_exchange_routes_to_the_queue_named_by_the_key(broker: AnyBroker) -> None:
    """Publishing to exchange "" puts the message straight into the queue named by the key."""
    sent = outbound()
    await broker.publish("", c.AUDIT_QUEUE, sent)

    got = await must_get(broker, c.AUDIT_QUEUE)
    assert (got.message_id, got.exchange, got.routing_key) == (sent.message_id, "", c.AUDIT_QUEUE)
    await got.ack()


async def test_dead_letter_exchange_keeps_routing_key_and_headers(broker: AnyBroker) -> None:
    """The fanout leadgen.dlx delivers to leadgen.dead with the original key and headers."""
    sent = outbound(headers={c.ERROR_HEADER: "invalid JSON", "x-other": 1})
    await broker.publish(c.DEAD_LETTER_EXCHANGE, c.START_KEY, sent)

    got = await must_get(broker, c.DEAD_LETTER_QUEUE)
    assert (got.message_id, got.routing_key) == (sent.message_id, c.START_KEY)
    assert dict(got.headers) == {c.ERROR_HEADER: "invalid JSON", "x-other": 1}
    await got.ack()


async def test_watch_queue_sees_matching_events_and_unroutable_events_vanish(
    broker: AnyBroker,
) -> None:
    """An event nobody binds is dropped without error; a watch queue gets only matching keys."""
    # Nothing bound: dropped, since events are published not mandatory.
    await broker.publish(c.EVENTS_EXCHANGE, "job.started", outbound(), mandatory=False)
    watch = await broker.bind_queue(c.EVENTS_EXCHANGE, "job.*")
    wanted = outbound()
    await broker.publish(c.EVENTS_EXCHANGE, "job.deep.key", outbound(), mandatory=False)
    await broker.publish(c.EVENTS_EXCHANGE, "job.completed", wanted, mandatory=False)

    got = await must_get(broker, watch)
    assert (got.message_id, got.routing_key) == (wanted.message_id, "job.completed")
    await got.ack()
    assert await broker.message_count(watch) == 0


async def test_requeued_message_comes_back_redelivered(broker: AnyBroker) -> None:
    """A consumer that requeues a message gets it again, marked redelivered."""
    inbox = Inbox()
    await broker.consume(c.SUPERVISOR_QUEUE, inbox, prefetch=1)
    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, sent)

    first = await inbox.next()
    assert (first.message_id, first.redelivered) == (sent.message_id, False)
    await first.requeue()
    second = await inbox.next()
    assert (second.message_id, second.redelivered) == (sent.message_id, True)
    await second.ack()


async def test_delivery_headers_are_a_private_plain_dict(broker: AnyBroker) -> None:
    """Each delivery's headers are its own dict: editing them does not change a redelivery."""
    await broker.publish("", c.AUDIT_QUEUE, outbound(headers={"x-k": "original"}))
    first = await must_get(broker, c.AUDIT_QUEUE)
    assert isinstance(first.headers, dict)
    first.headers["x-k"] = "edited"
    await first.requeue()

    second = await must_get(broker, c.AUDIT_QUEUE)
    assert dict(second.headers) == {"x-k": "original"}
    await second.ack()


async def test_unsettled_message_is_redelivered_after_reconnect(broker: AnyBroker) -> None:
    """A message neither acked nor requeued when the broker closes comes back after reconnect."""
    inbox = Inbox()
    await broker.consume(c.COMPLETION_QUEUE, inbox, prefetch=1)
    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, c.COMPLETION_KEY, sent)
    assert (await inbox.next()).redelivered is False

    await broker.close()
    restarted = await reconnected(broker)
    try:
        got = await must_get(restarted, c.COMPLETION_QUEUE)
        assert (got.message_id, got.redelivered) == (sent.message_id, True)
        await got.ack()
    finally:
        await restarted.close()


async def test_prefetch_bounds_the_deliveries_in_flight(broker: AnyBroker) -> None:
    """With prefetch=2 a consumer holds exactly two unsettled messages; the rest wait."""
    inbox = Inbox()
    await broker.consume(c.phase_queue(c.ENRICH), inbox, prefetch=2)
    for _ in range(5):
        await broker.publish(c.INTERNAL_EXCHANGE, c.phase_key(c.ENRICH), outbound())

    held = [await inbox.next(), await inbox.next()]
    await eventually(lambda: count_is(broker, c.phase_queue(c.ENRICH), 3), "3 ready")
    assert inbox.deliveries.empty()

    await held[0].ack()  # room for exactly one more
    held[0] = await inbox.next()
    await eventually(lambda: count_is(broker, c.phase_queue(c.ENRICH), 2), "2 ready after one ack")
    assert inbox.deliveries.empty()
    for delivery in held:
        await delivery.ack()


async def test_competing_consumers_share_a_queue(broker: AnyBroker) -> None:
    """Two consumers of one queue both receive messages."""
    inboxes = [Inbox(), Inbox()]
    for inbox in inboxes:
        await broker.consume(c.phase_queue(c.SCORE), inbox, prefetch=1)
    sent: set[str] = set()
    for _ in range(2):
        message = outbound()
        sent.add(message.message_id)
        await broker.publish(c.INTERNAL_EXCHANGE, c.phase_key(c.SCORE), message)

    got = [await inbox.next() for inbox in inboxes]  # prefetch=1: one each
    assert {delivery.message_id for delivery in got} == sent
    for delivery in got:
        await delivery.ack()


async def test_handler_that_raises_is_logged_requeued_and_consumption_goes_on(
    broker: AnyBroker,
) -> None:
    """A handler's exception requeues its message and the consumer keeps delivering."""
    acked: list[tuple[str | None, bool]] = []

    async def handler(delivery: Delivery) -> None:
        if delivery.message_id == "boom" and not delivery.redelivered:
            raise RuntimeError("handler bug")
        await delivery.ack()
        acked.append((delivery.message_id, delivery.redelivered))

    with capture_logs() as logs:
        await broker.consume(c.phase_queue(c.FINALIZE), handler, prefetch=1)
        for message_id in ("boom", "ok"):
            await broker.publish(c.INTERNAL_EXCHANGE, c.phase_key(c.FINALIZE), outbound(message_id))
        await eventually(lambda: len(acked) == 2, "both messages acked")

    assert sorted(acked) == [("boom", True), ("ok", False)]
    failures = [entry for entry in logs if entry["event"] == "consumer_handler_failed"]
    assert [entry["message_id"] for entry in failures] == ["boom"]


async def test_cancel_consumers_stops_new_deliveries_but_in_flight_can_be_acked(
    broker: AnyBroker,
) -> None:
    """After cancel_consumers nothing new arrives, and the delivery in hand still acks."""
    inbox = Inbox()
    queue = c.phase_queue(c.QUEUE_AUDITS)
    await broker.consume(queue, inbox, prefetch=1)
    for _ in range(2):
        await broker.publish(c.INTERNAL_EXCHANGE, c.phase_key(c.QUEUE_AUDITS), outbound())
    in_hand = await inbox.next()

    await broker.cancel_consumers()
    await in_hand.ack()

    # The second message stays ready instead of being delivered to the cancelled consumer.
    await eventually(lambda: count_is(broker, queue, 1), "1 ready, 0 unsettled")
    assert inbox.deliveries.empty()
    assert await broker.is_ready() is False


async def test_is_ready_while_consuming_and_not_after_close(broker: AnyBroker) -> None:
    """is_ready is true with a consumer attached and false once the broker is closed."""
    await broker.consume(c.SUPERVISOR_QUEUE, Inbox(), prefetch=1)
    assert await broker.is_ready() is True

    await broker.close()
    assert await broker.is_ready() is False


async def test_publish_to_unknown_exchange_raises_and_publishing_goes_on(broker: AnyBroker) -> None:
    """An unknown exchange raises BrokerUnavailable; the next publish still works."""
    with pytest.raises(BrokerUnavailable):
        await broker.publish("leadgen.nowhere", "key", outbound())

    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, sent)
    assert (await must_get(broker, c.SUPERVISOR_QUEUE)).message_id == sent.message_id


@pytest.mark.parametrize(
    ("exchange", "routing_key"),
    [
        (c.INTERNAL_EXCHANGE, "phase.nowhere"),
        ("", "leadgen.no-such-queue"),
        (c.EVENTS_EXCHANGE, "job.started"),
    ],
    ids=["internal", "default", "events"],
)
async def test_unroutable_mandatory_publish_raises_and_publishing_goes_on(
    broker: AnyBroker, exchange: str, routing_key: str
) -> None:
    """A mandatory message no queue takes raises UnroutableMessage, is not delivered anywhere,
    and the next publish on the same broker is delivered."""
    with pytest.raises(UnroutableMessage):
        await broker.publish(exchange, routing_key, outbound())

    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, sent)
    assert (await must_get(broker, c.SUPERVISOR_QUEUE)).message_id == sent.message_id
    assert await broker.get(c.SUPERVISOR_QUEUE, timeout=0.2) is None
    assert await broker.is_ready() is True


async def test_unroutable_publish_among_concurrent_ones_fails_only_itself(
    broker: AnyBroker,
) -> None:
    """Of publishes awaiting their confirms together, only the unroutable one raises."""
    routed = [outbound() for _ in range(5)]
    results = await asyncio.gather(
        *(broker.publish("", c.AUDIT_QUEUE, message) for message in routed[:2]),
        broker.publish(c.INTERNAL_EXCHANGE, "phase.nowhere", outbound()),
        *(broker.publish("", c.AUDIT_QUEUE, message) for message in routed[2:]),
        return_exceptions=True,
    )

    assert [type(result) for result in results] == [type(None)] * 2 + [UnroutableMessage] + [
        type(None)
    ] * 3
    got = [await must_get(broker, c.AUDIT_QUEUE) for _ in routed]
    assert {delivery.message_id for delivery in got} == {m.message_id for m in routed}
    for delivery in got:
        await delivery.ack()


async def test_publish_not_mandatory_to_an_unbound_exchange_succeeds(broker: AnyBroker) -> None:
    """With mandatory=False a message no queue takes is dropped without error, and lands
    nowhere."""
    await broker.publish(c.EVENTS_EXCHANGE, "job.completed", outbound(), mandatory=False)
    await broker.publish(c.INTERNAL_EXCHANGE, "phase.nowhere", outbound(), mandatory=False)

    for spec in QUEUES:
        assert await broker.message_count(spec.name) == 0, spec.name


async def test_publish_after_close_raises_broker_unavailable(broker: AnyBroker) -> None:
    """A closed broker refuses to publish with BrokerUnavailable."""
    await broker.close()
    with pytest.raises(BrokerUnavailable):
        await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, outbound())


async def test_settling_twice_raises_broker_unavailable(broker: AnyBroker) -> None:
    """A delivery settles once; a second ack raises BrokerUnavailable."""
    await broker.publish("", c.AUDIT_QUEUE, outbound())
    delivery = await must_get(broker, c.AUDIT_QUEUE)
    await delivery.ack()
    with pytest.raises(BrokerUnavailable):
        await delivery.ack()


async def test_get_returns_none_when_nothing_arrives(broker: AnyBroker) -> None:
    """get() gives up after its timeout and returns None on an empty queue."""
    assert await broker.get(c.AUDIT_QUEUE, timeout=0.2) is None


async def test_purge_drops_ready_messages_and_counts_them(broker: AnyBroker) -> None:
    """purge() empties a queue and says how many messages it dropped."""
    for _ in range(3):
        await broker.publish("", c.AUDIT_QUEUE, outbound())
    await eventually(lambda: count_is(broker, c.AUDIT_QUEUE, 3), "3 ready")

    assert await broker.purge(c.AUDIT_QUEUE) == 3
    assert await broker.message_count(c.AUDIT_QUEUE) == 0


async def test_unknown_queue_raises_broker_unavailable(broker: AnyBroker) -> None:
    """Counting or consuming a queue that does not exist raises BrokerUnavailable."""
    with pytest.raises(BrokerUnavailable):
        await broker.message_count("leadgen.nowhere")
    with pytest.raises(BrokerUnavailable):
        await broker.consume("leadgen.nowhere", Inbox(), prefetch=1)


async def test_connect_again_after_close_works_like_the_first_time(broker: AnyBroker) -> None:
    """A closed broker connects again, publishes, consumes and reports ready."""
    await broker.close()
    await broker.connect()

    inbox = Inbox()
    await broker.consume(c.SUPERVISOR_QUEUE, inbox, prefetch=1)
    sent = outbound()
    await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, sent)
    got = await inbox.next()
    assert got.message_id == sent.message_id
    await got.ack()
    assert await broker.is_ready() is True
