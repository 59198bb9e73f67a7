"""Commands as another service publishes them (contract section 2): JSON bodies with a
``type`` on the topic exchange ``leadgen.commands``, persistent, confirmed by the broker, with
or without ``message_id``; and the hostile ones leadgen must dead-letter without crashing."""

import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from chaos.scenario import Grant, JobSpec

EXCHANGE = "leadgen.commands"
HOSTILE_PREFIX = "chaos-hostile-"


def start_body(job: JobSpec) -> dict[str, Any]:
    """The ``leadgen.start.v1`` body of ``job``."""
    body: dict[str, Any] = {
        "type": "leadgen.start.v1",
        "customer_id": job.customer_id,
        "query": job.query,
        "location": job.location,
        "max_leads": job.max_leads,
        "max_dossiers": job.max_dossiers,
    }
    if job.job_id is not None:
        body["job_id"] = job.job_id
    return body


def grant_body(grant: Grant) -> dict[str, Any]:
    """The ``leadgen.credits.grant.v1`` body of ``grant``."""
    return {
        "type": "leadgen.credits.grant.v1",
        "customer_id": grant.customer_id,
        "feature_id": grant.feature_id,
        "amount": grant.amount,
        "grant_id": grant.grant_id,
        "auto_resume": grant.auto_resume,
    }


def resume_body(job_id: str, customer_id: str) -> dict[str, Any]:
    """The ``leadgen.resume.v1`` body for a job."""
    return {"type": "leadgen.resume.v1", "job_id": job_id, "customer_id": customer_id}


# (routing key, body): each must end up in leadgen.dead, none may stop a worker.
HOSTILE: tuple[tuple[str, bytes], ...] = (
    ("leadgen.start", b"{this is not json"),
    ("leadgen.start", b"\xff\xfe\x00 not utf-8"),
    ("leadgen.start", json.dumps({"type": "leadgen.explode.v1", "customer_id": "x"}).encode()),
    ("leadgen.start", json.dumps({"type": "leadgen.start.v1", "query": "no customer"}).encode()),
    (
        "leadgen.credits.grant",
        json.dumps(
            {
                "type": "leadgen.credits.grant.v1",
                "customer_id": "customer-0",
                "feature_id": "dossier_research",
                "amount": "1000",
                "grant_id": "hostile-string-amount",
            }
        ).encode(),
    ),
    ("leadgen.resume", json.dumps({"type": "leadgen.start.v1", "customer_id": "c"}).encode()),
    ("leadgen.start", b"[1, 2, 3]"),
    ("leadgen.cancel", json.dumps({"type": "leadgen.cancel.v1", "job_id": 42}).encode()),
)


class Publisher:
    """One confirmed channel to ``leadgen.commands``, on a connection of the harness's own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def connect(self) -> None:
        """Connect; the exchange must exist already (the workers declare it)."""
        self._connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": "leadgen-chaos-publisher"}
        )
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.get_exchange(EXCHANGE, ensure=True)

    async def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()

    async def send(self, routing_key: str, body: bytes, message_id: str | None) -> None:
        """Publish one persistent JSON message and wait for the broker's confirm."""
        if self._exchange is None:
            raise RuntimeError("Publisher.connect() first")
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
        )
        await self._exchange.publish(message, routing_key=routing_key, timeout=15)

    async def command(self, routing_key: str, body: dict[str, Any], message_id: str | None) -> None:
        """Publish one well-formed command."""
        await self.send(routing_key, json.dumps(body).encode(), message_id)

    async def start(self, job: JobSpec) -> None:
        """Publish the start of ``job``."""
        await self.command("leadgen.start", start_body(job), job.message_id)

    async def grant(self, grant: Grant) -> None:
        """Publish a credit grant."""
        await self.command("leadgen.credits.grant", grant_body(grant), grant.message_id)

    async def hostile(self, number: int) -> str:
        """Publish hostile command ``number`` (cycling through HOSTILE); its message id."""
        routing_key, body = HOSTILE[number % len(HOSTILE)]
        message_id = f"{HOSTILE_PREFIX}{number}"
        await self.send(routing_key, body, message_id)
        return message_id
