"""Headers through both brokers: nested AMQP values arrive equal and can be published again."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from leadgen import constants as c
from leadgen.broker.base import HeaderValue
from tests.broker.support import AnyBroker, must_get, outbound, republished

# Shaped like what RabbitMQ adds when it dead-letters a message, plus every other value type.
NESTED: dict[str, HeaderValue] = {
    "x-death": [
        {
            "count": 1,
            "reason": "rejected",
            "queue": c.SUPERVISOR_QUEUE,
            "time": datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC),
            "exchange": c.INTERNAL_EXCHANGE,
            "routing-keys": [c.SUPERVISOR_KEY],
        }
    ],
    "x-raw": b"\x00\xff not UTF-8",
    "x-sent-at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    "x-amount": Decimal("12.50"),
    "x-nothing": None,
    "x-flag": False,
    "x-big": 2**40,
    "x-half": 0.5,  # exact in 32 bits, the precision AMQP gives a float header
    "x-table": {"inner": [1, "two", {"deeper": b"3"}]},
}


async def test_nested_headers_arrive_equal_and_publish_again_unchanged(broker: AnyBroker) -> None:
    """Lists of tables, bytes, timestamps and decimals arrive equal, and a copy of a delivery's
    headers publishes and arrives equal again."""
    await broker.publish("", c.AUDIT_QUEUE, outbound(headers=NESTED))
    first = await must_get(broker, c.AUDIT_QUEUE)
    assert dict(first.headers) == NESTED

    await broker.publish("", c.AUDIT_QUEUE, republished(first))
    await first.ack()
    second = await must_get(broker, c.AUDIT_QUEUE)
    assert dict(second.headers) == NESTED
    await second.ack()


async def test_dead_letter_copy_keeps_nested_headers(broker: AnyBroker) -> None:
    """Nested headers survive the dead-letter path: a copy with a reason added, via leadgen.dlx."""
    await broker.publish("", c.AUDIT_QUEUE, outbound(headers=NESTED))
    failed = await must_get(broker, c.AUDIT_QUEUE)
    headers = {**failed.headers, c.ERROR_HEADER: "failed 3 times"}
    await broker.publish(
        c.DEAD_LETTER_EXCHANGE, failed.routing_key, outbound(failed.message_id, headers=headers)
    )
    await failed.ack()

    dead = await must_get(broker, c.DEAD_LETTER_QUEUE)
    assert dict(dead.headers) == {**NESTED, c.ERROR_HEADER: "failed 3 times"}
    await dead.ack()


async def test_editing_a_nested_header_does_not_change_the_redelivery(broker: AnyBroker) -> None:
    """A handler that edits a table inside a header list leaves the message redelivered intact."""
    await broker.publish("", c.AUDIT_QUEUE, outbound(headers={"x-death": [{"count": 1}]}))
    first = await must_get(broker, c.AUDIT_QUEUE)
    deaths = first.headers["x-death"]
    assert isinstance(deaths, list) and isinstance(deaths[0], dict)
    deaths[0]["count"] = 99
    await first.requeue()

    second = await must_get(broker, c.AUDIT_QUEUE)
    assert dict(second.headers) == {"x-death": [{"count": 1}]}
    await second.ack()


async def test_timestamp_header_arrives_as_whole_second_utc(broker: AnyBroker) -> None:
    """AMQP carries a timestamp in whole seconds: a naive datetime arrives as UTC, truncated."""
    naive = datetime(2024, 5, 1, 12, 0, 7, 999_999)
    await broker.publish("", c.AUDIT_QUEUE, outbound(headers={"x-at": naive}))

    got = await must_get(broker, c.AUDIT_QUEUE)
    assert got.headers["x-at"] == datetime(2024, 5, 1, 12, 0, 7, tzinfo=UTC)
    await got.ack()


async def test_header_amqp_cannot_carry_raises_type_error_and_publishing_goes_on(
    broker: AnyBroker,
) -> None:
    """An integer beyond 64 bits raises TypeError naming its header; nothing is queued, and the
    next publish works."""
    with pytest.raises(TypeError, match="x-huge"):
        await broker.publish("", c.AUDIT_QUEUE, outbound(headers={"x-huge": 2**64}))

    sent = outbound()
    await broker.publish("", c.AUDIT_QUEUE, sent)
    got = await must_get(broker, c.AUDIT_QUEUE)
    assert got.message_id == sent.message_id
    await got.ack()
    assert await broker.message_count(c.AUDIT_QUEUE) == 0
