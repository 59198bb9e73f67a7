"""The HTTP endpoints of ``leadgen worker`` (contract section 1, ``LEADGEN_HTTP_PORT``).

``/healthz`` answers while the process and its event loop do (liveness); ``/readyz`` answers
200 only while the broker connection is open, every actor has its consumer and MongoDB answers
a ping, else 503 with the reason (readiness: a stopping worker stops being ready as soon as it
cancels its consumers); ``/metrics`` serves the worker's registry in the Prometheus text
format."""

import asyncio
import contextlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from leadgen.broker.topology import QUEUES
from leadgen.errors import ConfigurationError
from leadgen.log import log
from leadgen.workflow.services import Services

# A probe must answer within the orchestrator's own timeout (Kubernetes: 1 s by default), so
# a broker or database slower than this to answer counts as not ready.
CHECK_TIMEOUT = 0.45
# The queues workers consume: each should have a consumer (leadgen.dead is read by people).
CONSUMED_QUEUES = tuple(q.name for q in QUEUES if q.dead_letter)


class HealthServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` for one worker's services."""

    def __init__(self, services: Services, port: int, host: str = "0.0.0.0") -> None:
        self.services = services
        self.host = host
        self.port = port
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        # No access log: probes every few seconds would drown the log events of contract 7.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)

    async def start(self) -> None:
        """Listen on ``host:port``; ConfigurationError when the port cannot be bound."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigurationError(
                f"cannot serve HTTP on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        log.info("http_serving", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()

    async def not_ready(self) -> str | None:
        """Why the worker is not ready, or None when it is."""
        try:
            broker_ready = await asyncio.wait_for(self.services.broker.is_ready(), CHECK_TIMEOUT)
        except TimeoutError:
            return "broker not ready"
        except Exception as exc:
            return f"broker not ready: {type(exc).__name__}"
        if not broker_ready:
            return "broker not ready"
        try:
            answered = await asyncio.wait_for(self.services.store.ping(), CHECK_TIMEOUT)
        except TimeoutError:
            return "mongodb not answering"
        except Exception as exc:
            return f"mongodb not answering: {type(exc).__name__}"
        return None if answered else "mongodb not answering"

    async def healthz(self, request: web.Request) -> web.Response:
        """200 ``ok``: answering at all is the proof that the event loop runs."""
        return web.Response(text="ok")

    async def readyz(self, request: web.Request) -> web.Response:
        """200 ``ready``, or 503 with the reason."""
        reason = await self.not_ready()
        if reason is None:
            return web.Response(text="ready")
        return web.Response(status=503, text=reason)

    async def metrics(self, request: web.Request) -> web.Response:
        """The Prometheus text exposition of the worker's metrics, with readiness and the
        consumers of every leadgen queue measured now."""
        metrics = self.services.metrics
        metrics.ready.set(1 if await self.not_ready() is None else 0)
        for queue in CONSUMED_QUEUES:
            try:
                count = await asyncio.wait_for(
                    self.services.broker.consumer_count(queue), CHECK_TIMEOUT
                )
            except Exception:  # an unknown count is left out of this scrape, never invented
                with contextlib.suppress(KeyError):
                    metrics.queue_consumers.remove(queue)
                continue
            metrics.queue_consumers.labels(queue).set(count)
        return web.Response(
            body=self.services.metrics.render(),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
