"""How the RabbitMQ broker declares a queue, kept so every channel declares it the same way.

aio-pika restores after a reconnect only the queues a channel declared itself, so a consumer
channel declares its queue again, with the arguments the topology (topology.py) gave it: a
declaration that differs from the existing queue would be refused by RabbitMQ. That refusal
(``PRECONDITION_FAILED``, typically a classic queue declared quorum) becomes a
``BrokerUnavailable`` that says what to do, since RabbitMQ never changes a queue's type."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from aio_pika.abc import AbstractQueue, AbstractRobustChannel
from aiormq.exceptions import ChannelPreconditionFailed

from leadgen.broker.amqp_errors import TIMEOUT
from leadgen.errors import BrokerUnavailable


@dataclass(frozen=True)
class QueueDeclaration:
    """How a queue is declared: its flags and its ``x-`` arguments (topology.queue_arguments)."""

    durable: bool = False
    exclusive: bool = False
    auto_delete: bool = False
    passive: bool = False
    arguments: Mapping[str, str | int] = field(default_factory=dict)

    async def declare(self, channel: AbstractRobustChannel, name: str) -> AbstractQueue:
        """Declare queue ``name`` on ``channel``; other aio-pika errors are the caller's to
        translate."""
        try:
            return await channel.declare_queue(
                name,
                durable=self.durable,
                exclusive=self.exclusive,
                auto_delete=self.auto_delete,
                passive=self.passive,
                arguments=dict(self.arguments) or None,
                timeout=TIMEOUT,
            )
        except ChannelPreconditionFailed as exc:
            raise BrokerUnavailable(self._mismatch(name, exc)) from None

    def _mismatch(self, name: str, exc: Exception) -> str:
        kind = self.arguments.get("x-queue-type", "classic")
        limit = self.arguments.get("x-delivery-limit")
        declared = f"LEADGEN_QUEUE_TYPE={kind}" + (f", delivery limit {limit}" if limit else "")
        # What to do comes first: callers may shorten the message; the server's text is last.
        return (
            f"queue {name!r} exists with other arguments than this process declares "
            f"({declared}), and RabbitMQ cannot change a queue's type or arguments: drain and "
            f"delete the leadgen queues, or use a new virtual host ({exc})"
        )
