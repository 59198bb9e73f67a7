"""What operators see in the RabbitMQ management API while a worker runs on the real services:
the public topology, a consumer on every actor queue, named connections, and messages that
carry their ids, type, origin and the correlation id of the command that caused them."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import pytest

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.topology import QUEUES
from leadgen.errors import BrokerUnavailable
from leadgen.settings import Settings
from leadgen.worker.backends import amqp_broker, connection_name
from leadgen.worker.process import ACTORS
from tests.support.backends import Backends
from tests.support.harness import Harness, running
from tests.support.servers import management

WAIT = 20.0
ACTOR_QUEUES = sorted({actor.queue for actor in ACTORS})
LEADGEN_PROPERTIES = ("message_id", "correlation_id", "type", "app_id", "timestamp")

T = TypeVar("T")
real = pytest.mark.parametrize("backends", ["real"], indirect=True)


async def api(method: str, path: str, body: object | None = None) -> Any:
    """Call the management API off the event loop, so heartbeats keep flowing."""
    return await asyncio.to_thread(management, method, path, body)


def vhost_of(backends: Backends) -> str:
    """The URL-encoded virtual host of the test's broker, as the management API wants it."""
    broker = backends.broker
    assert isinstance(broker, AmqpBroker)
    return quote(urlsplit(broker.url).path.lstrip("/"), safe="")


def entity(kind: str, vhost: str, name: str) -> str:
    """The management API path of exchange or queue ``name``."""
    return f"/{kind}/{vhost}/{quote(name, safe='')}"


async def eventually(fetch: Callable[[], Awaitable[T]], check: Callable[[T], bool]) -> T:
    """Poll ``fetch`` until ``check`` accepts what it returns (the API's statistics lag)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        value = await fetch()
        if check(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.25)


async def watch_everything(vhost: str) -> str:
    """A queue of the test's own that gets a copy of every event and internal message."""
    name = f"watch-{uuid.uuid4().hex[:8]}"
    await api("PUT", entity("queues", vhost, name), {"durable": False, "auto_delete": False})
    keys = [(c.EVENTS_EXCHANGE, "#")] + [
        binding for spec in QUEUES for binding in spec.bindings if binding[0] == c.INTERNAL_EXCHANGE
    ]
    for exchange, key in keys:
        path = f"/bindings/{vhost}/e/{quote(exchange, safe='')}/q/{name}"
        await api("POST", path, {"routing_key": key})
    return name


