"""A worker process: every actor, consuming from one broker and writing to one store.

``leadgen worker`` runs it on RabbitMQ and MongoDB; ``leadgen run`` runs the very same
worker on the in-process broker and store. Several workers compete for the same queues.

Shutdown is graceful: SIGTERM or SIGINT stops the consumers, lets the messages in flight
finish within a grace period, cancels what is still running (its messages return to their
queues, to be handled again from the start) and closes the connections. A second signal cuts
the grace period short."""

import asyncio
import contextlib
import signal
from typing import Any

from leadgen.actors.audit import AuditActor
from leadgen.actors.base import Actor
from leadgen.actors.commands import CommandsActor
from leadgen.actors.completion import CompletionActor
from leadgen.actors.enrich import EnrichActor
from leadgen.actors.finalize import FinalizeActor
from leadgen.actors.generate_dossier import GenerateDossierActor
from leadgen.actors.queue_audits import QueueAuditsActor
from leadgen.actors.score import ScoreActor
from leadgen.actors.source import SourceActor
from leadgen.actors.supervisor import Supervisor
from leadgen.broker.base import Broker
from leadgen.broker.sender import url_user
from leadgen.errors import BrokerUnavailable
from leadgen.log import install_loop_exception_handler, log
from leadgen.providers.base import Auditor, LeadSource
from leadgen.providers.registry import auditor as make_auditor
from leadgen.providers.registry import lead_source as make_lead_source
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.worker.backends import amqp_broker, mongo_store
from leadgen.worker.health import HealthServer
from leadgen.worker.maintenance import Maintenance
from leadgen.worker.runner import Runner
from leadgen.workflow.services import Services

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

# How often a stopping worker looks whether its messages in flight have finished.
DRAIN_POLL = 0.05


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
            metrics=self.services.metrics,
            user_id=url_user(settings.amqp_url),
        )
        self.maintenance = Maintenance(self.services)
        self.http: HealthServer | None = None

    async def start(self) -> None:
        """Open the store (indexes), connect the broker (topology), start consuming and the
        relay and reconciler."""
        await self.services.store.open()
        await self.services.broker.connect()
        await self.runner.start()
        self.maintenance.start()
        log.info("worker_started", actors=len(self.runner.actors))
        if not self.settings.grant_user_names:
            log.warning(
                "grants_open",
                reason="LEADGEN_GRANT_USERS is empty: any publisher to leadgen.commands can"
                " grant credits",
            )

    async def serve_http(self, port: int, host: str = "0.0.0.0") -> HealthServer:
        """Serve ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` until ``stop()``."""
        server = HealthServer(self.services, port, host)
        await server.start()
        self.http = server
        return server

    async def stop(self, grace: float = 30.0, *, hurry: asyncio.Event | None = None) -> None:
        """Stop taking messages, let those in flight finish within ``grace`` (or until
        ``hurry`` is set), then close.

        Handlers still running then are cancelled and their messages return to their queues."""
        self.runner.stopping.set()
        await self.maintenance.stop()
        try:
            await self.services.broker.cancel_consumers()
        except BrokerUnavailable as exc:
            # The connection is already gone, and with it every delivery in flight.
            log.warning("cancel_consumers_failed", reason=str(exc))
        await self._drain(grace, hurry or asyncio.Event())
        unfinished = self.runner.in_flight
        await self.runner.abandon()
        await self.services.broker.close()
        await self.services.store.close()
        if self.http is not None:
            http, self.http = self.http, None
            await http.stop()
        log.info("worker_stopped", unfinished=unfinished)

    async def _drain(self, grace: float, hurry: asyncio.Event) -> None:
        """Wait until nothing is in flight, ``grace`` seconds pass or ``hurry`` is set."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        quiet = 0
        # Idle twice in a row, not once: a delivery received just before the consumers were
        # cancelled may still be on its way to the runner.
        while quiet < 2 and not hurry.is_set() and loop.time() < deadline:
            quiet = 0 if self.runner.in_flight else quiet + 1
            await asyncio.sleep(DRAIN_POLL)


class Shutdown:
    """What SIGTERM and SIGINT ask for: the first a graceful stop, the next a quicker one."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle SIGINT and SIGTERM on ``loop`` (where the platform allows it)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.received, sig)

    def received(self, sig: signal.Signals) -> None:
        """Request the stop, or cut its grace period short if it was requested already."""
        if self.requested.is_set():
            # Whoever signals twice does not want to wait out the grace period.
            log.warning("worker_stop_hurried", signal=sig.name)
            self.hurry.set()
        else:
            log.info("worker_stop_requested", signal=sig.name)
            self.requested.set()


async def run_worker(settings: Settings, *, grace: float = 30.0, host: str = "0.0.0.0") -> int:
    """Run a worker on RabbitMQ and MongoDB until SIGINT or SIGTERM; 0 on a clean stop.

    Serves the HTTP endpoints on ``host`` and ``settings.http_port`` unless that is 0."""
    install_loop_exception_handler(asyncio.get_running_loop())
    store, broker = mongo_store(settings), amqp_broker(settings, "worker")
    worker = Worker(settings, store=store, broker=broker)
    shutdown = Shutdown()
    shutdown.install(asyncio.get_running_loop())
    try:
        await worker.start()
        if settings.http_port:
            await worker.serve_http(settings.http_port, host)
    except Exception:
        # Close what did open; the error is what the caller reports.
        with contextlib.suppress(Exception):
            await worker.stop(grace=0)
        raise
    await shutdown.requested.wait()
    log.info("worker_stopping", grace=grace, in_flight=worker.runner.in_flight)
    await worker.stop(grace, hurry=shutdown.hurry)
    return 0
