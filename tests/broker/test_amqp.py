"""What only the RabbitMQ broker has: durable topology, connection names, persistence, healing."""

import asyncio
import os
import socket
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aio_pika
import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Delivery, Outbound
from leadgen.broker.topology import EXCHANGES, QUEUES
from leadgen.errors import BrokerUnavailable, UnroutableMessage
from tests.broker.support import republished
from tests.support.servers import free_port, management

WAIT = 10.0


def vhost_of(amqp_url: str) -> str:
    """The URL-encoded virtual host of ``amqp_url``, as the management API wants it."""
    return quote(urlsplit(amqp_url).path.lstrip("/"), safe="")


async def api(method: str, path: str, body: object | None = None) -> Any:
    """Call the management API without blocking the event loop (heartbeats keep flowing)."""
    return await asyncio.to_thread(management, method, path, body)


async def connection_named(name: str, timeout: float) -> dict[str, Any] | None:
    """The management API's view of the connection called ``name``, polled (stats lag)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for connection in await api("GET", "/connections"):
            if connection.get("client_properties", {}).get("connection_name") == name:
                return dict(connection)
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(0.2)


def message(message_id: str = "m-1") -> Outbound:
    """A small command-like message."""
    return Outbound(body=b"{}", type="test.v1", message_id=message_id)


async def test_queues_are_durable_and_dead_lettered_to_the_dlx(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """Every topology queue is durable; all but leadgen.dead dead-letter to leadgen.dlx."""
    declared = {q["name"]: q for q in await api("GET", f"/queues/{vhost_of(amqp_url)}")}

    for spec in QUEUES:
        queue = declared[spec.name]
        assert queue["durable"] is True, spec.name
        expected = {"x-dead-letter-exchange": c.DEAD_LETTER_EXCHANGE} if spec.dead_letter else {}
        assert queue["arguments"] == expected, spec.name
    assert declared[c.DEAD_LETTER_QUEUE]["arguments"] == {}


async def test_exchanges_are_durable_with_their_types_and_bindings(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """The four exchanges are durable with their types, and every topology binding exists."""
    vhost = vhost_of(amqp_url)
    declared = {e["name"]: e for e in await api("GET", f"/exchanges/{vhost}")}
    for exchange in EXCHANGES:
        assert declared[exchange.name]["type"] == exchange.type
        assert declared[exchange.name]["durable"] is True

    bindings = {
        (b["source"], b["routing_key"], b["destination"])
        for b in await api("GET", f"/bindings/{vhost}")
        if b["destination_type"] == "queue"
    }
    for spec in QUEUES:
        for exchange_name, routing_key in spec.bindings:
            assert (exchange_name, routing_key, spec.name) in bindings


async def test_connection_name_is_shown_by_the_management_api(amqp_url: str) -> None:
    """The connection carries its name, so operators can tell workers apart."""
    name = f"leadgen-test-{uuid.uuid4().hex[:8]}"
    broker = AmqpBroker(amqp_url, connection_name=name)
    await broker.connect()
    try:
        connection = await connection_named(name, timeout=WAIT)
        assert connection is not None, "connection never listed"
        assert connection["vhost"] == urlsplit(amqp_url).path.lstrip("/")
    finally:
        await broker.close()


def test_default_connection_name_names_host_and_process() -> None:
    """Without a name the connection is called leadgen@HOST:PID."""
    broker = AmqpBroker("amqp://guest:guest@127.0.0.1/")
    assert broker.connection_name == f"leadgen@{socket.gethostname()}:{os.getpid()}"


async def test_published_message_is_persistent_with_leadgen_properties(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """A published message has delivery_mode 2, a JSON content type, app_id and a timestamp."""
    await amqp_broker.publish("", c.AUDIT_QUEUE, message("persisted"))

    peek = await api(
        "POST",
        f"/queues/{vhost_of(amqp_url)}/{quote(c.AUDIT_QUEUE, safe='')}/get",
        {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"},
    )
    properties = peek[0]["properties"]
    assert properties["delivery_mode"] == 2
    assert properties["content_type"] == "application/json"
    assert properties["app_id"] == c.APP_ID
    assert properties["timestamp"] > 0

    delivery = await amqp_broker.get(c.AUDIT_QUEUE, timeout=WAIT)
    assert delivery is not None
    assert delivery.persistent is True
    await delivery.ack()


async def test_connect_to_a_closed_port_raises_broker_unavailable() -> None:
    """The first connection fails fast with BrokerUnavailable instead of retrying forever."""
    broker = AmqpBroker(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(broker.connect(), timeout=WAIT)
    assert await broker.is_ready() is False


async def test_consumer_heals_after_the_connection_is_killed(amqp_url: str) -> None:
    """After the server drops the connection, consumers come back and get the lost delivery."""
    name = f"leadgen-test-{uuid.uuid4().hex[:8]}"
    broker = AmqpBroker(amqp_url, connection_name=name)
    await broker.connect()
    try:
        deliveries: asyncio.Queue[Delivery] = asyncio.Queue()
        await broker.consume(c.SUPERVISOR_QUEUE, deliveries.put, prefetch=1)
        await broker.publish(c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, message("in-flight"))
        first = await asyncio.wait_for(deliveries.get(), WAIT)
        assert first.redelivered is False

        connection = await connection_named(name, timeout=WAIT)
        assert connection is not None, "connection never listed"
        await api("DELETE", f"/connections/{quote(connection['name'], safe='')}")
        # The server answers before this client has read the close: an ack sent in between
        # goes into the dying socket unnoticed, as AMQP acks are not confirmed.
        for _ in range(int(WAIT * 100)):
            if not await broker.is_ready():
                break
            await asyncio.sleep(0.01)
        with pytest.raises(BrokerUnavailable):
            await first.ack()  # its channel died with the connection

        # aio-pika reconnects after its reconnect interval (5 s) and restores the consumer.
        again = await asyncio.wait_for(deliveries.get(), 30)
        assert (again.message_id, again.redelivered) == ("in-flight", True)
        await again.ack()
        assert await broker.is_ready() is True
    finally:
        await broker.close()


async def test_lost_connection_is_one_warning_and_its_recovery_one_info(amqp_url: str) -> None:
    """A connection the server drops is logged once as broker_connection_lost (warning, with
    the reason) and once as broker_reconnected when it is back, unroutable publishes still
    raise, and close() logs neither."""
    name = f"leadgen-test-{uuid.uuid4().hex[:8]}"
    broker = AmqpBroker(amqp_url, connection_name=name)
    await broker.connect()
    with capture_logs() as logs:
        try:
            await broker.consume(c.SUPERVISOR_QUEUE, asyncio.Queue[Delivery]().put, prefetch=1)
            connection = await connection_named(name, timeout=WAIT)
            assert connection is not None, "connection never listed"
            await api("DELETE", f"/connections/{quote(connection['name'], safe='')}")

            # aio-pika reconnects after its reconnect interval (5 s).
            for _ in range(600):
                if any(entry["event"] == "broker_reconnected" for entry in logs):
                    break
                await asyncio.sleep(0.05)
            # The reopened publishing channel still turns a returned message into an error.
            with pytest.raises(UnroutableMessage):
                await broker.publish(c.INTERNAL_EXCHANGE, "phase.nowhere", message("lost"))
        finally:
            await broker.close()

    events = [(entry["event"], entry["log_level"]) for entry in logs]
    assert events == [("broker_connection_lost", "warning"), ("broker_reconnected", "info")]
    assert "CONNECTION_FORCED" in logs[0]["reason"]
    assert logs[0]["connection_name"] == logs[1]["connection_name"] == name


async def test_headers_rabbitmq_adds_when_dead_lettering_publish_again_unchanged(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """A message RabbitMQ dead-lettered itself carries x-death, and its headers publish again."""
    await amqp_broker.publish("", c.AUDIT_QUEUE, message("rejected"))
    # leadgen never rejects without requeue (worker/runner.py publishes to leadgen.dlx), so a
    # plain client does, and RabbitMQ routes the message to leadgen.dlx with x-death added.
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(c.AUDIT_QUEUE, passive=True)
        incoming = await queue.get(timeout=WAIT)
        await incoming.reject(requeue=False)

    dead = await amqp_broker.get(c.DEAD_LETTER_QUEUE, timeout=WAIT)
    assert dead is not None
    deaths = dead.headers["x-death"]
    assert isinstance(deaths, list) and isinstance(deaths[0], dict)
    assert (deaths[0]["queue"], deaths[0]["reason"]) == (c.AUDIT_QUEUE, "rejected")
    assert isinstance(deaths[0]["time"], datetime)

    await amqp_broker.publish("", c.AUDIT_QUEUE, republished(dead))
    await dead.ack()
    again = await amqp_broker.get(c.AUDIT_QUEUE, timeout=WAIT)
    assert again is not None
    assert dict(again.headers) == dict(dead.headers)
    await again.ack()
