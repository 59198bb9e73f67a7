"""The in-process broker: the embedded default of ``leadgen run`` and of the fast test tier.

A small single-node RabbitMQ, not a mock: it declares the same topology, routes by exchange
type (broker/routing.py), keeps every message as bytes plus properties (broker/memory_queue.py),
and delivers with RabbitMQ's semantics: per-consumer prefetch, manual ack, competing consumers
served round robin, requeue to the head with ``redelivered`` set, and unsettled deliveries
returned to their queues on ``close()``, as when a worker's connection drops. Queues and their
messages survive ``close()``, so ``connect()`` again plays a worker restarted against the same
broker."""

import asyncio
import contextvars
import uuid
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from leadgen.broker.base import Handler, Outbound
from leadgen.broker.headers import encode_headers
from leadgen.broker.memory_delivery import Lease, MemoryDelivery
from leadgen.broker.memory_queue import MemoryConsumer, MemoryQueue, StoredMessage
from leadgen.broker.routing import Exchanges, topic_matches
from leadgen.broker.topology import EXCHANGES, QUEUES
from leadgen.errors import BrokerUnavailable, UnroutableMessage

__all__ = ["MemoryBroker", "MemoryDelivery", "StoredMessage", "topic_matches"]

log = structlog.get_logger(__name__)

# How long close() waits for cancelled handlers to unwind.
_CLOSE_TIMEOUT = 10.0


