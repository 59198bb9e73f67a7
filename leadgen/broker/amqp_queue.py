"""How the RabbitMQ broker declares a queue, kept so every channel declares it the same way.

aio-pika restores after a reconnect only the queues a channel declared itself, so a consumer
channel declares its queue again, with the arguments the topology (topology.py) gave it: a
declaration that differs from the existing queue would be refused by RabbitMQ."""

from dataclasses import dataclass

from aio_pika.abc import AbstractQueue, AbstractRobustChannel

from leadgen import constants as c
from leadgen.broker.amqp_errors import TIMEOUT


@dataclass(frozen=True)
class QueueDeclaration:
    """How a queue is declared: its flags, and whether it dead-letters to ``leadgen.dlx``."""

    durable: bool = False
    exclusive: bool = False
    auto_delete: bool = False
    passive: bool = False
    dead_letter: bool = False

    async def declare(self, channel: AbstractRobustChannel, name: str) -> AbstractQueue:
        """Declare queue ``name`` on ``channel``; aio-pika errors are the caller's to translate."""
        arguments = {"x-dead-letter-exchange": c.DEAD_LETTER_EXCHANGE} if self.dead_letter else None
        return await channel.declare_queue(
            name,
            durable=self.durable,
            exclusive=self.exclusive,
            auto_delete=self.auto_delete,
            passive=self.passive,
            arguments=arguments,
            timeout=TIMEOUT,
        )
