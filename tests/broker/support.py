"""Helpers the broker tests share: messages to send, bounded waits and a handler to inspect."""

import asyncio
import inspect
import uuid
from collections.abc import Callable

from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Delivery, HeaderValue, Outbound
from leadgen.broker.memory import MemoryBroker

AnyBroker = AmqpBroker | MemoryBroker
WAIT = 10.0


def outbound(
    message_id: str | None = None,
    *,
    body: bytes = b'{"n": 1}',
    type: str = "test.v1",
    correlation_id: str | None = None,
    headers: dict[str, HeaderValue] | None = None,
) -> Outbound:
    """A message with a fresh id unless one is given."""
    return Outbound(
        body=body,
        type=type,
        message_id=message_id or uuid.uuid4().hex,
        correlation_id=correlation_id,
        headers=headers or {},
    )


def republished(delivery: Delivery) -> Outbound:
    """``delivery`` as a message to publish again, its headers copied as the runner does."""
    return outbound(
        delivery.message_id,
        body=delivery.body,
        type=delivery.type or "",
        headers=dict(delivery.headers),
    )


async def eventually(check: Callable[[], object], what: str) -> None:
    """Poll ``check`` (sync or async) until it is truthy, failing after ``WAIT`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {WAIT}s: {what}")
        await asyncio.sleep(0.02)


async def must_get(broker: AnyBroker, queue: str) -> Delivery:
    """The next message of ``queue``; fails when none arrives in time."""
    delivery = await broker.get(queue, timeout=WAIT)
    assert delivery is not None, f"no message arrived in {queue}"
    return delivery


async def count_is(broker: AnyBroker, queue: str, expected: int) -> bool:
    """Whether ``queue`` holds exactly ``expected`` ready messages."""
    return await broker.message_count(queue) == expected


class Inbox:
    """A handler that hands each delivery, unsettled, to the test."""

    def __init__(self) -> None:
        self.deliveries: asyncio.Queue[Delivery] = asyncio.Queue()

    async def __call__(self, delivery: Delivery) -> None:
        await self.deliveries.put(delivery)

    async def next(self) -> Delivery:
        """The next delivery; fails when none arrives within ``WAIT`` seconds."""
        return await asyncio.wait_for(self.deliveries.get(), WAIT)