class MemoryBroker:
    """The broker port in process, with the delivery semantics of a single RabbitMQ node."""

    def __init__(self) -> None:
        self._exchanges = Exchanges()
        self._queues: dict[str, MemoryQueue] = {}
        self._unsettled: dict[int, MemoryDelivery] = {}  # by tag, in delivery order
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_tag = 0
        # Bumped by connect(): deliveries of an earlier connection can no longer be settled.
        self._generation = 0
        self._connected = False
        self._cancelled = False
        self._change = asyncio.Event()

    async def connect(self) -> None:
        """Start a connection and declare the topology; what is already declared is kept."""
        if self._connected:
            return
        self._generation += 1
        self._connected, self._cancelled = True, False
        for exchange in EXCHANGES:
            self._exchanges.declare(exchange.name, exchange.type)
        for spec in QUEUES:
            self._queues.setdefault(spec.name, MemoryQueue(spec.name, durable=True))
            for exchange_name, routing_key in spec.bindings:
                self._exchanges.bind(exchange_name, routing_key, spec.name)

    def _require_connection(self) -> None:
        if not self._connected:
            raise BrokerUnavailable("not connected to the in-process broker")

    def _queue(self, name: str) -> MemoryQueue:
        queue = self._queues.get(name)
        if queue is None:
            raise BrokerUnavailable(f"NOT_FOUND - no queue '{name}'")
        return queue

    def _changed(self) -> None:
        # Wake everyone waiting for a change (get, join), then arm a fresh event.
        self._change.set()
        self._change = asyncio.Event()

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        """Route a copy of ``message`` to every matching queue.

        A ``mandatory`` message that reaches no queue raises ``UnroutableMessage``; otherwise it
        is dropped, as RabbitMQ does. Raises ``TypeError`` for a header value AMQP cannot
        carry, as AmqpBroker does."""
        self._require_connection()
        stored = StoredMessage(
            body=bytes(message.body),
            exchange=exchange,
            routing_key=routing_key,
            type=message.type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            header_table=encode_headers(message.headers),
            content_type=message.content_type,
            app_id=message.app_id,
            user_id=message.user_id,
            timestamp=message.timestamp or datetime.now(UTC),
        )
        queues = self._route(exchange, routing_key)
        if mandatory and not queues:
            raise UnroutableMessage(
                f"NO_ROUTE: no queue for routing key {routing_key!r} "
                f"on exchange {exchange or '(default exchange)'}"
            )
        for queue in queues:
            queue.ready.append(stored)
            self._dispatch(queue)
        self._changed()

    def _route(self, exchange: str, routing_key: str) -> list[MemoryQueue]:
        if exchange == "":
            queue = self._queues.get(routing_key)
            return [] if queue is None else [queue]
        return [self._queues[name] for name in self._exchanges.route(exchange, routing_key)]

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        """Deliver ``queue`` to ``handler`` in asyncio tasks, at most ``prefetch`` unsettled."""
        self._require_connection()
        target = self._queue(queue)
        target.consumers.append(MemoryConsumer(target, handler, prefetch))
        self._dispatch(target)

    def _dispatch(self, queue: MemoryQueue) -> None:
        while queue.ready and self._connected:
            consumer = queue.next_consumer()
            if consumer is None:
                return
            consumer.in_flight += 1
            delivery = self._deliver(queue, queue.ready.popleft(), consumer)
            # A fresh context, as across a real wire: the publisher's log context stays behind.
            task = asyncio.get_running_loop().create_task(
                self._run(consumer, delivery), context=contextvars.Context()
            )
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _deliver(
        self, queue: MemoryQueue, message: StoredMessage, consumer: MemoryConsumer | None
    ) -> MemoryDelivery:
        self._next_tag += 1
        lease = Lease(self._next_tag, queue, message, consumer, self._generation)
        delivery = MemoryDelivery(lease, self._settle)
        self._unsettled[lease.tag] = delivery
        return delivery

    async def _run(self, consumer: MemoryConsumer, delivery: MemoryDelivery) -> None:
        try:
            await consumer.handler(delivery)
        except Exception:
            # Never let one message stop the consumer: give it back to be retried.
            log.exception(
                "consumer_handler_failed",
                queue=consumer.queue.name,
                message_id=delivery.message_id,
            )
            if not delivery.settled:
                with suppress(BrokerUnavailable):
                    await delivery.requeue()

    def _task_done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        self._changed()

    def _settle(self, delivery: MemoryDelivery, requeue: bool) -> None:
        lease = delivery.lease
        if lease.generation != self._generation or not self._connected:
            # Like an ack on a dead channel: the message went back to its queue at close().
            raise BrokerUnavailable("the connection of this delivery is closed")
        if delivery.settled:
            raise BrokerUnavailable("delivery already settled")
        delivery.settled = True
        del self._unsettled[lease.tag]
        if lease.consumer is not None:
            lease.consumer.in_flight -= 1
        if requeue:
            lease.queue.ready.appendleft(replace(lease.message, redelivered=True))
        self._dispatch(lease.queue)
        self._changed()

    async def cancel_consumers(self) -> None:
        """Detach every consumer; deliveries in flight can still be settled."""
        self._cancelled = True
        for queue in self._queues.values():
            queue.consumers.clear()
        self._changed()

    async def close(self) -> None:
        """Drop the connection: consumers go, unsettled deliveries return to their queues
        (redelivered, in their original order) and running handlers are cancelled."""
        if not self._connected:
            return
        self._connected = False
        for queue in self._queues.values():
            queue.consumers.clear()
        for delivery in reversed(list(self._unsettled.values())):
            lease = delivery.lease
            lease.queue.ready.appendleft(replace(lease.message, redelivered=True))
        self._unsettled.clear()
        # A watch queue from bind() is exclusive to the connection, as in RabbitMQ.
        for name in [name for name, queue in self._queues.items() if not queue.durable]:
            del self._queues[name]
            self._exchanges.unbind(name)
        tasks = self._tasks - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT)
        self._changed()

    async def is_ready(self) -> bool:
        """True while connected and no consumer has been cancelled."""
        return self._connected and not self._cancelled

    def bind(self, exchange: str, routing_key: str = "#") -> str:
        """Create a non-durable queue bound to ``exchange``; returns its name.

        It lets tests and ``leadgen run`` watch ``leadgen.events``, which nothing else binds.
        The queue lasts until ``close()``."""
        self._require_connection()
        name = f"leadgen.watch.{uuid.uuid4().hex[:12]}"
        self._queues[name] = MemoryQueue(name, durable=False)
        self._exchanges.bind(exchange, routing_key, name)
        return name

    async def bind_queue(self, exchange: str, routing_key: str = "#") -> str:
        """``bind()`` under the name AmqpBroker uses, for code that runs on either."""
        return self.bind(exchange, routing_key)

    def messages(self, queue: str) -> list[StoredMessage]:
        """The ready messages of ``queue``, oldest first, left in place."""
        return list(self._queue(queue).ready)

    async def get(self, queue: str, timeout: float = 5.0) -> MemoryDelivery | None:
        """Take the next ready message of ``queue``, waiting up to ``timeout`` seconds for one.

        The delivery must be settled; unsettled at ``close()``, it goes back to the queue."""
        self._require_connection()
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue(queue).ready:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return None
            with suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), remaining)
            self._require_connection()
        target = self._queue(queue)
        return self._deliver(target, target.ready.popleft(), None)

    async def purge(self, queue: str) -> int:
        """Drop the ready messages of ``queue``; returns how many were dropped."""
        target = self._queue(queue)
        count = len(target.ready)
        target.ready.clear()
        self._changed()
        return count

    async def consumer_count(self, queue: str) -> int:
        """Number of consumers of ``queue``; 0 when it does not exist."""
        found = self._queues.get(queue)
        return 0 if found is None else len(found.consumers)

    async def message_count(self, queue: str) -> int:
        """Number of ready (not unsettled) messages in ``queue``."""
        return len(self._queue(queue).ready)

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until every consumed queue is empty, nothing is unsettled and no handler runs.

        Raises ``TimeoutError`` when that does not happen within ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not self._quiet():
                await self._change.wait()

    def _quiet(self) -> bool:
        busy_queue = any(queue.ready and queue.consumers for queue in self._queues.values())
        return not (busy_queue or self._unsettled or self._tasks)
