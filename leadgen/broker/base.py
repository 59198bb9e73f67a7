"""The broker port: publish and consume, independent of aio-pika.

``AmqpBroker`` (broker/amqp.py) talks to RabbitMQ; ``MemoryBroker`` (broker/memory.py) runs
in-process and still turns every message into bytes and back, so messages cross it exactly
as they cross RabbitMQ. Acknowledgement is manual: a consumer acks after its effects are
stored, and a message that is neither acked nor requeued when the consumer stops (or the
connection drops) is delivered again with ``redelivered`` set."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeAlias

# What a header can hold: the value types of an AMQP field table, nested. RabbitMQ adds some
# itself (``x-death``: a list of tables); how each type travels is told in broker/headers.py.
HeaderValue: TypeAlias = (
    str
    | int
    | float
    | bool
    | bytes
    | datetime
    | Decimal
    | list["HeaderValue"]
    | dict[str, "HeaderValue"]
    | None
)


@dataclass(frozen=True)
class Outbound:
    """A message to publish, with the AMQP properties leadgen sets on everything it sends."""

    body: bytes
    type: str
    message_id: str
    correlation_id: str | None = None
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    timestamp: datetime | None = None
    content_type: str = "application/json"
    app_id: str | None = "leadgen"
    # The publishing connection's user: RabbitMQ refuses a message whose user_id is another.
    user_id: str | None = None


class Delivery(Protocol):
    """A message received from a queue; the consumer must ack or requeue it."""

    @property
    def body(self) -> bytes:
        """The message body, as published."""

    @property
    def exchange(self) -> str:
        """The exchange it was published to."""

    @property
    def routing_key(self) -> str:
        """The routing key it was published with."""

    @property
    def message_id(self) -> str | None:
        """The publisher's message id, if any."""

    @property
    def correlation_id(self) -> str | None:
        """The id of the command it belongs to, if any."""

    @property
    def type(self) -> str | None:
        """The body type (``leadgen.start.v1``), if set."""

    @property
    def headers(self) -> Mapping[str, HeaderValue]:
        """Its headers."""

    @property
    def redelivered(self) -> bool:
        """True when the broker delivered it before (a consumer stopped without settling it)."""

    @property
    def timestamp(self) -> datetime | None:
        """When it was published, if the publisher said."""

    @property
    def content_type(self) -> str | None:
        """Its content type, if set."""

    @property
    def app_id(self) -> str | None:
        """The publishing application, if set."""

    @property
    def user_id(self) -> str | None:
        """The sender as the broker validated it (RabbitMQ checks it against the connection's
        user); None when the publisher did not set it."""

    async def ack(self) -> None:
        """Settle the message: its effects are stored."""

    async def requeue(self) -> None:
        """Give the message back to its queue, to be delivered again."""


Handler = Callable[[Delivery], Awaitable[None]]


class Broker(Protocol):
    """Publish to exchanges and consume from queues of the leadgen topology."""

    async def connect(self) -> None:
        """Open the connection and declare the topology (topology.py), idempotently."""

    async def close(self) -> None:
        """Stop consuming and close; unsettled deliveries go back to their queues."""

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        """Publish persistently; returns once the broker has taken responsibility for it.

        ``exchange=""`` is the default exchange: ``routing_key`` names a queue. A ``mandatory``
        message that reaches no queue raises ``UnroutableMessage`` (nothing is dropped
        silently); ``mandatory=False`` is for events, which nobody may be listening to
        (``leadgen.events``, contract section 4). A header value AMQP cannot carry
        (broker/headers.py) raises ``TypeError`` naming the header."""

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        """Deliver messages of ``queue`` to ``handler``, at most ``prefetch`` unsettled at once."""

    async def cancel_consumers(self) -> None:
        """Stop taking new messages; deliveries in flight can still be settled."""

    async def consumer_count(self, queue: str) -> int:
        """How many consumers ``queue`` has on the broker, from any process; 0 when the queue
        does not exist."""

    async def is_ready(self) -> bool:
        """True while the connection is open and every consumer is attached.

        False from ``cancel_consumers()`` on, until the broker is closed and connected again."""
