"""The dead-letter workflow: look into ``leadgen.dead``, replay what was fixed, purge the rest.

Everything goes through AMQP basic.get on the broker port (``AmqpBroker``, or ``MemoryBroker``
in tests): a message taken with ``get`` stays the queue's until it is acked, so listing takes
what it shows without acking and hands it all back at the end, and a replay acks the dead copy
only once its republished copy is confirmed (a crash in between duplicates, never loses). Each
pass takes at most as many messages as the queue held when it started, so a message that is
dead-lettered again while a pass runs is not seen twice.

A dead letter is shown and replayed with the routing key it was first published with: a copy
leadgen republished straight to its queue (a retry) carries it in ``ROUTING_KEY_HEADER``, and
one RabbitMQ dead-lettered by itself (a quorum queue's delivery limit, a TTL) in ``x-death``,
with RabbitMQ's reason.

Handing messages back (requeue) keeps their order on classic queues and on the in-process
broker. A quorum queue on RabbitMQ 3.x puts returned messages behind the others, so listing
fewer than all of them changes the order in which a later ``replay --all`` sends them."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from leadgen import constants as c
from leadgen.broker.base import Delivery, HeaderValue, Outbound
from leadgen.ids import new_id

PREVIEW_CHARS = 80

# What dead-lettering and retries added: leadgen's reason, queue, attempts and original routing
# key, and RabbitMQ's history (``x-death`` and its summaries; ``x-delivery-count`` from quorum
# queues). A replayed message starts afresh without them.
_DEAD_HEADERS = (
    c.ERROR_HEADER,
    c.QUEUE_HEADER,
    c.ATTEMPTS_HEADER,
    c.ROUTING_KEY_HEADER,
    "x-death",
    "x-delivery-count",
)
_DEAD_PREFIXES = ("x-first-death-", "x-last-death-")


class DeadDelivery(Delivery, Protocol):
    """A delivery that also tells when it was published: for a dead letter, when it died."""

    @property
    def timestamp(self) -> datetime | None:
        """When it was published, if the publisher said."""


class DeadLetterBroker(Protocol):
    """What the dead-letter workflow needs of a broker: ``get`` besides the broker port."""

    async def get(self, queue: str, timeout: float = ...) -> DeadDelivery | None:
        """Take the next ready message of ``queue``, or None."""

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        """Publish, confirmed; a mandatory message that reaches no queue raises
        ``UnroutableMessage``."""

    async def message_count(self, queue: str) -> int:
        """Number of ready messages in ``queue``."""

    async def purge(self, queue: str) -> int:
        """Drop the ready messages of ``queue``; how many."""


@dataclass(frozen=True)
class DeadLetter:
    """What ``leadgen dead list`` shows of one dead letter."""

    message_id: str | None
    routing_key: str
    reason: str
    queue: str | None  # the queue it was taken from, when known
    age_seconds: float | None  # since it was dead-lettered, when the message has a timestamp
    type: str | None
    correlation_id: str | None
    preview: str  # the start of the body, on one line

    def as_json(self) -> dict[str, Any]:
        """A plain dict, for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


async def list_dead(broker: DeadLetterBroker, limit: int = 20) -> list[DeadLetter]:
    """The first ``limit`` dead letters, oldest first, all left in ``leadgen.dead``."""
    held = await _take(broker, limit)
    try:
        return [describe(delivery) for delivery in held]
    finally:
        await _give_back(held)


async def replay(
    broker: DeadLetterBroker, message_id: str | None = None, *, every: bool = False
) -> int:
    """Republish the dead letter with ``message_id`` (or ``every`` one) where it came from.

    It keeps its body, original routing key, ``message_id`` (a command's idempotency key) and
    ``correlation_id``, without the dead-lettering headers. Returns how many were replayed.

    A dead letter whose destination no longer takes it raises ``UnroutableMessage`` and stays
    in ``leadgen.dead``, as do the others."""
    if every == (message_id is not None):
        raise ValueError("replay needs either a message id or every=True, not both")
    held: list[DeadDelivery] = []
    replayed = 0
    try:
        for _ in range(await broker.message_count(c.DEAD_LETTER_QUEUE)):
            delivery = await broker.get(c.DEAD_LETTER_QUEUE, timeout=0)
            if delivery is None:
                break
            if not every and delivery.message_id != message_id:
                held.append(delivery)
                continue
            exchange, routing_key = destination(delivery)
            try:
                await broker.publish(exchange, routing_key, revived(delivery))
            except BaseException:
                held.append(delivery)  # not republished (UnroutableMessage, an outage): kept
                raise
            await delivery.ack()
            replayed += 1
            if not every:
                break
    finally:
        await _give_back(held)
    return replayed


async def purge(broker: DeadLetterBroker) -> int:
    """Drop every dead letter; how many were dropped."""
    return await broker.purge(c.DEAD_LETTER_QUEUE)


