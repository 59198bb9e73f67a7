"""Running actors on a broker: decode, handle, then ack; dead-letter what cannot be handled.

A worker never crashes on a message. An undecodable message is dead-lettered with its
reason. A store or broker outage is waited out in place, with a growing delay, while the
delivery is held: requeueing would count deliveries towards a quorum queue's limit and
dead-letter healthy messages; only a stopping worker gives its messages back. An unexpected
error is retried a few times (a copy with the attempt counted) and then the message is given
up: its actor turns that into a failure of its job (invariant 10) and the message is
dead-lettered. Acks come only after the actor stored its effects and published what follows
(invariant 7). Every settled delivery is counted by queue and outcome in the worker's
metrics."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, ParamSpec

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential_jitter

from leadgen import constants as c
from leadgen.actors.base import TRANSIENT, Actor
from leadgen.broker.base import Broker, Delivery, Outbound
from leadgen.broker.headers import attempt, original_routing_key
from leadgen.broker.sender import DEFAULT_USER, sender_of
from leadgen.errors import DecodeError, Superseded
from leadgen.ids import new_id
from leadgen.log import log
from leadgen.workflow.metrics import Metrics

P = ParamSpec("P")
# The longest wait between two tries of a handler during an outage.
OUTAGE_BACKOFF_MAX = 5.0
# The pause before each new try of a handler during an outage: growing, with jitter.
OUTAGE_BACKOFF = wait_exponential_jitter(multiplier=0.1, max=OUTAGE_BACKOFF_MAX, jitter=0.1)

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
        user_id: str = DEFAULT_USER,
    ) -> None:
        self.broker = broker
        self.actors = actors
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.metrics = metrics or Metrics()
        self.user_id = user_id  # the worker's broker user: the publisher of every copy
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        # Set when the worker stops: outages are no longer waited out, messages go back.
        self.stopping = asyncio.Event()
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
            try:
                message = actor.decode(delivery)
            except DecodeError as exc:
                await self._outlasting_outages(self.dead_letter, delivery, actor.queue, exc.reason)
                return "rejected"
            _bind_message(message)
            return await self._handled(actor, message, delivery)
        except TRANSIENT as exc:  # the worker is stopping during an outage
            log.warning("message_requeued", reason=f"{type(exc).__name__}: {exc}")
            await delivery.requeue()
            return "requeued"

    async def _handled(self, actor: Actor[Any], message: Any, delivery: Delivery) -> Outcome:
        tries = 0

        async def handle() -> None:
            nonlocal tries
            tries += 1
            # A try after an outage may find what the earlier try stored: it is a replay.
            await actor.handle(message, delivery if tries == 1 else Replayed(delivery))

        try:
            await self._outlasting_outages(handle)
        except Superseded as exc:
            log.info("message_superseded", reason=str(exc))
        except TRANSIENT:
            raise
        except Exception as exc:
            return await self.retry(actor, message, delivery, exc)
        await delivery.ack()
        return "acked"

    async def _outlasting_outages(
        self, call: Callable[P, Awaitable[Any]], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Await ``call`` until it gets through a store or broker outage (or the worker stops).

        Each try starts the handler from the beginning: every handler is safe to run again."""
        try:
            # The usual case, without building the retry machinery for every message.
            await call(*args, **kwargs)
            return
        except TRANSIENT as exc:
            if self.stopping.is_set():
                raise
            _log_waiting(exc, tries=1)
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(TRANSIENT),
                wait=OUTAGE_BACKOFF,
                stop=lambda _: self.stopping.is_set(),
                before_sleep=_log_outage,
                reraise=True,
            )
            # The same pause as between any two later tries: an immediate second try would
            # meet the outage it just met, sooner than every other worker's.
            await asyncio.sleep(OUTAGE_BACKOFF(RetryCallState(retrying, None, (), {})))
        async for try_ in retrying:
            with try_:
                await call(*args, **kwargs)

    async def retry(
        self, actor: Actor[Any], message: Any, delivery: Delivery, exc: Exception
    ) -> Outcome:
        """Publish the message again with one more attempt counted, or give it up."""
        attempts = attempt(delivery)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if attempts >= self.max_attempts:
            log.error("message_failed", attempts=attempts, reason=reason, exc_info=exc)
            await self._give_up(actor, message, reason)
            await self._outlasting_outages(
                self.dead_letter, delivery, actor.queue, f"failed {attempts} times: {reason}"
            )
            return "rejected"
        log.warning("message_retried", attempts=attempts, reason=reason, exc_info=exc)
        await asyncio.sleep(min(0.2 * 2**attempts, 5.0))
        copy = self._copy(delivery, {c.ATTEMPTS_HEADER: attempts + 1})
        await self._outlasting_outages(self.broker.publish, "", actor.queue, copy)
        await delivery.ack()
        return "retried"

    async def _give_up(self, actor: Actor[Any], message: Any, reason: str) -> None:
        """Let ``actor`` make the lost message a failure of its job; never fail the worker."""
        try:
            await self._outlasting_outages(actor.give_up, message, reason)
        except TRANSIENT:
            raise
        except Exception as exc:
            log.error("give_up_failed", reason=f"{type(exc).__name__}: {exc}", exc_info=exc)

    def _copy(self, delivery: Delivery, headers: dict[str, str | int]) -> Outbound:
        return _copy(delivery, headers, self.user_id)

    async def dead_letter(self, delivery: Delivery, queue: str, reason: str) -> None:
        """Send the message, unchanged, to ``leadgen.dlx`` with its reason, then ack it."""
        reason = " ".join(reason.split())[:500]
        routing_key = original_routing_key(delivery)
        log.warning("message_rejected", queue=queue, reason=reason, routing_key=routing_key)
        await self.broker.publish(
            c.DEAD_LETTER_EXCHANGE,
            routing_key,
            self._copy(delivery, {c.ERROR_HEADER: reason, c.QUEUE_HEADER: queue}),
        )
        await delivery.ack()


class Replayed:
    """A delivery handled again in place after an outage: seen as redelivered, since the
    earlier try may have stored its effects. Settling stays with the runner."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    def __getattr__(self, name: str) -> Any:
        return getattr(self._delivery, name)

    @property
    def redelivered(self) -> bool:
        """Always True: the earlier try may have stored its effects."""
        return True


def _log_outage(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    _log_waiting(error, tries=state.attempt_number + 1)  # the first try came before the loop


def _log_waiting(error: BaseException | None, tries: int) -> None:
    log.warning(
        "message_waiting_out_outage", reason=f"{type(error).__name__}: {error}", tries=tries
    )


def _copy(delivery: Delivery, headers: dict[str, str | int], own_user: str) -> Outbound:
    """The delivery as a message to publish again, unchanged but for ``headers`` added; it
    keeps the routing key it was first published with, and its sender, in headers of their
    own (the copy is published by ``own_user``, the worker's)."""
    kept = {c.ROUTING_KEY_HEADER: original_routing_key(delivery)}
    sender = sender_of(delivery, own_user).user_id
    if sender:
        kept[c.SENDER_HEADER] = sender
    return Outbound(
        user_id=own_user,
        body=delivery.body,
        type=delivery.type or "",
        message_id=delivery.message_id or new_id(),
        correlation_id=delivery.correlation_id,
        headers={**delivery.headers, **kept, **headers},
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
