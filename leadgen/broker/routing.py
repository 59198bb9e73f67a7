"""Routing in the in-process broker: which queues a message published to an exchange reaches.

AMQP's rules for the exchange types the topology (topology.py) uses: a fanout exchange reaches
every bound queue, a direct exchange the queues bound with the routing key itself, and a topic
exchange the queues whose binding pattern matches it, ``*`` standing for exactly one word and
``#`` for zero or more. The default exchange ``""`` is the broker's to handle: it has no
bindings, only queues named by the routing key."""

from leadgen.errors import BrokerUnavailable


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""

    def match(p: list[str], words: list[str]) -> bool:
        if not p:
            return not words
        if p[0] == "#":
            return any(match(p[1:], words[i:]) for i in range(len(words) + 1))
        return bool(words) and p[0] in ("*", words[0]) and match(p[1:], words[1:])

    return match(pattern.split("."), routing_key.split("."))


def binding_matches(kind: str, pattern: str, routing_key: str) -> bool:
    """Whether a binding with ``pattern`` on an exchange of type ``kind`` takes ``routing_key``."""
    if kind == "fanout":
        return True
    if kind == "topic":
        return topic_matches(pattern, routing_key)
    return pattern == routing_key


class Exchanges:
    """The exchanges of one broker, with their types and their bindings to queues."""

    def __init__(self) -> None:
        self._types: dict[str, str] = {}  # name -> type
        self._bindings: dict[str, list[tuple[str, str]]] = {}  # exchange -> (key, queue)

    def declare(self, name: str, kind: str) -> None:
        """Declare exchange ``name`` of type ``kind``; an existing one is kept as it is."""
        self._types.setdefault(name, kind)
        self._bindings.setdefault(name, [])

    def bind(self, exchange: str, routing_key: str, queue: str) -> None:
        """Bind ``queue`` to ``exchange`` with ``routing_key``, once however often it is asked."""
        if exchange not in self._types:
            raise BrokerUnavailable(f"NOT_FOUND - no exchange '{exchange}'")
        bindings = self._bindings[exchange]
        if (routing_key, queue) not in bindings:
            bindings.append((routing_key, queue))

    def unbind(self, queue: str) -> None:
        """Remove every binding to ``queue``, as when it is deleted."""
        for bindings in self._bindings.values():
            bindings[:] = [(key, bound) for key, bound in bindings if bound != queue]

    def route(self, exchange: str, routing_key: str) -> list[str]:
        """The names of the queues a message published to ``exchange`` reaches, each once."""
        kind = self._types.get(exchange)
        if kind is None:
            raise BrokerUnavailable(f"NOT_FOUND - no exchange '{exchange}'")
        return list(
            dict.fromkeys(
                queue
                for pattern, queue in self._bindings[exchange]
                if binding_matches(kind, pattern, routing_key)
            )
        )
