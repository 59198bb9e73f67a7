"""How talking to RabbitMQ fails: every wait is bounded, and library errors stop at the edge.

An outage must surface as an error, never as a hang, so each connect, RPC and publisher
confirm waits at most ``TIMEOUT`` seconds. aio-pika and aiormq errors (and those timeouts) are
turned into ``BrokerUnavailable`` by ``translated()``, so they never leak into the actors."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from leadgen.errors import BrokerUnavailable

# Bounds every wait on the broker (connect, RPCs, confirms) so an outage surfaces as an error.
TIMEOUT = 10.0

# What a lost connection, a closed channel or a refusal by the broker raises.
LIBRARY_ERRORS = (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError)


@contextmanager
def translated() -> Iterator[None]:
    """Turn library errors into ``BrokerUnavailable`` at the edge of the adapter."""
    try:
        yield
    except LIBRARY_ERRORS as e:
        raise BrokerUnavailable(str(e) or type(e).__name__) from None
