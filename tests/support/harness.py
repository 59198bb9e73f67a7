"""A running leadgen for end-to-end tests: a worker (the production entry point) on either
backend pair, and a client that publishes commands to ``leadgen.commands`` as another
service would, with JSON bodies written by hand."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from leadgen import constants as c
from leadgen.broker.base import Broker, Outbound
from leadgen.providers.base import Auditor, LeadSource
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.store.models import Job
from leadgen.worker.process import Worker


class Harness:
    """A worker plus a client connection, and ways to wait for the job to get somewhere."""

    def __init__(self, worker: Worker, client: Broker) -> None:
        self.worker = worker
        self.client = client
        self.store: Store = worker.services.store

    async def command(
        self, routing_key: str, body: dict[str, Any] | bytes, *, message_id: str | None = None
    ) -> str:
        """Publish a command; its message id."""
        message_id = message_id or uuid.uuid4().hex
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.client.publish(
            c.COMMANDS_EXCHANGE,
            routing_key,
            Outbound(body=raw, type="", message_id=message_id, correlation_id=f"corr-{message_id}"),
        )
        return message_id

    async def start(self, customer: str, job_id: str, **request: Any) -> None:
        """Start a job."""
        await self.command(
            c.START_KEY,
            {
                "type": "leadgen.start.v1",
                "customer_id": customer,
                "job_id": job_id,
                "query": request.pop("query", "dentists"),
                "location": request.pop("location", "Austin, TX"),
                **request,
            },
        )

    async def grant(
        self, customer: str, feature: str, amount: int, *, auto_resume: bool = True
    ) -> None:
        """Top up credits and wait until the balance shows it."""
        before = (await self.store.balances(customer)).get(feature, 0)
        await self.command(
            c.GRANT_KEY,
            {
                "type": "leadgen.credits.grant.v1",
                "customer_id": customer,
                "feature_id": feature,
                "amount": amount,
                "grant_id": uuid.uuid4().hex,
                "auto_resume": auto_resume,
            },
        )
        await self.until(lambda: self._balance_reached(customer, feature, before + amount))

    async def _balance_reached(self, customer: str, feature: str, amount: int) -> bool:
        return (await self.store.balances(customer)).get(feature, 0) >= amount

    async def resume(self, customer: str, job_id: str) -> None:
        """Publish a resume."""
        await self.command(
            c.RESUME_KEY, {"type": "leadgen.resume.v1", "customer_id": customer, "job_id": job_id}
        )

    async def job_until(
        self, job_id: str, check: Callable[[Job], bool], timeout: float = 60
    ) -> Job:
        """Wait until the job satisfies ``check``; the job."""
        found: list[Job] = []

        async def reached() -> bool:
            job = await self.store.get_job(job_id)
            if job is not None and check(job):
                found.append(job)
                return True
            return False

        await self.until(reached, timeout)
        return found[0]

    async def until(self, condition: Callable[[], Any], timeout: float = 60) -> None:
        """Poll ``condition`` (sync or async) until it is true; TimeoutError otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(
    store: Store,
    broker: Broker,
    client: Broker,
    *,
    lead_source: LeadSource | None = None,
    auditor: Auditor | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """A started worker on ``store``/``broker`` and a connected ``client``; stopped after."""
    worker = Worker(
        Settings(**{"audit_concurrency": 3, "max_attempts": 3, **settings}),
        store=store,
        broker=broker,
        lead_source=lead_source,
        auditor=auditor,
    )
    await worker.start()
    if client is not broker:
        await client.connect()
    try:
        yield Harness(worker, client)
    finally:
        if client is not broker:
            await client.close()
        await worker.stop(grace=5)
