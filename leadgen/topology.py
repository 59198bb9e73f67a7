"""The exchanges and queues leadgen declares, as data both brokers read.

Public names follow contract sections 2, 4 and 5; internal queues are leadgen's own."""

from dataclasses import dataclass

from leadgen import constants as c


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
