"""The broker port and its two implementations: RabbitMQ (aio-pika) and in-process memory."""

from leadgen.broker.base import Broker, Delivery, Outbound

__all__ = ["Broker", "Delivery", "Outbound"]
