"""AMQP routing rules as the in-process broker applies them: topic patterns and exchange types."""

import pytest

from leadgen.broker.routing import Exchanges, binding_matches, topic_matches
from leadgen.errors import BrokerUnavailable


@pytest.mark.parametrize(
    ("pattern", "routing_key", "expected"),
    [
        ("job.*", "job.started", True),
        ("job.*", "job", False),
        ("job.*", "job.deep.key", False),
        ("job.#", "job", True),
        ("job.#", "job.deep.key", True),
        ("#", "anything.at.all", True),
        ("leadgen.#.v1", "leadgen.v1", True),
        ("leadgen.#.v1", "leadgen.start.job.v1", True),
        ("leadgen.#.v1", "leadgen.start.v2", False),
        ("*.started", "job.started", True),
        ("job.started", "job.started", True),
        ("job.started", "job.paused", False),
    ],
)
def test_topic_matches(pattern: str, routing_key: str, expected: bool) -> None:
    """``*`` matches exactly one word and ``#`` zero or more, as in RabbitMQ."""
    assert topic_matches(pattern, routing_key) is expected


def test_binding_matches_by_exchange_type() -> None:
    """Fanout takes every key, direct only the bound key itself, topic by pattern."""
    assert binding_matches("fanout", "", "any.key") is True
    assert binding_matches("direct", "job.*", "job.started") is False
    assert binding_matches("direct", "job.started", "job.started") is True
    assert binding_matches("topic", "job.*", "job.started") is True


def test_route_reaches_each_matching_queue_once() -> None:
    """A queue bound twice with matching keys gets one copy; an unbound queue gets none."""
    exchanges = Exchanges()
    exchanges.declare("events", "topic")
    exchanges.bind("events", "job.*", "watch")
    exchanges.bind("events", "#", "watch")
    exchanges.bind("events", "lead.*", "leads")

    assert exchanges.route("events", "job.started") == ["watch"]
    exchanges.unbind("watch")
    assert exchanges.route("events", "job.started") == []


def test_unknown_exchange_raises_broker_unavailable() -> None:
    """Routing through or binding to an undeclared exchange fails as RabbitMQ's NOT_FOUND."""
    exchanges = Exchanges()
    with pytest.raises(BrokerUnavailable):
        exchanges.route("nowhere", "key")
    with pytest.raises(BrokerUnavailable):
        exchanges.bind("nowhere", "key", "queue")
