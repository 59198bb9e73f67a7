"""Dead letters RabbitMQ makes by itself, on the real broker: a quorum queue's delivery limit
and a message TTL. ``dead list`` shows RabbitMQ's reason, the queue and the original routing
key; ``dead replay`` sends the message back by that key, without the dead-lettering headers."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aio_pika
import pytest

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import HeaderValue, Outbound
from leadgen.broker.dead_letters import list_dead, replay
from tests.support.ops_cli import run_cli

WAIT = 10.0
DELIVERY_LIMIT = 2
# What RabbitMQ and leadgen add on the way to leadgen.dead; none of it comes back on a replay.
DEAD_HEADERS = {"x-death", c.ERROR_HEADER, c.QUEUE_HEADER, c.ATTEMPTS_HEADER}


@pytest.fixture
async def quorum_broker(amqp_url: str) -> AsyncIterator[AmqpBroker]:
    """An AmqpBroker on quorum queues that dead-letter a message after two deliveries."""
    broker = AmqpBroker(amqp_url, queue_type="quorum", delivery_limit=DELIVERY_LIMIT)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def requeue_until_dead(broker: AmqpBroker, queue: str) -> int:
    """Take the message of ``queue`` and give it back until RabbitMQ dead-letters it; how
    many times it was delivered."""
    for delivered in range(DELIVERY_LIMIT + 5):
        delivery = await broker.get(queue, timeout=2.0)
        if delivery is None:
            return delivered
        await delivery.requeue()
    raise AssertionError(f"{queue} never dead-lettered its message")


async def one_dead_letter(broker: AmqpBroker) -> None:
    """Wait until leadgen.dead holds exactly one message."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        if await broker.message_count(c.DEAD_LETTER_QUEUE) == 1:
            return
        assert asyncio.get_running_loop().time() < deadline, "nothing was dead-lettered"
        await asyncio.sleep(0.05)


async def test_delivery_limit_dead_letter_shows_rabbitmq_reason_and_replays_by_its_key(
    quorum_broker: AmqpBroker, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command requeued past the quorum queue's delivery limit is listed (also by
    ``leadgen dead list``) with reason ``rabbitmq: delivery_limit``, its queue and its routing
    key, and replays to leadgen.commands with that key and none of the dead-lettering
    headers."""
    sent = Outbound(body=b'{"type": "leadgen.cancel.v1"}', type="", message_id="m-limit")
    await quorum_broker.publish(c.COMMANDS_EXCHANGE, c.CANCEL_KEY, sent)

    assert await requeue_until_dead(quorum_broker, c.COMMANDS_QUEUE) > DELIVERY_LIMIT
    await one_dead_letter(quorum_broker)
    [letter] = await list_dead(quorum_broker)
    assert (letter.message_id, letter.reason) == ("m-limit", "rabbitmq: delivery_limit")
    assert (letter.queue, letter.routing_key) == (c.COMMANDS_QUEUE, c.CANCEL_KEY)
    monkeypatch.setenv("LEADGEN_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("LEADGEN_DELIVERY_LIMIT", str(DELIVERY_LIMIT))
    await one_dead_letter(quorum_broker)
    code, out, _ = await run_cli("dead", "list", "--amqp-url", amqp_url)
    assert code == 0
    assert f"{c.CANCEL_KEY} from {c.COMMANDS_QUEUE}  id m-limit" in out
    assert "reason: rabbitmq: delivery_limit" in out

    await one_dead_letter(quorum_broker)  # handed back: a requeue is not answered, so wait
    assert await replay(quorum_broker, "m-limit") == 1
    back = await quorum_broker.get(c.COMMANDS_QUEUE, timeout=WAIT)
    assert back is not None
    assert (back.exchange, back.routing_key, back.body) == (
        c.COMMANDS_EXCHANGE,
        c.CANCEL_KEY,
        sent.body,
    )
    assert not (DEAD_HEADERS | {c.ROUTING_KEY_HEADER}) & set(back.headers)
    assert back.headers.get("x-delivery-count") == 0  # a quorum queue counts afresh
    await back.ack()


async def test_retried_copy_dead_lettered_at_the_limit_keeps_its_original_key(
    quorum_broker: AmqpBroker,
) -> None:
    """A retried copy (sent to its queue through the default exchange, its first key in
    ROUTING_KEY_HEADER) that RabbitMQ dead-letters is listed and replayed by that first key,
    not by the queue name RabbitMQ saw."""
    headers: dict[str, HeaderValue] = {c.ROUTING_KEY_HEADER: c.RESUME_KEY, c.ATTEMPTS_HEADER: 2}
    retried = Outbound(body=b"{}", type="", message_id="m-retried", headers=headers)
    await quorum_broker.publish("", c.COMMANDS_QUEUE, retried)

    await requeue_until_dead(quorum_broker, c.COMMANDS_QUEUE)
    await one_dead_letter(quorum_broker)
    dead = await quorum_broker.get(c.DEAD_LETTER_QUEUE, timeout=WAIT)
    assert dead is not None and dead.routing_key == c.COMMANDS_QUEUE  # what RabbitMQ kept
    await dead.requeue()
    await one_dead_letter(quorum_broker)
    [letter] = await list_dead(quorum_broker)
    assert (letter.routing_key, letter.reason) == (c.RESUME_KEY, "rabbitmq: delivery_limit")

    await one_dead_letter(quorum_broker)
    assert await replay(quorum_broker, every=True) == 1
    back = await quorum_broker.get(c.COMMANDS_QUEUE, timeout=WAIT)
    assert back is not None
    assert (back.exchange, back.routing_key) == (c.COMMANDS_EXCHANGE, c.RESUME_KEY)
    assert not (DEAD_HEADERS | {c.ROUTING_KEY_HEADER}) & set(back.headers)
    assert back.headers.get("x-delivery-count") == 0  # a quorum queue counts afresh
    await back.ack()


async def test_expired_task_shows_rabbitmq_reason_and_returns_to_its_queue(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """A task whose TTL ran out in its queue is listed with reason ``rabbitmq: expired``, its
    queue and its routing key; replayed straight to that queue, it keeps the key in
    ROUTING_KEY_HEADER."""
    queue = c.phase_queue(c.SCORE)
    # leadgen sets no TTL itself: another client does, on a task for the internal exchange.
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(c.INTERNAL_EXCHANGE, ensure=False)
        message = aio_pika.Message(
            b"{}", message_id="m-expired", expiration=timedelta(milliseconds=20)
        )
        await exchange.publish(message, c.phase_key(c.SCORE))

    await one_dead_letter(amqp_broker)
    [letter] = await list_dead(amqp_broker)
    assert (letter.message_id, letter.reason) == ("m-expired", "rabbitmq: expired")
    assert (letter.queue, letter.routing_key) == (queue, c.phase_key(c.SCORE))

    await one_dead_letter(amqp_broker)
    assert await replay(amqp_broker, "m-expired") == 1
    back = await amqp_broker.get(queue, timeout=WAIT)
    assert back is not None
    assert (back.exchange, back.routing_key) == ("", queue)
    assert back.headers.get(c.ROUTING_KEY_HEADER) == c.phase_key(c.SCORE)
    assert not DEAD_HEADERS & set(back.headers)
    await back.ack()
