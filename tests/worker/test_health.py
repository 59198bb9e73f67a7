"""The HTTP endpoints of a worker running on the real services, over HTTP: liveness, readiness
with the reason it is lost, and the metrics in the Prometheus text format."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadgen import constants as c
from tests.support.backends import Backends
from tests.support.harness import Harness, running
from tests.support.servers import free_port

pytestmark = pytest.mark.parametrize("backends", ["real"], indirect=True)

METRICS = {
    "leadgen_messages",
    "leadgen_message_seconds",
    "leadgen_jobs_finished",
    "leadgen_billing_pauses",
    "leadgen_resumes",
    "leadgen_credits_charged",
    "leadgen_credits_refunded",
    "leadgen_phase_seconds",
    "leadgen_completions_skipped",
}


@asynccontextmanager
async def http(harness: Harness) -> AsyncIterator[aiohttp.ClientSession]:
    """The worker's endpoints on a free port, and a client session for them."""
    port = free_port()
    await harness.worker.serve_http(port, host="127.0.0.1")
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        yield session


async def get(session: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    """Status and body text of a GET."""
    async with session.get(path) as response:
        return response.status, await response.text()


async def test_healthz_answers_ok(backends: Backends) -> None:
    """``/healthz`` answers 200 ``ok`` while the worker runs."""
    async with (
        running(backends.store, backends.broker, backends.client) as harness,
        http(harness) as session,
    ):
        assert await get(session, "/healthz") == (200, "ok")


async def test_readyz_follows_the_broker_consumers(backends: Backends) -> None:
    """``/readyz`` is 200 while every actor consumes, and 503 ``broker not ready`` once the
    consumers are cancelled, while ``/healthz`` still answers."""
    async with (
        running(backends.store, backends.broker, backends.client) as harness,
        http(harness) as session,
    ):
        ready = await get(session, "/readyz")
        await harness.worker.services.broker.cancel_consumers()
        stopping = await get(session, "/readyz")
        alive = await get(session, "/healthz")

    assert ready == (200, "ready")
    assert stopping == (503, "broker not ready")
    assert alive == (200, "ok")


async def test_readyz_needs_mongodb(backends: Backends) -> None:
    """``/readyz`` is 503 ``mongodb not answering`` when the store cannot be pinged."""
    async with (
        running(backends.store, backends.broker, backends.client) as harness,
        http(harness) as session,
    ):
        await harness.store.close()
        assert await get(session, "/readyz") == (503, "mongodb not answering")


async def test_metrics_in_prometheus_text_format(backends: Backends) -> None:
    """``/metrics`` parses as Prometheus text, holds every leadgen metric, and shows the
    completed job and its credits."""
    async with (
        running(backends.store, backends.broker, backends.client) as harness,
        http(harness) as session,
    ):
        await harness.grant("acme", c.LEAD_DISCOVERY, 1)
        await harness.grant("acme", c.DOSSIER_RESEARCH, 2)
        await harness.start("acme", "job-h", max_leads=4, max_dossiers=2)
        m = harness.worker.services.metrics
        await harness.until(lambda: m.value("leadgen_jobs_finished_total", status="completed"))
        async with session.get("/metrics") as response:
            status, content_type, text = (
                response.status,
                response.content_type,
                await response.text(),
            )

    families = {family.name: family for family in text_string_to_metric_families(text)}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }
    assert (status, content_type) == (200, "text/plain")
    assert set(families) >= METRICS
    assert samples[("leadgen_jobs_finished_total", (("status", "completed"),))] == 1
    assert samples[("leadgen_credits_charged_total", (("feature_id", c.DOSSIER_RESEARCH),))] == 2
    assert samples[("leadgen_phase_seconds_count", (("phase", c.FINALIZE),))] == 1
