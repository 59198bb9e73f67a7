"""The exchanges and queues leadgen declares, as data both brokers read.

Public names follow contract sections 2, 4 and 5; internal queues are leadgen's own. A queue is
classic or quorum (``LEADGEN_QUEUE_TYPE``); ``queue_arguments`` says how each is declared. The
in-process broker has no queue types and reads only names and bindings.

RabbitMQ never changes the type of an existing queue: a queue declared classic cannot be
declared quorum (the broker answers ``PRECONDITION_FAILED``). Switching a deployment to quorum
queues therefore needs new queues: drain the old ones and delete them, or use a new virtual
host."""

from dataclasses import dataclass
from typing import Final, Literal

from leadgen import constants as c

QueueType = Literal["classic", "quorum"]

# RabbitMQ 4 gives a quorum queue without a limit a default of 20 deliveries, after which a
# queue without a dead-letter exchange drops the message. ``leadgen dead list`` hands back what
# it peeked, and that counts as a delivery: ``leadgen.dead`` gets a limit no listing reaches.
DEAD_LETTER_DELIVERY_LIMIT: Final = 1_000_000


@dataclass(frozen=True)
class Exchange:
    """A durable exchange."""

    name: str
    type: str  # "topic", "direct" or "fanout"


@dataclass(frozen=True)
class Queue:
    """A durable queue, its bindings ``(exchange, routing key)``, dead-lettered to the DLX."""

    name: str
    bindings: tuple[tuple[str, str], ...]
    dead_letter: bool = True


EXCHANGES = (
    Exchange(c.COMMANDS_EXCHANGE, "topic"),
    Exchange(c.EVENTS_EXCHANGE, "topic"),
    Exchange(c.DEAD_LETTER_EXCHANGE, "fanout"),
    Exchange(c.INTERNAL_EXCHANGE, "direct"),
)

QUEUES = (
    Queue(c.COMMANDS_QUEUE, ((c.COMMANDS_EXCHANGE, "leadgen.#"),)),
    Queue(c.SUPERVISOR_QUEUE, ((c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY),)),
    Queue(c.COMPLETION_QUEUE, ((c.INTERNAL_EXCHANGE, c.COMPLETION_KEY),)),
    Queue(c.AUDIT_QUEUE, ((c.INTERNAL_EXCHANGE, c.AUDIT_KEY),)),
    *(Queue(c.phase_queue(p), ((c.INTERNAL_EXCHANGE, c.phase_key(p)),)) for p in c.PHASES),
    # The dead-letter queue keeps what nobody could handle; it is not dead-lettered itself.
    Queue(c.DEAD_LETTER_QUEUE, ((c.DEAD_LETTER_EXCHANGE, ""),), dead_letter=False),
)


def queue_arguments(
    spec: Queue, queue_type: QueueType, delivery_limit: int
) -> dict[str, str | int]:
    """The ``x-`` arguments RabbitMQ declares ``spec`` with, for ``queue_type``.

    A quorum queue dead-letters a message delivered more than ``delivery_limit`` times (a
    poison message, or one requeued by crashing workers) instead of redelivering it forever."""
    arguments: dict[str, str | int] = {}
    if spec.dead_letter:
        arguments["x-dead-letter-exchange"] = c.DEAD_LETTER_EXCHANGE
    if queue_type == "classic":
        return arguments
    arguments["x-queue-type"] = "quorum"
    if not spec.dead_letter:
        arguments["x-delivery-limit"] = DEAD_LETTER_DELIVERY_LIMIT
        return arguments
    # At-least-once dead-lettering keeps a message in its queue until leadgen.dead confirmed
    # it, so nothing is dropped on the way; RabbitMQ requires reject-publish overflow for it.
    arguments["x-delivery-limit"] = delivery_limit
    arguments["x-dead-letter-strategy"] = "at-least-once"
    arguments["x-overflow"] = "reject-publish"
    return arguments
