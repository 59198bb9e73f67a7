"""How talking to RabbitMQ fails: every wait is bounded, and library errors stop at the edge.

An outage must surface as an error, never as a hang, so each connect, RPC and publisher
confirm waits at most ``TIMEOUT`` seconds. aio-pika and aiormq errors (and those timeouts) are
turned into ``BrokerUnavailable`` by ``translated()``, so they never leak into the actors.

A mandatory message that reaches no queue is not an outage: RabbitMQ returns it (basic.return)
before confirming it, aio-pika raises ``PublishError`` on a channel opened with
``on_return_raises=True``, and ``translated()`` makes that ``UnroutableMessage``. The channel
stays open and usable."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from aio_pika.exceptions import CONNECTION_EXCEPTIONS, PublishError

from leadgen.errors import BrokerUnavailable, UnroutableMessage

# Bounds every wait on the broker (connect, RPCs, confirms) so an outage surfaces as an error.
TIMEOUT = 10.0

# What a lost connection, a closed channel or a refusal by the broker raises.
LIBRARY_ERRORS = (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError)


@contextmanager
def translated() -> Iterator[None]:
    """Turn library errors into ``BrokerUnavailable`` (or ``UnroutableMessage``) at the edge
    of the adapter."""
    try:
        yield
    except PublishError as e:
        raise UnroutableMessage(_unroutable(e)) from None
    except LIBRARY_ERRORS as e:
        raise BrokerUnavailable(_said(e)) from None


def _said(error: BaseException) -> str:
    """What went wrong, in words a user can act on."""
    text = str(error) or type(error).__name__
    if "Connection.OpenOk" in text and "Connection.Close" in text:
        # RabbitMQ answers the open of a virtual host with a close (aiormq keeps no reason).
        return "the virtual host does not exist, or this user may not use it"
    return text


def _unroutable(error: PublishError) -> str:
    """What RabbitMQ said when it returned the message, and where the message went."""
    returned = error.message.delivery if error.message is not None else None
    exchange = getattr(returned, "exchange", None) or "(default exchange)"
    routing_key = getattr(returned, "routing_key", "")
    reply = getattr(returned, "reply_text", None) or "NO_ROUTE"
    return f"{reply}: no queue for routing key {routing_key!r} on exchange {exchange}"
