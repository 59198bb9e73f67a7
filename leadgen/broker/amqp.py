"""The RabbitMQ broker: the broker port on aio-pika, with a robust (self-healing) connection.

One channel with publisher confirms publishes and declares the topology (topology.py); every
consumer gets a channel of its own, so its prefetch bounds only its own deliveries and
cancelling it leaves its unsettled deliveries settle-able. Queues are classic or quorum, as
``queue_type`` says (topology.queue_arguments; broker/amqp_queue.py explains a refused one).
Deliveries are ``AmqpDelivery`` (broker/amqp_delivery.py); aio-pika and aiormq errors become
``BrokerUnavailable``, and a mandatory message RabbitMQ returned unroutable becomes
``UnroutableMessage`` (broker/amqp_errors.py): they never leak into the actors. What the
operator's tools ask of a queue is broker/amqp_inspect.py."""

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from leadgen.broker.amqp_delivery import AmqpDelivery
from leadgen.broker.amqp_errors import LIBRARY_ERRORS, TIMEOUT, translated
from leadgen.broker.amqp_inspect import QueueInspection
from leadgen.broker.amqp_queue import QueueDeclaration
from leadgen.broker.base import Handler, Outbound
from leadgen.broker.headers import to_field_table
from leadgen.broker.topology import EXCHANGES, QUEUES, QueueType, queue_arguments
from leadgen.errors import BrokerUnavailable
from leadgen.log import describe_error

__all__ = ["TIMEOUT", "AmqpBroker", "AmqpDelivery"]

log = structlog.get_logger(__name__)

# How often a wait for a reopened channel or for a message (get) looks again.
_POLL = 0.05


@dataclass(frozen=True)
class _Consumer:
    """One consume() call: its channel, its queue and its consumer tag."""

    channel: AbstractRobustChannel
    queue: AbstractQueue
    tag: str


