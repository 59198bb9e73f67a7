"""The real backends as configured: RabbitMQ and MongoDB, for the worker and the CLI alike."""

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from leadgen.settings import Settings

if TYPE_CHECKING:
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.store.mongo import MongoStore


def connection_name(role: str) -> str:
    """How this process shows up in the RabbitMQ management UI: ``leadgen-ROLE@HOST:PID``."""
    return f"leadgen-{role}@{socket.gethostname()}:{os.getpid()}"


def amqp_broker(settings: Settings, role: str, *, declare: bool = True) -> "AmqpBroker":
    """A RabbitMQ broker declaring the configured queue type (not connected yet), or nothing
    when not ``declare``."""
    from leadgen.broker.amqp import AmqpBroker

    return AmqpBroker(
        settings.amqp_url,
        connection_name=connection_name(role),
        queue_type=settings.queue_type,
        delivery_limit=settings.delivery_limit,
        declare=declare,
    )


def mongo_store(settings: Settings) -> "MongoStore":
    """The configured MongoDB store (not opened yet)."""
    from leadgen.store.mongo import MongoStore

    return MongoStore(
        settings.mongodb_url,
        settings.mongodb_db,
        operation_timeout_ms=int(settings.store_timeout_seconds * 1000),
    )


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator["MongoStore"]:
    """The configured MongoDB store, open for the duration of the block."""
    store = mongo_store(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def connected_broker(
    settings: Settings, role: str, *, declare: bool = True
) -> AsyncIterator["AmqpBroker"]:
    """The configured RabbitMQ broker (``amqp_broker``), connected for the duration of the
    block."""
    broker = amqp_broker(settings, role, declare=declare)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()
