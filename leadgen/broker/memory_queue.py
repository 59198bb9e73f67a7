"""What the in-process broker keeps: messages as bytes, the queues that hold them, consumers.

A ``StoredMessage`` is immutable and holds its headers encoded as an AMQP field table
(broker/headers.py), so nothing a publisher or a handler does to a headers dict reaches the
stored message, and every reader gets its own decoded copy. A ``MemoryQueue`` holds its ready
messages oldest first and serves its consumers round robin, skipping those whose prefetch is
used up, as RabbitMQ does."""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from leadgen.broker.base import Handler, HeaderValue
from leadgen.broker.headers import decode_headers


@dataclass(frozen=True)
class StoredMessage:
    """A message as a queue holds it: bytes and properties, nothing the publisher can mutate."""

    body: bytes
    exchange: str
    routing_key: str
    type: str | None
    message_id: str | None
    correlation_id: str | None
    header_table: bytes  # the headers as AMQP encodes them
    content_type: str | None
    app_id: str | None
    timestamp: datetime | None
    redelivered: bool = False
    user_id: str | None = None  # as published: in process, nobody checks it

    @property
    def headers(self) -> dict[str, HeaderValue]:
        """The headers, decoded afresh on every access."""
        return decode_headers(self.header_table)


@dataclass(eq=False)
class MemoryConsumer:
    """One ``consume()`` call: its handler and how many of its deliveries are unsettled."""

    queue: "MemoryQueue"
    handler: Handler
    prefetch: int  # 0 means unlimited, as in AMQP
    in_flight: int = 0

    def has_room(self) -> bool:
        """Whether its prefetch allows one more unsettled delivery."""
        return self.prefetch == 0 or self.in_flight < self.prefetch


@dataclass(eq=False)
class MemoryQueue:
    """A queue: its ready messages, oldest first, and the consumers it serves round robin.

    A non-durable queue (a watch queue from ``MemoryBroker.bind()``) is deleted at ``close()``."""

    name: str
    durable: bool
    ready: deque[StoredMessage] = field(default_factory=deque)
    consumers: list[MemoryConsumer] = field(default_factory=list)
    turn: int = 0  # index of the consumer served next (round robin)

    def next_consumer(self) -> MemoryConsumer | None:
        """The consumer whose turn it is among those with room, or None when all are full."""
        count = len(self.consumers)
        for step in range(count):
            index = (self.turn + step) % count
            if self.consumers[index].has_room():
                self.turn = index + 1
                return self.consumers[index]
        return None