def describe(delivery: DeadDelivery, now: datetime | None = None) -> DeadLetter:
    """What a dead letter says about itself: its reason, origin, original routing key, age and
    body."""
    return DeadLetter(
        message_id=delivery.message_id or None,
        routing_key=original_routing_key(delivery),
        reason=_reason(delivery.headers),
        queue=_origin(delivery.headers),
        age_seconds=_age(_died_at(delivery), now or datetime.now(UTC)),
        type=delivery.type or None,
        correlation_id=delivery.correlation_id,
        preview=preview(delivery.body),
    )


def preview(body: bytes, chars: int = PREVIEW_CHARS) -> str:
    """The start of ``body`` as one line of text."""
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def original_routing_key(delivery: Delivery) -> str:
    """The routing key a dead letter was first published with.

    A copy leadgen republished to its queue directly (a retry, through the default exchange)
    keeps it in ``ROUTING_KEY_HEADER``; a message RabbitMQ dead-lettered names the keys it had
    in ``x-death``; otherwise it is the key the dead letter arrived with."""
    kept = delivery.headers.get(c.ROUTING_KEY_HEADER)
    if isinstance(kept, str) and kept:
        return kept
    keys = _latest_death(delivery.headers).get("routing-keys")
    if isinstance(keys, list) and keys and isinstance(keys[0], str):
        return keys[0]
    return delivery.routing_key


def destination(delivery: Delivery) -> tuple[str, str]:
    """Where a dead letter goes back to: ``(exchange, routing key)``.

    A command returns to ``leadgen.commands`` with its original routing key, as its sender
    published it; an internal message returns to its queue through the default exchange."""
    queue = _origin(delivery.headers)
    if queue is None or queue == c.COMMANDS_QUEUE:
        return c.COMMANDS_EXCHANGE, original_routing_key(delivery)
    return "", queue


def revived(delivery: Delivery) -> Outbound:
    """The dead letter as a message to publish again, without the dead-lettering headers.

    One that goes back to its queue directly keeps its original routing key in
    ``ROUTING_KEY_HEADER``, as a retried copy does, so a later dead letter still shows it."""
    headers = {
        name: value
        for name, value in delivery.headers.items()
        if name not in _DEAD_HEADERS and not name.startswith(_DEAD_PREFIXES)
    }
    exchange, routing_key = destination(delivery)
    original = original_routing_key(delivery)
    if exchange == "" and original != routing_key:
        headers[c.ROUTING_KEY_HEADER] = original
    return Outbound(
        body=delivery.body,
        type=delivery.type or "",
        # The same id on purpose: it is the idempotency key of a command (contract section 2).
        message_id=delivery.message_id or new_id(),
        correlation_id=delivery.correlation_id,
        headers=headers,
    )


async def _take(broker: DeadLetterBroker, limit: int) -> list[DeadDelivery]:
    """Up to ``limit`` dead letters, oldest first, unsettled."""
    held: list[DeadDelivery] = []
    try:
        for _ in range(min(limit, await broker.message_count(c.DEAD_LETTER_QUEUE))):
            delivery = await broker.get(c.DEAD_LETTER_QUEUE, timeout=0)
            if delivery is None:
                break
            held.append(delivery)
    except BaseException:
        await _give_back(held)
        raise
    return held


async def _give_back(held: Sequence[Delivery]) -> None:
    """Requeue ``held``, newest first: each goes back to the head, so the order is kept."""
    for delivery in reversed(held):
        await delivery.requeue()


def _reason(headers: Mapping[str, HeaderValue]) -> str:
    reason = headers.get(c.ERROR_HEADER)
    if isinstance(reason, str):
        return reason
    # Dead-lettered by RabbitMQ itself (a quorum queue's delivery limit, a TTL), not by leadgen.
    death = _latest_death(headers).get("reason")
    return f"rabbitmq: {death}" if isinstance(death, str) else "unknown"


def _died_at(delivery: DeadDelivery) -> datetime | None:
    """When RabbitMQ dead-lettered the message, else when it was published."""
    if c.ERROR_HEADER not in delivery.headers:
        died = _latest_death(delivery.headers).get("time")
        if isinstance(died, datetime):
            return died
    return delivery.timestamp


def _origin(headers: Mapping[str, HeaderValue]) -> str | None:
    """The queue the message was dead-lettered from, when known."""
    queue = headers.get(c.QUEUE_HEADER, _latest_death(headers).get("queue"))
    return queue if isinstance(queue, str) else None


def _age(timestamp: datetime | None, now: datetime) -> float | None:
    if timestamp is None:
        return None
    # AMQP timestamps are whole seconds in UTC: a fresh one may lie a little in the future.
    stamp = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    return max(0.0, (now - stamp).total_seconds())


def _latest_death(headers: Mapping[str, HeaderValue]) -> Mapping[str, HeaderValue]:
    """RabbitMQ's record of the latest dead-lettering (``x-death`` is newest first), or {}."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}
