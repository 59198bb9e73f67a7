"""Running actors on a broker: decode, handle, then ack; dead-letter what cannot be handled.

A worker never crashes on a message. An undecodable message is dead-lettered with its
reason; an unexpected error is retried a few times (with a growing delay) and then
dead-lettered; a store or broker outage requeues the message for later. Acks come only after
the actor stored its effects and published what follows (invariant 7). Every settled
delivery is counted by queue and outcome in the worker's metrics."""

import asyncio
import time
from typing import Any, Literal

import structlog

from leadgen import constants as c
from leadgen.actors.base import TRANSIENT, Actor
from leadgen.broker.base import Broker, Delivery, Outbound
from leadgen.errors import DecodeError, Superseded
from leadgen.log import log
from leadgen.metrics import Metrics
from leadgen.publisher import new_id

# How a delivery was settled (the ``outcome`` label of ``leadgen_messages_total``).
Outcome = Literal["acked", "rejected", "retried", "requeued"]


class Runner:
    """Consumes every actor's queue and settles each delivery according to its outcome."""

    def __init__(
        self,
        broker: Broker,
        actors: list[Actor[Any]],
        *,
        max_attempts: int,
        prefetch: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.broker = broker
        self.actors = actors
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.metrics = metrics or Metrics()
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self._handling: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Start consuming every actor's queue."""
        for actor in self.actors:
            await self.broker.consume(actor.queue, self._handler(actor), prefetch=self.prefetch)

    def _handler(self, actor: Actor[Any]) -> Any:
        async def handle(delivery: Delivery) -> None:
            await self.dispatch(actor, delivery)

        return handle

    async def dispatch(self, actor: Actor[Any], delivery: Delivery) -> None:
        """Handle one delivery with ``actor`` and settle it."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            queue=actor.queue,
            message_id=delivery.message_id,
            correlation_id=delivery.correlation_id,
        )
        self.in_flight += 1
        self.idle.clear()
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        started = time.monotonic()
        try:
            outcome = await self._settle(actor, delivery)
            seconds = time.monotonic() - started
            self.metrics.messages.labels(actor.queue, outcome).inc()
            self.metrics.message_seconds.labels(actor.queue).observe(seconds)
        finally:
            if task is not None:
                self._handling.discard(task)
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()
            log.debug("message_handled", seconds=round(time.monotonic() - started, 4))
            structlog.contextvars.clear_contextvars()

    async def abandon(self) -> None:
        """Cancel the handlers still running, as a crash would stop them.

        Their deliveries stay unsettled and return to their queues when the broker closes;
        every handler is safe to run again from the start (invariant 7)."""
        tasks = self._handling - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def _settle(self, actor: Actor[Any], delivery: Delivery) -> Outcome:
        try:
            message = actor.decode(delivery)
            _bind_message(message)
            await actor.handle(message, delivery)
        except DecodeError as exc:
            await self.dead_letter(delivery, actor.queue, exc.reason)
            return "rejected"
        except Superseded as exc:
            log.info("message_superseded", reason=str(exc))
        except TRANSIENT as exc:
            log.warning("message_requeued", reason=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)  # let the outage pass before the message comes back
            await delivery.requeue()
            return "requeued"
        except Exception as exc:
            return await self.retry(delivery, actor.queue, exc)
        await delivery.ack()
        return "acked"

    async def retry(self, delivery: Delivery, queue: str, exc: Exception) -> Outcome:
        """Publish the message again with one more attempt counted, or dead-letter it."""
        counted = delivery.headers.get(c.ATTEMPTS_HEADER, 1)
        attempts = counted if isinstance(counted, int) else 1
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if attempts >= self.max_attempts:
            log.error("message_failed", attempts=attempts, reason=reason, exc_info=exc)
            await self.dead_letter(delivery, queue, f"failed {attempts} times: {reason}")
            return "rejected"
        log.warning("message_retried", attempts=attempts, reason=reason, exc_info=exc)
        await asyncio.sleep(min(0.2 * 2**attempts, 5.0))
        await self.broker.publish("", queue, _copy(delivery, {c.ATTEMPTS_HEADER: attempts + 1}))
        await delivery.ack()
        return "retried"

    async def dead_letter(self, delivery: Delivery, queue: str, reason: str) -> None:
        """Send the message, unchanged, to ``leadgen.dlx`` with its reason, then ack it."""
        reason = " ".join(reason.split())[:500]
        log.warning(
            "message_rejected", queue=queue, reason=reason, routing_key=delivery.routing_key
        )
        await self.broker.publish(
            c.DEAD_LETTER_EXCHANGE,
            delivery.routing_key,
            _copy(delivery, {c.ERROR_HEADER: reason, c.QUEUE_HEADER: queue}),
        )
        await delivery.ack()


def _copy(delivery: Delivery, headers: dict[str, str | int]) -> Outbound:
    """The delivery as a message to publish again, unchanged but for ``headers`` added."""
    return Outbound(
        body=delivery.body,
        type=delivery.type or "",
        message_id=delivery.message_id or new_id(),
        correlation_id=delivery.correlation_id,
        headers={**delivery.headers, **headers},
        timestamp=delivery.timestamp,
        content_type=delivery.content_type or "application/json",
        app_id=delivery.app_id,
    )


def _bind_message(message: object) -> None:
    """Bind the ids a message carries to the log context."""
    ids = {
        name: getattr(message, name)
        for name in ("job_id", "workflow_id", "phase", "customer_id")
        if getattr(message, name, None)
    }
    structlog.contextvars.bind_contextvars(**ids)
