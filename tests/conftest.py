"""Fixtures in pairs: the embedded default (memory) and the real services (network)."""

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import structlog

from leadgen.log import configure_logging
from tests.support.backends import Backends, make_backends
from tests.support.servers import database_name, mongodb_server, rabbitmq_vhost

if TYPE_CHECKING:
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.broker.base import Broker
    from leadgen.broker.memory import MemoryBroker
    from leadgen.store.base import Store
    from leadgen.store.memory import MemoryStore
    from leadgen.store.mongo import MongoStore


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging("json", "debug")


@pytest.fixture(autouse=True)
def _clear_log_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """URL of the session's MongoDB-compatible server."""
    with mongodb_server() as url:
        yield url


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """URL of a RabbitMQ virtual host of this test's own."""
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
async def mongo_store(mongodb_url: str) -> AsyncIterator["MongoStore"]:
    """A MongoStore on a database of this test's own, dropped afterwards."""
    from leadgen.store.mongo import MongoStore

    store = MongoStore(mongodb_url, database_name())
    await store.open()
    try:
        yield store
    finally:
        await store.drop()
        await store.close()


@pytest.fixture
async def memory_store() -> AsyncIterator["MemoryStore"]:
    """A fresh MemoryStore."""
    from leadgen.store.memory import MemoryStore

    store = MemoryStore()
    await store.open()
    yield store
    await store.close()


@pytest.fixture(params=["memory", "mongo"])
def store(request: pytest.FixtureRequest) -> "Store":
    """Each store implementation in turn, for the contract tests."""
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


@pytest.fixture
async def amqp_broker(amqp_url: str) -> AsyncIterator["AmqpBroker"]:
    """An AmqpBroker connected to this test's virtual host."""
    from leadgen.broker.amqp import AmqpBroker

    broker = AmqpBroker(amqp_url)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


@pytest.fixture
async def memory_broker() -> AsyncIterator["MemoryBroker"]:
    """A fresh MemoryBroker."""
    from leadgen.broker.memory import MemoryBroker

    broker = MemoryBroker()
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


@pytest.fixture(params=["memory", "amqp"])
def broker(request: pytest.FixtureRequest) -> "Broker":
    """Each broker implementation in turn, for the contract tests."""
    return request.getfixturevalue(f"{request.param}_broker")  # type: ignore[no-any-return]


@pytest.fixture(params=["embedded", "real"])
async def backends(request: pytest.FixtureRequest) -> AsyncIterator[Backends]:
    """Each backend pair in turn, fresh and not yet connected, for end-to-end tests."""
    async for pair in make_backends(request):
        yield pair
