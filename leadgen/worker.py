"""A worker process: every actor, consuming from one broker and writing to one store.

``leadgen worker`` runs it on RabbitMQ and MongoDB; ``leadgen run`` runs the very same
worker on the in-process broker and store. Several workers compete for the same queues."""

import asyncio
import contextlib
import os
import signal
import socket
from typing import Any

from leadgen.actors.base import Actor
from leadgen.actors.commands import CommandsActor
from leadgen.actors.completion import CompletionActor
from leadgen.actors.enrich import EnrichActor
from leadgen.actors.finalize import FinalizeActor
from leadgen.actors.generate_dossier import AuditActor, GenerateDossierActor
from leadgen.actors.queue_audits import QueueAuditsActor
from leadgen.actors.score import ScoreActor
from leadgen.actors.source import SourceActor
from leadgen.actors.supervisor import Supervisor
from leadgen.broker.base import Broker
from leadgen.log import log
from leadgen.providers import auditor as make_auditor
from leadgen.providers import lead_source as make_lead_source
from leadgen.providers.base import Auditor, LeadSource
from leadgen.runtime import Runner
from leadgen.services import Services
from leadgen.settings import Settings
from leadgen.store.base import Store

ACTORS: tuple[type[Actor[Any]], ...] = (
    CommandsActor,
    Supervisor,
    SourceActor,
    EnrichActor,
    ScoreActor,
    QueueAuditsActor,
    GenerateDossierActor,
    AuditActor,
    FinalizeActor,
    CompletionActor,
)


def connection_name() -> str:
    """How this process shows up in the RabbitMQ management UI."""
    return f"leadgen-worker@{socket.gethostname()}:{os.getpid()}"


def real_backends(settings: Settings) -> tuple[Store, Broker]:
    """MongoDB and RabbitMQ, as configured."""
    from leadgen.broker.amqp import AmqpBroker
    from leadgen.store.mongo import MongoStore

    return (
        MongoStore(settings.mongodb_url, settings.mongodb_db),
        AmqpBroker(settings.amqp_url, connection_name=connection_name()),
    )


class Worker:
    """Starts and stops the actors of one process."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        broker: Broker,
        lead_source: LeadSource | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        self.settings = settings
        self.services = Services(
            store=store,
            broker=broker,
            lead_source=lead_source or make_lead_source(settings.lead_source),
            auditor=auditor or make_auditor(settings.auditor),
            settings=settings,
        )
        self.runner = Runner(
            broker,
            [actor(self.services) for actor in ACTORS],
            max_attempts=settings.max_attempts,
            prefetch=settings.prefetch,
        )

    async def start(self) -> None:
        """Open the store (indexes), connect the broker (topology), start consuming."""
        await self.services.store.open()
        await self.services.broker.connect()
        await self.runner.start()
        log.info("worker_started", actors=len(self.runner.actors))

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking messages, let those in flight finish within ``grace``, then close.

        Messages still unsettled after the grace period return to their queues."""
        await self.services.broker.cancel_consumers()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.runner.idle.wait(), grace)
        await self.services.broker.close()
        await self.services.store.close()
        log.info("worker_stopped", unfinished=self.runner.in_flight)


async def run_worker(settings: Settings, *, grace: float = 30.0) -> int:
    """Run a worker on RabbitMQ and MongoDB until SIGINT or SIGTERM; 0 on a clean stop."""
    store, broker = real_backends(settings)
    worker = Worker(settings, store=store, broker=broker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await worker.start()
    await stop.wait()
    log.info("worker_stopping", grace=grace)
    await worker.stop(grace)
    return 0
