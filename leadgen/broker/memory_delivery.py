"""A message the in-process broker hands out, as the broker port's ``Delivery``.

Until it is settled the message is out of its queue, on a ``Lease``: what the broker needs to
put it back at the head of its queue (requeue, or a close with the delivery unsettled) and to
free its consumer's prefetch slot. Settling goes through the broker, which refuses a second
settle and one from an earlier connection with ``BrokerUnavailable``, as RabbitMQ does."""

from collections.abc import Callable
from dataclasses import dataclass

from leadgen.broker.memory_queue import MemoryConsumer, MemoryQueue, StoredMessage


@dataclass(frozen=True)
class Lease:
    """A message out of its queue until settled, and who holds it."""

    tag: int  # the delivery tag: unique per broker, in delivery order
    queue: MemoryQueue
    message: StoredMessage
    consumer: MemoryConsumer | None  # None for a message taken with get()
    generation: int  # the connection it was delivered on


# Settles a delivery for the broker: (delivery, requeue).
Settle = Callable[["MemoryDelivery", bool], None]


class MemoryDelivery:
    """A message handed to a consumer (or to ``get()``); settle it with ack or requeue."""

    def __init__(self, lease: Lease, settle: Settle) -> None:
        self.lease = lease
        self._settle = settle
        self.settled = False
        message = lease.message
        self.body = message.body
        self.exchange = message.exchange
        self.routing_key = message.routing_key
        self.message_id = message.message_id
        self.correlation_id = message.correlation_id
        self.type = message.type
        self.timestamp = message.timestamp
        self.content_type = message.content_type
        self.app_id = message.app_id
        self.user_id = message.user_id
        self.redelivered = message.redelivered
        # Decoded for this delivery: a handler that edits it cannot alter a redelivery.
        self.headers = message.headers

    async def ack(self) -> None:
        """Settle it as handled: the broker forgets it."""
        self._settle(self, False)

    async def requeue(self) -> None:
        """Give it back: the broker delivers it again, marked redelivered."""
        self._settle(self, True)