class AmqpBroker(QueueInspection):
    """The broker port on RabbitMQ; reconnects by itself once the first connect succeeded."""

    def __init__(
        self,
        url: str,
        *,
        connection_name: str | None = None,
        queue_type: QueueType = "classic",
        delivery_limit: int = 20,
        declare: bool = True,
    ) -> None:
        """``queue_type`` and ``delivery_limit`` must match every other process on the broker
        (``LEADGEN_QUEUE_TYPE``, ``LEADGEN_DELIVERY_LIMIT``): RabbitMQ refuses to declare an
        existing queue with other arguments. ``declare=False`` is for a client that only
        sends commands and reads answers: it declares nothing (its user needs no right to
        configure leadgen's topology) and finds exchanges as it publishes to them."""
        self.url = url
        self.declare = declare
        self.connection_name = connection_name or f"leadgen@{socket.gethostname()}:{os.getpid()}"
        self.queue_type = queue_type
        self.delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._get_channel: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        # How each queue we know was declared, so a consumer channel declares it identically
        # (aio-pika restores only the queues a channel declared itself after a reconnect).
        self._queue_declarations: dict[str, QueueDeclaration] = {}
        self._consumers: list[_Consumer] = []
        self._cancelled = False

    async def connect(self) -> None:
        """Connect and declare the topology; the first connection fails fast, later losses heal."""
        if self._connection is not None and not self._connection.is_closed:
            return
        with translated():
            # fail_fast (aio-pika's default) makes the first attempt raise instead of retrying.
            connection = await aio_pika.connect_robust(
                self.url,
                client_properties={"connection_name": self.connection_name},
                timeout=TIMEOUT,
            )
        connection.close_callbacks.add(self._on_connection_lost)
        connection.reconnect_callbacks.add(self._on_reconnected)
        # Entities cached by an earlier connection belong to its dead channels.
        self._exchanges.clear()
        self._queue_declarations.clear()
        try:
            with translated():
                # A returned (unroutable mandatory) message raises instead of confirming.
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                if self.declare:
                    await self._declare_topology(channel)
        except BrokerUnavailable:
            await connection.close()
            raise
        self._connection, self._channel = connection, channel
        self._consumers, self._cancelled = [], False

    def _on_connection_lost(self, connection: object, reason: BaseException | None) -> None:
        # One structured warning per loss, instead of aio-pika's and aiormq's tracebacks
        # (log.py drops those); our own close() has let go of the connection already.
        if connection is not self._connection or connection is None:
            return
        log.warning(
            "broker_connection_lost",
            connection_name=self.connection_name,
            reason=describe_error(reason) if reason is not None else "closed",
        )

    def _on_reconnected(self, connection: object) -> None:
        if connection is self._connection:
            log.info("broker_reconnected", connection_name=self.connection_name)

    async def _declare_topology(self, channel: AbstractRobustChannel) -> None:
        for exchange in EXCHANGES:
            self._exchanges[exchange.name] = await channel.declare_exchange(
                exchange.name, exchange.type, durable=True, timeout=TIMEOUT
            )
        for spec in QUEUES:
            arguments = queue_arguments(spec, self.queue_type, self.delivery_limit)
            declaration = QueueDeclaration(durable=True, arguments=arguments)
            queue = await declaration.declare(channel, spec.name)
            self._queue_declarations[spec.name] = declaration
            for exchange_name, routing_key in spec.bindings:
                await queue.bind(self._exchanges[exchange_name], routing_key, timeout=TIMEOUT)

    def _connected(self) -> AbstractRobustConnection:
        if self._connection is None or self._connection.is_closed:
            raise BrokerUnavailable("not connected to RabbitMQ")
        return self._connection

    async def _ready(self, channel: AbstractRobustChannel) -> None:
        # aio-pika reopens a channel after a connection loss or a channel error in the
        # background: wait for it (bounded) instead of failing on the stale one.
        with translated():
            async with asyncio.timeout(TIMEOUT):
                await channel.ready()
                while channel.is_closed:
                    await asyncio.sleep(_POLL)
                    await channel.ready()

    async def _exchange(self, channel: AbstractRobustChannel, name: str) -> AbstractExchange:
        if name == "":
            return channel.default_exchange
        exchange = self._exchanges.get(name)
        if exchange is None:
            # Check on a throwaway channel first: publishing to a missing exchange would close
            # the publishing channel and fail every publish still waiting for its confirm.
            async with self._throwaway() as probe:
                with translated():
                    await probe.declare_exchange(name, passive=True, robust=False)
            exchange = await channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        """Publish persistently and wait for the broker's confirm.

        Raises ``UnroutableMessage`` when a ``mandatory`` message reaches no queue (RabbitMQ
        returns it), and ``BrokerUnavailable`` when not connected, on a nack, or for an unknown
        exchange."""
        self._connected()
        channel = cast(AbstractRobustChannel, self._channel)
        await self._ready(channel)
        amqp_message = aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            app_id=message.app_id,
            user_id=message.user_id,
            timestamp=message.timestamp or datetime.now(UTC),
            headers=to_field_table(message.headers),
        )
        target = await self._exchange(channel, exchange)
        with translated():
            await target.publish(amqp_message, routing_key, mandatory=mandatory, timeout=TIMEOUT)

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        """Consume ``queue`` on a channel of its own; a handler that raises gets its message
        requeued and is logged."""
        connection = self._connected()
        declaration = self._queue_declarations.get(queue, QueueDeclaration(passive=True))
        with translated():
            channel = await connection.channel(publisher_confirms=False)
        try:
            with translated():
                await channel.set_qos(prefetch_count=prefetch, timeout=TIMEOUT)
                amqp_queue = await declaration.declare(channel, queue)
                callback = self._callback(queue, handler)
                tag = await amqp_queue.consume(callback, no_ack=False, timeout=TIMEOUT)
        except BrokerUnavailable:
            # Otherwise aio-pika would keep reopening the channel a missing queue closed.
            with suppress(*LIBRARY_ERRORS):
                await channel.close()
            raise
        self._consumers.append(_Consumer(channel, amqp_queue, tag))

    @staticmethod
    def _callback(
        queue: str, handler: Handler
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            delivery = AmqpDelivery(message)
            try:
                await handler(delivery)
            except Exception:
                # Never let one message stop the consumer: give it back to be retried.
                log.exception(
                    "consumer_handler_failed", queue=queue, message_id=delivery.message_id
                )
                if not delivery.settled:
                    with suppress(BrokerUnavailable):
                        await delivery.requeue()

        return on_message

    async def cancel_consumers(self) -> None:
        """Cancel every consumer; their channels stay open so deliveries in flight can settle."""
        self._cancelled = True
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            if not consumer.channel.is_closed:
                with translated():
                    await consumer.queue.cancel(consumer.tag, timeout=TIMEOUT)

    async def close(self) -> None:
        """Cancel consumers and close the connection; RabbitMQ requeues unsettled deliveries."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with suppress(BrokerUnavailable):
            await self.cancel_consumers()
        self._channel = self._get_channel = None
        await connection.close()

    async def is_ready(self) -> bool:
        """True while connected and every consume() call still has its consumer on the broker."""
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            return False
        if self._cancelled:
            return False
        for consumer in self._consumers:
            if consumer.channel.is_closed:
                return False
            # A consumer the broker cancelled (e.g. queue deleted) vanishes from this map.
            underlay = cast(aiormq.Channel, await consumer.channel.get_underlay_channel())
            if consumer.tag not in underlay.consumers:
                return False
        return True

    async def get(self, queue: str, timeout: float = 5.0) -> AmqpDelivery | None:
        """Poll ``queue`` until a message arrives or ``timeout`` passes; settle what it returns."""
        connection = self._connected()
        if self._get_channel is None:
            with translated():
                self._get_channel = await connection.channel(publisher_confirms=False)
        channel = self._get_channel
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self._ready(channel)
            with translated():
                amqp_queue = await channel.get_queue(queue, ensure=False)
                message = await amqp_queue.get(no_ack=False, fail=False, timeout=TIMEOUT)
            if message is not None:
                return AmqpDelivery(message)
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(_POLL)
