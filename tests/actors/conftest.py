"""Actors on the embedded pair, driven one message at a time through real deliveries."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from leadgen import constants as c
from leadgen.actors.base import Actor
from leadgen.broker.base import Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.errors import PausedForBilling
from leadgen.ids import utcnow
from leadgen.messages.codec import encode
from leadgen.providers.offline import OfflineAuditor, OfflineLeadSource
from leadgen.store.memory import MemoryStore
from leadgen.store.models import BillingBlock, Job, JobRequest, PhaseState
from leadgen.workflow.billing import pause_for_billing
from leadgen.workflow.services import Services

WATCHED = (c.SUPERVISOR_KEY, c.COMPLETION_KEY, c.AUDIT_KEY, *(c.phase_key(p) for p in c.PHASES))


class Rig:
    """Services on the memory pair, with every internal message and event kept for reading."""

    def __init__(self, services: Services, broker: MemoryBroker) -> None:
        self.services = services
        self.broker = broker
        self.store = services.store
        self.watch = {key: broker.bind(c.INTERNAL_EXCHANGE, key) for key in WATCHED}
        self.events = broker.bind(c.EVENTS_EXCHANGE, "#")

    async def deliver(
        self, actor_type: type[Actor[Any]], message: Any, *, redelivered: bool = False
    ) -> None:
        """Hand ``message`` to a fresh actor of ``actor_type`` as a real delivery, then ack.

        ``redelivered``: the broker hands it out once, takes it back, and delivers it again,
        so the handler sees the flag exactly as after a crash."""
        actor = actor_type(self.services)
        await self.broker.publish(
            "", actor.queue, Outbound(body=encode(message), type=message.type, message_id="m1")
        )
        delivery = await self.broker.get(actor.queue, timeout=1)
        assert delivery is not None
        if redelivered:
            await delivery.requeue()
            delivery = await self.broker.get(actor.queue, timeout=1)
            assert delivery is not None and delivery.redelivered
        await actor.handle(actor.decode(delivery), delivery)
        await delivery.ack()

    def race(
        self, interloper: Callable[[], Awaitable[object]], before: str = "update_job", skip: int = 0
    ) -> None:
        """Run ``interloper`` just before a store call (by default the next job write; else the
        store method ``before`` after ``skip`` calls of it), as a competing worker would between
        a handler's read and its write."""
        store = self.store
        call = getattr(store, before)
        calls = 0

        async def intercepted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls > skip:
                setattr(store, before, call)
                await interloper()
            return await call(*args, **kwargs)

        setattr(store, before, intercepted)

    @contextmanager
    def stopped_before_publishing(self) -> Iterator[None]:
        """Inside the block every flush fails, as when the worker stops between a write and
        its publish; the block must end with that failure."""

        async def stopped(*args: object, **kwargs: object) -> None:
            raise ConnectionError("stopped before publishing")

        self.services.publisher.flush = stopped  # type: ignore[method-assign]
        try:
            with pytest.raises(ConnectionError):
                yield
        finally:
            del self.services.publisher.flush

    def sent(self, key: str) -> list[dict[str, Any]]:
        """Bodies published on the internal exchange with routing key ``key``."""
        return [json.loads(m.body) for m in self.broker.messages(self.watch[key])]

    def event_types(self) -> list[str]:
        """Types of the events published so far."""
        return [json.loads(m.body)["type"] for m in self.broker.messages(self.events)]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """A Rig on a fresh memory broker and store."""
    broker = MemoryBroker()
    await broker.connect()
    store = MemoryStore()
    await store.open()
    services = Services(
        store=store, broker=broker, lead_source=OfflineLeadSource(), auditor=OfflineAuditor()
    )
    yield Rig(services, broker)
    await broker.close()


async def pause(
    rig: Rig,
    job: Job,
    *,
    phase: str = c.GENERATE_DOSSIER,
    feature_id: str = c.DOSSIER_RESEARCH,
    required: int = 1,
    available: int = 0,
) -> None:
    """Pause ``job`` for lack of credits as its phase actor does (which then stops)."""
    with pytest.raises(PausedForBilling):
        await pause_for_billing(
            rig.services,
            job,
            phase=phase,
            feature_id=feature_id,
            required=required,
            available=available,
        )


def job_at(
    phase: str,
    *,
    status: str = "running",
    job_id: str = "job-1",
    workflow_id: str = "run-1",
    phase_status: str = "running",
) -> Job:
    """A job whose phases before ``phase`` completed and ``phase`` is in ``phase_status``."""
    now = utcnow()
    index = c.PHASES.index(phase)
    phases = [
        PhaseState(name=name, status="completed", started_at=now, finished_at=now)
        if i < index
        else PhaseState(name=name, status=phase_status, started_at=now)
        if i == index
        else PhaseState(name=name)
        for i, name in enumerate(c.PHASES)
    ]
    block = None
    if status == "paused_for_upgrade":
        block = BillingBlock(
            feature_id=c.DOSSIER_RESEARCH,
            phase=phase,
            required=2,
            available=0,
            paused_at=now,
            message="Workflow paused for billing: dossier_research needs 2 credit(s)",
        )
    return Job(
        id=job_id,
        customer_id="acme",
        status=status,
        workflow_status="paused" if block else "running",
        workflow_id=workflow_id,
        request=JobRequest(query="dentists", location="Austin, TX", max_leads=5, max_dossiers=2),
        phases=phases,
        billing_block=block,
        created_at=now,
        updated_at=now,
    )


def same_state(before: Job, after: Job | None) -> bool:
    """True when nothing but bookkeeping could have changed: the public fields are equal."""
    assert after is not None
    keep = {"version", "updated_at"}
    return before.model_dump(exclude=keep) == after.model_dump(exclude=keep)