async def take_until(
    vhost: str, queue: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The messages of ``queue``, taken from it until ``done`` accepts those taken so far."""
    body = {"count": 1000, "ackmode": "ack_requeue_false", "encoding": "auto"}
    taken: list[dict[str, Any]] = []

    async def more() -> list[dict[str, Any]]:
        taken.extend(await api("POST", entity("queues", vhost, queue) + "/get", body))
        return taken

    return await eventually(more, done)


def announced(routing_key: str) -> Callable[[list[dict[str, Any]]], bool]:
    """Whether the event ``routing_key`` is among the messages."""
    return lambda messages: any(m["routing_key"] == routing_key for m in messages)


def run_of(message: dict[str, Any]) -> str:
    """The workflow run a message belongs to, from its body."""
    return str(json.loads(message["payload"])["workflow_id"])


@real
async def test_public_exchanges_and_dead_letter_queue_are_durable_with_their_arguments(
    backends: Backends,
) -> None:
    """leadgen.commands and leadgen.events are durable topics, leadgen.dlx a durable fanout
    into the durable leadgen.dead, and every actor queue dead-letters to leadgen.dlx."""
    vhost = vhost_of(backends)
    async with running(backends.store, backends.broker, backends.client):
        exchanges = {
            name: await api("GET", entity("exchanges", vhost, name))
            for name in (c.COMMANDS_EXCHANGE, c.EVENTS_EXCHANGE, c.DEAD_LETTER_EXCHANGE)
        }
        dead = await api("GET", entity("queues", vhost, c.DEAD_LETTER_QUEUE))
        actor_queues = [await api("GET", entity("queues", vhost, q)) for q in ACTOR_QUEUES]
        dead_bindings = await api("GET", entity("queues", vhost, c.DEAD_LETTER_QUEUE) + "/bindings")

    kinds = {name: (e["type"], e["durable"], e["auto_delete"]) for name, e in exchanges.items()}
    assert kinds == {
        c.COMMANDS_EXCHANGE: ("topic", True, False),
        c.EVENTS_EXCHANGE: ("topic", True, False),
        c.DEAD_LETTER_EXCHANGE: ("fanout", True, False),
    }
    assert (dead["durable"], dead["auto_delete"], dead["arguments"]) == (True, False, {})
    assert any(b["source"] == c.DEAD_LETTER_EXCHANGE for b in dead_bindings)
    for queue in actor_queues:
        assert queue["durable"] is True, queue["name"]
        assert queue["arguments"] == {"x-dead-letter-exchange": c.DEAD_LETTER_EXCHANGE}


@real
async def test_every_actor_queue_has_a_consumer_on_the_named_worker_connection(
    backends: Backends,
) -> None:
    """Each actor queue shows a consumer, and the worker's connection shows its name."""
    vhost = vhost_of(backends)
    assert isinstance(backends.broker, AmqpBroker)
    backends.broker.connection_name = connection_name("worker")
    async with running(backends.store, backends.broker, backends.client):
        queues = await eventually(
            lambda: api("GET", f"/queues/{vhost}"),
            lambda found: all(
                q.get("consumers", 0) >= 1 for q in found if q["name"] in ACTOR_QUEUES
            ),
        )
        connections = await eventually(
            lambda: api("GET", "/connections"),
            lambda found: any(_named(conn, vhost) == connection_name("worker") for conn in found),
        )

    consumers = {q["name"]: q.get("consumers", 0) for q in queues if q["name"] in ACTOR_QUEUES}
    assert sorted(consumers) == ACTOR_QUEUES
    assert all(count >= 1 for count in consumers.values()), consumers
    names = {_named(conn, vhost) for conn in connections}
    assert connection_name("worker") in names
    assert connection_name("worker").startswith("leadgen-worker@")


@real
async def test_messages_carry_leadgen_properties_and_the_causing_command_correlation(
    backends: Backends,
) -> None:
    """Every event, command answer and internal message has its own id, type, app_id,
    timestamp, JSON content type and persistence, and the correlation id of the command that
    caused its run (an answer: of the command it answers)."""
    vhost = vhost_of(backends)
    async with running(backends.store, backends.broker, backends.client) as harness:
        watch = await watch_everything(vhost)
        start_id = await harness.command(c.START_KEY, _start_body("job-trace"))
        paused = await harness.job_until(
            "job-trace", lambda job: job.status == "paused_for_upgrade" and job.run_ended
        )
        resumed_run = await _resume_after_top_up(harness, "job-trace")
        messages = await take_until(vhost, watch, announced("job.completed"))

    assert {m["properties"].get("type") for m in messages} >= {
        "leadgen.phase_task",
        "leadgen.audit_task",
        "leadgen.phase_outcome",
        "leadgen.workflow_completed",
        "leadgen.job.started.v1",
        "leadgen.job.paused.v1",
        "leadgen.job.resumed.v1",
        "leadgen.job.completed.v1",
    }
    assert len({m["properties"]["message_id"] for m in messages}) == len(messages)
    for message in messages:
        properties = message["properties"]
        assert all(properties.get(name) for name in LEADGEN_PROPERTIES), properties
        assert properties["app_id"] == c.APP_ID
        assert properties["content_type"] == "application/json"
        assert properties["delivery_mode"] == 2
        assert properties["type"] == json.loads(message["payload"])["type"]
    answers = [m for m in messages if m["routing_key"].startswith("command.")]
    assert {json.loads(m["payload"])["message_id"] for m in answers} >= {start_id}
    for answer in answers:
        command = json.loads(answer["payload"])["message_id"]
        assert answer["properties"]["correlation_id"] == f"corr-{command}", answer
    messages = [m for m in messages if m not in answers]
    expected = {paused.workflow_id: f"corr-{start_id}", resumed_run[0]: f"corr-{resumed_run[1]}"}
    assert {run_of(m) for m in messages} == set(expected)
    for message in messages:
        assert message["properties"]["correlation_id"] == expected[run_of(message)], message
    events = [m for m in messages if m["exchange"] == c.EVENTS_EXCHANGE]
    assert {m["routing_key"] for m in events} >= {"job.started", "job.paused", "job.completed"}
    for event in events:
        assert json.loads(event["payload"])["correlation_id"] == expected[run_of(event)]


@real
async def test_quorum_worker_declares_quorum_queues_with_the_delivery_limit(
    backends: Backends,
) -> None:
    """With queue_type quorum the queues are quorum, limited, dead-lettered at least once, and
    leadgen.dead is quorum without a DLX; a job runs to completion on them."""
    vhost = vhost_of(backends)
    assert isinstance(backends.broker, AmqpBroker)
    url = backends.broker.url
    worker = AmqpBroker(
        url, connection_name=connection_name("worker"), queue_type="quorum", delivery_limit=7
    )
    client = AmqpBroker(url, queue_type="quorum", delivery_limit=7)
    async with running(backends.store, worker, client, queue_type="quorum") as harness:
        await harness.grant("cus-q", c.LEAD_DISCOVERY, 1)
        await harness.grant("cus-q", c.DOSSIER_RESEARCH, 2)
        await harness.start("cus-q", "job-quorum", max_leads=4, max_dossiers=2)
        done = await harness.job_until("job-quorum", lambda job: job.status != "running")
        queues = {q["name"]: q for q in await api("GET", f"/queues/{vhost}")}

    assert done.status == "completed"
    for name in ACTOR_QUEUES:
        assert queues[name]["type"] == "quorum", name
        assert queues[name]["arguments"] == {
            "x-queue-type": "quorum",
            "x-delivery-limit": 7,
            "x-dead-letter-exchange": c.DEAD_LETTER_EXCHANGE,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    dead = queues[c.DEAD_LETTER_QUEUE]
    assert dead["type"] == "quorum"
    assert "x-dead-letter-exchange" not in dead["arguments"]


async def test_classic_queues_cannot_be_declared_quorum_and_the_error_says_why(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """Connecting with queue_type quorum to classic queues fails with a BrokerUnavailable that
    names the setting and the way out, and leaves nothing open."""
    quorum = AmqpBroker(amqp_url, queue_type="quorum")

    with pytest.raises(BrokerUnavailable) as refused:
        await quorum.connect()

    message = str(refused.value)
    assert "LEADGEN_QUEUE_TYPE=quorum" in message
    assert "new virtual host" in message
    assert "PRECONDITION_FAILED" in message
    assert await quorum.is_ready() is False


def test_real_backends_wire_the_queue_type_and_the_worker_name() -> None:
    """The worker's broker gets the configured queue type, delivery limit and its name."""
    settings = Settings(queue_type="quorum", delivery_limit=9)

    broker = amqp_broker(settings, "worker")

    assert isinstance(broker, AmqpBroker)
    assert (broker.queue_type, broker.delivery_limit) == ("quorum", 9)
    assert broker.connection_name == connection_name("worker")


async def _resume_after_top_up(harness: Harness, job_id: str) -> tuple[str, str]:
    """Top up without auto-resume, send a resume; the new run's id and the resume's id."""
    await harness.grant("cus-trace", c.LEAD_DISCOVERY, 1, auto_resume=False)
    await harness.grant("cus-trace", c.DOSSIER_RESEARCH, 2, auto_resume=False)
    resume_id = await harness.command(
        c.RESUME_KEY, {"type": "leadgen.resume.v1", "customer_id": "cus-trace", "job_id": job_id}
    )
    job = await harness.job_until(job_id, lambda job: job.runs == 2)
    return job.workflow_id, resume_id


def _start_body(job_id: str) -> dict[str, Any]:
    return {
        "type": "leadgen.start.v1",
        "customer_id": "cus-trace",
        "job_id": job_id,
        "query": "dentists",
        "location": "Austin, TX",
        "max_leads": 4,
        "max_dossiers": 2,
    }


def _named(connection: dict[str, Any], vhost: str) -> str | None:
    """The client-given name of ``connection`` if it is on ``vhost``."""
    if quote(connection.get("vhost", ""), safe="") != vhost:
        return None
    name = connection.get("client_properties", {}).get("connection_name")
    return str(name) if name is not None else None
