"""A message received from RabbitMQ, as the broker port's ``Delivery``.

It copies the message's properties once, at arrival, and settles through aio-pika with ack or
requeue (a nack with requeue); a settle on a channel that died with its connection raises
``BrokerUnavailable``, and RabbitMQ delivers the message again, marked redelivered."""

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from leadgen.broker.amqp_errors import translated
from leadgen.broker.headers import from_field_table


class AmqpDelivery:
    """A message received from RabbitMQ, settled with ack or requeue."""

    def __init__(self, message: AbstractIncomingMessage) -> None:
        self._message = message
        self.body = message.body
        self.exchange = message.exchange or ""
        self.routing_key = message.routing_key or ""
        self.message_id = message.message_id
        self.correlation_id = message.correlation_id
        self.type = message.type
        # RabbitMQ-added headers (x-death tables) come through too, ready to publish again.
        self.headers = from_field_table(message.headers)
        self.redelivered = bool(message.redelivered)
        self.timestamp = message.timestamp
        self.content_type = message.content_type
        self.app_id = message.app_id
        # Set by the publisher; RabbitMQ refuses a user_id other than the connection's user.
        self.user_id = message.user_id
        # Published with delivery_mode=2: the message survives a broker restart.
        self.persistent = message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT

    @property
    def settled(self) -> bool:
        """True once acked or requeued."""
        return self._message.processed

    async def ack(self) -> None:
        """Settle it as handled: the broker forgets it."""
        with translated():
            await self._message.ack()

    async def requeue(self) -> None:
        """Give it back: the broker delivers it again, marked redelivered."""
        with translated():
            await self._message.nack(requeue=True)
