"""The backend pairs end-to-end tests run on: the embedded default and the real services."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from leadgen.broker.base import Broker
from leadgen.store.base import Store
from tests.support.servers import database_name


@dataclass
class Backends:
    """A store and a broker for the worker, and the broker other services publish through."""

    store: Store
    broker: Broker
    client: Broker


async def make_backends(request: pytest.FixtureRequest) -> AsyncIterator[Backends]:
    """Embedded: the in-process pair. Real: MongoDB-compatible server and RabbitMQ."""
    if request.param == "embedded":
        from leadgen.broker.memory import MemoryBroker
        from leadgen.store.memory import MemoryStore

        broker = MemoryBroker()
        yield Backends(MemoryStore(), broker, broker)
        return
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.store.mongo import MongoStore

    mongodb_url = request.getfixturevalue("mongodb_url")
    amqp_url = request.getfixturevalue("amqp_url")
    name = database_name()
    yield Backends(MongoStore(mongodb_url, name), AmqpBroker(amqp_url), AmqpBroker(amqp_url))
    cleanup = MongoStore(mongodb_url, name)
    await cleanup.open()
    await cleanup.drop()
    await cleanup.close()
