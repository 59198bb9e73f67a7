"""Who sent a command: the ``user_id`` RabbitMQ validated (it refuses a message whose
``user_id`` is not the publishing connection's user) and the ``app_id`` the sender gave.

The commands actor makes the sender current while it handles a command, so every log line
and every event the command causes carries it (``user_id``, ``app_id``). A copy of a command
that leadgen itself republishes (a retry) is published by the worker's own user; it keeps the
original sender in a header that is believed only on messages the worker's user published."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import structlog

from leadgen import constants as c
from leadgen.broker.base import Delivery

# The user of a URL without one: RabbitMQ's default user.
DEFAULT_USER = "guest"


@dataclass(frozen=True)
class Sender:
    """The sending user as the broker validated it, and the application it named."""

    user_id: str | None
    app_id: str | None

    def fields(self) -> dict[str, str]:
        """The fields to add to a log line or an event: only those that are known."""
        return {
            name: value
            for name, value in (("user_id", self.user_id), ("app_id", self.app_id))
            if value
        }


_current: ContextVar[Sender | None] = ContextVar("leadgen_sender", default=None)


def url_user(amqp_url: str) -> str:
    """The user an AMQP URL connects as."""
    user = urlsplit(amqp_url).username
    return unquote(user) if user else DEFAULT_USER


def sender_of(delivery: Delivery, own_user: str) -> Sender:
    """The sender of ``delivery``; ``own_user`` is the worker's, whose retried copies carry
    the original sender in a header."""
    user_id = delivery.user_id
    if user_id is not None and user_id == own_user:
        original = delivery.headers.get(c.SENDER_HEADER)
        if isinstance(original, str):
            user_id = original or None
    return Sender(user_id=user_id, app_id=delivery.app_id)


def current() -> Sender | None:
    """The sender of the command being handled, if any."""
    return _current.get()


@contextmanager
def sent_by(sender: Sender) -> Iterator[None]:
    """Make ``sender`` current, and bind it to the log context, for the block."""
    token = _current.set(sender)
    structlog.contextvars.bind_contextvars(**sender.fields())
    try:
        yield
    finally:
        _current.reset(token)
        structlog.contextvars.unbind_contextvars("user_id", "app_id")
