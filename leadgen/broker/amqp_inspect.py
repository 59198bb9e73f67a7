"""What the RabbitMQ broker tells about a queue (its ready messages, its consumers), purging
it, and a queue to watch an exchange with. Used by the operator's tools, the command line and
the tests, not by the actors.

Each question is asked on a throwaway channel: a passive declare of a missing queue closes its
channel, which must not take the publishing or consuming channels with it."""

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import cast

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from leadgen.broker.amqp_errors import LIBRARY_ERRORS, TIMEOUT, translated
from leadgen.broker.amqp_queue import QueueDeclaration
from leadgen.errors import BrokerUnavailable


class QueueInspection(ABC):
    """Queue counts, purge and watch queues, for a broker that has a connection."""

    _channel: AbstractRobustChannel | None
    _queue_declarations: dict[str, QueueDeclaration]

    @abstractmethod
    def _connected(self) -> AbstractRobustConnection:
        """The open connection; raises ``BrokerUnavailable`` when there is none."""

    @asynccontextmanager
    async def _throwaway(self) -> AsyncIterator[AbstractRobustChannel]:
        # A passive declare of a missing entity closes its channel: keep that off the others.
        connection = self._connected()
        with translated():
            channel = await connection.channel(publisher_confirms=False)
        try:
            yield channel
        finally:
            with suppress(*LIBRARY_ERRORS):
                await channel.close()

    async def purge(self, queue: str) -> int:
        """Drop the ready messages of ``queue``; returns how many were dropped."""
        async with self._throwaway() as channel:
            with translated():
                amqp_queue = await channel.declare_queue(queue, passive=True, robust=False)
                result = await amqp_queue.purge(timeout=TIMEOUT)
        return int(result.message_count or 0)

    async def message_count(self, queue: str) -> int:
        """Number of ready (not unsettled) messages in ``queue``."""
        async with self._throwaway() as channel:
            with translated():
                amqp_queue = await channel.declare_queue(queue, passive=True, robust=False)
        return int(amqp_queue.declaration_result.message_count or 0)

    async def consumer_count(self, queue: str) -> int:
        """Number of consumers of ``queue`` (workers listening to it); 0 when it does not
        exist (no worker ever declared it)."""
        async with self._throwaway() as channel:
            try:
                with translated():
                    amqp_queue = await channel.declare_queue(queue, passive=True, robust=False)
            except BrokerUnavailable as exc:
                if "NOT_FOUND" in str(exc):
                    return 0
                raise
        return int(amqp_queue.declaration_result.consumer_count or 0)

    async def bind_queue(self, exchange: str, routing_key: str = "#") -> str:
        """Declare a queue bound to ``exchange``, exclusive to this connection; returns its name.

        It lets tests and tools watch an exchange nothing else is bound to (``leadgen.events``)."""
        self._connected()
        channel = cast(AbstractRobustChannel, self._channel)
        name = f"leadgen.watch.{uuid.uuid4().hex[:12]}"
        declaration = QueueDeclaration(exclusive=True)
        with translated():
            amqp_queue = await declaration.declare(channel, name)
            await amqp_queue.bind(exchange, routing_key, timeout=TIMEOUT)
        self._queue_declarations[name] = declaration
        return name
