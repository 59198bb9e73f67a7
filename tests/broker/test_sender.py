"""Who sent a command, as leadgen believes it: the broker-validated user_id, and for a copy
leadgen republished under its own user, the original sender that copy carries."""

from dataclasses import dataclass, field
from typing import Any

from leadgen import constants as c
from leadgen.broker.sender import Sender, sender_of, url_user
from leadgen.worker.runner import _copy


@dataclass
class FakeDelivery:
    """The properties ``sender_of`` and ``_copy`` read from a delivery."""

    user_id: str | None
    headers: dict[str, Any] = field(default_factory=dict)
    app_id: str | None = "crm"
    body: bytes = b"{}"
    type: str | None = "leadgen.credits.grant.v1"
    message_id: str | None = "m-1"
    correlation_id: str | None = "m-1"
    routing_key: str = c.GRANT_KEY
    exchange: str = c.COMMANDS_EXCHANGE
    timestamp: None = None
    content_type: str | None = "application/json"


def test_the_validated_user_is_the_sender() -> None:
    """A message from any user but the worker's own is from that user, whatever its headers
    claim: the header is believed only on the worker's own copies."""
    forged = FakeDelivery("mallory", {c.SENDER_HEADER: "billing"})
    assert sender_of(forged, own_user="leadgen-worker") == Sender("mallory", "crm")  # type: ignore[arg-type]
    copy = FakeDelivery("leadgen-worker", {c.SENDER_HEADER: "billing"})
    assert sender_of(copy, own_user="leadgen-worker").user_id == "billing"  # type: ignore[arg-type]
    own = FakeDelivery("leadgen-worker")
    assert sender_of(own, own_user="leadgen-worker").user_id == "leadgen-worker"  # type: ignore[arg-type]


def test_a_copy_is_published_by_the_worker_and_keeps_its_sender() -> None:
    """A retried or dead-lettered copy goes out under the worker's user (RabbitMQ would refuse
    another) and carries the original sender, so a retried grant is still the billing user's."""
    original = FakeDelivery("billing")
    copy = _copy(original, {c.ATTEMPTS_HEADER: 2}, "leadgen-worker")  # type: ignore[arg-type]
    assert copy.user_id == "leadgen-worker"
    assert copy.headers[c.SENDER_HEADER] == "billing"
    redelivered = FakeDelivery(copy.user_id, dict(copy.headers))
    assert sender_of(redelivered, own_user="leadgen-worker").user_id == "billing"  # type: ignore[arg-type]


def test_the_user_of_a_url() -> None:
    """The user an AMQP URL logs in as, percent-decoded; RabbitMQ's guest without one."""
    assert url_user("amqp://bill%40ing:pw@host/vh") == "bill@ing"
    assert url_user("amqp://host/") == "guest"
