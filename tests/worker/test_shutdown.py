"""``leadgen worker`` as a process on the real services: it serves its HTTP endpoints, and
SIGTERM stops it gracefully. Messages in flight finish within the grace period, or (after a
second signal) go back to their queues; a new worker then takes every job to its end with
each lead charged exactly once."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Outbound
from leadgen.store.mongo import MongoStore
from tests.support.servers import database_name, free_port

LEADGEN = [sys.executable, "-m", "leadgen"]

# The real entry point with one more auditor: ``slow:SECONDS`` is the offline auditor after
# a pause, so that audits are surely in flight when the signal comes.
SLOW_LEADGEN = [
    sys.executable,
    "-c",
    textwrap.dedent(
        """
        import asyncio

        from leadgen.cli.main import main
        from leadgen.providers import OfflineAuditor, register_auditor


        class SlowAuditor(OfflineAuditor):
            def __init__(self, seconds):
                super().__init__()
                self.seconds = seconds

            async def audit(self, lead):
                await asyncio.sleep(self.seconds)
                return await super().audit(lead)


        register_auditor("slow", lambda seconds: SlowAuditor(float(seconds)))
        main()
        """
    ),
]

CUSTOMER = "acme"
JOBS = [f"job-{n}" for n in range(5)]
DOSSIERS = 3
GRANTED = 20  # dossier credits: more than the 15 the jobs need, so a double charge shows


class Workers:
    """``leadgen worker`` processes of one test, each logging JSON lines to a file of its own."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    async def start(
        self, *args: str, auditor: str = "offline", env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        """A started worker process (its ``worker_started`` logged) and its log file."""
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        command = SLOW_LEADGEN if auditor.startswith("slow") else LEADGEN
        environment = {**self.env, "LEADGEN_AUDITOR": auditor, **(env or {})}
        process = spawn([*command, "worker", *args], environment, log)
        self.processes.append((process, log))
        await logged(process, log, "worker_started")
        return process, log

    def stop_all(self) -> None:
        """Stop what is still running, so that no worker outlives its test."""
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output going to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def tail(log: Path) -> str:
    """The end of a worker's log, to show when something it should do does not happen."""
    return log.read_text()[-3000:]


def events(log: Path) -> list[dict[str, Any]]:
    """The JSON log events a worker wrote so far."""
    lines = log.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def logged(
    process: subprocess.Popen[bytes], log: Path, event: str, timeout: float = 30
) -> dict[str, Any]:
    """Wait until the worker logs ``event``; that log line."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [line for line in events(log) if line["event"] == event]
        if found:
            return found[0]
        assert process.poll() is None, f"worker exited before {event}: {tail(log)}"
        assert asyncio.get_running_loop().time() < deadline, f"no {event}: {tail(log)}"
        await asyncio.sleep(0.05)


async def exit_code(process: subprocess.Popen[bytes], timeout: float) -> int:
    """The worker's exit code, once it exits."""
    deadline = asyncio.get_running_loop().time() + timeout
    while process.poll() is None:
        assert asyncio.get_running_loop().time() < deadline, "worker did not exit"
        await asyncio.sleep(0.05)
    return process.returncode


@pytest.fixture
def env(amqp_url: str, mongodb_url: str) -> dict[str, str]:
    """Environment of every worker of the test: its vhost and database, one audit at a time."""
    return {
        **os.environ,
        "LEADGEN_AMQP_URL": amqp_url,
        "LEADGEN_MONGODB_URL": mongodb_url,
        "LEADGEN_MONGODB_DB": database_name(),
        "LEADGEN_HTTP_PORT": "0",
        "LEADGEN_LOG_FORMAT": "json",
        "LEADGEN_AUDIT_CONCURRENCY": "1",
    }


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    """The test's worker processes, killed at the end if still running."""
    started = Workers(env, tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
async def store(env: dict[str, str]) -> AsyncIterator[MongoStore]:
    """The workers' database, with credits for every job; dropped at the end."""
    store = MongoStore(env["LEADGEN_MONGODB_URL"], env["LEADGEN_MONGODB_DB"])
    await store.open()
    await store.move_credits(CUSTOMER, c.LEAD_DISCOVERY, len(JOBS), "grant:discovery")
    await store.move_credits(CUSTOMER, c.DOSSIER_RESEARCH, GRANTED, "grant:dossiers")
    yield store
    await store.drop()
    await store.close()


async def start_jobs(env: dict[str, str]) -> None:
    """Publish a start command for every job, as another service would."""
    client = AmqpBroker(env["LEADGEN_AMQP_URL"])
    await client.connect()
    for job_id in JOBS:
        body = {
            "type": "leadgen.start.v1",
            "customer_id": CUSTOMER,
            "job_id": job_id,
            "query": "dentists",
            "location": "Austin, TX",
            "max_leads": 5,
            "max_dossiers": DOSSIERS,
        }
        message = Outbound(body=json.dumps(body).encode(), type="", message_id=uuid.uuid4().hex)
        await client.publish(c.COMMANDS_EXCHANGE, c.START_KEY, message)
    await client.close()


async def audit_in_flight(store: MongoStore) -> tuple[str, str]:
    """Wait until a lead is charged but has no dossier yet: its audit is running; its ids."""
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        for job_id in JOBS:
            for entry in await store.ledger(job_id):
                if entry.feature_id != c.DOSSIER_RESEARCH or entry.lead_id is None:
                    continue  # the job's discovery charge
                lead = await store.get_lead(job_id, entry.lead_id)
                if lead is not None and lead.dossier is None:
                    return job_id, entry.lead_id
        await asyncio.sleep(0.02)
    raise TimeoutError("no audit was ever in flight")


async def dossier_of(store: MongoStore, job_id: str, lead_id: str) -> object:
    """The stored dossier of one lead, or None."""
    lead = await store.get_lead(job_id, lead_id)
    return lead.dossier if lead is not None else None


async def assert_every_job_completed_once(store: MongoStore) -> None:
    """Every job completes, every queued lead has a dossier and was charged exactly once."""
    deadline = asyncio.get_running_loop().time() + 60
    for job_id in JOBS:
        job = await store.get_job(job_id)
        while job is None or job.workflow_status != "completed":
            assert asyncio.get_running_loop().time() < deadline, f"{job_id} never completed"
            await asyncio.sleep(0.1)
            job = await store.get_job(job_id)
        queued = [lead for lead in await store.leads(job_id) if lead.queued]
        charges = Counter(
            (entry.feature_id, entry.lead_id)
            for entry in await store.ledger(job_id)
            if entry.delta < 0
        )
        assert job.status == "completed" and job.counts.dossiers_done == DOSSIERS
        assert len(queued) == DOSSIERS and all(lead.dossier is not None for lead in queued)
        assert charges == {
            (c.LEAD_DISCOVERY, "job"): 1,
            **{(c.DOSSIER_RESEARCH, lead.lead_id): 1 for lead in queued},
        }
    assert await store.balances(CUSTOMER) == {
        c.LEAD_DISCOVERY: 0,
        c.DOSSIER_RESEARCH: GRANTED - len(JOBS) * DOSSIERS,
    }


async def test_sigterm_lets_messages_in_flight_finish(
    workers: Workers, store: MongoStore, env: dict[str, str]
) -> None:
    """On SIGTERM the audit in flight finishes within the grace period and the worker exits 0;
    a new worker completes every job, each lead charged once."""
    first, log = await workers.start("--grace", "30", auditor="slow:1")
    await start_jobs(env)
    job_id, lead_id = await audit_in_flight(store)
    first.send_signal(signal.SIGTERM)

    assert await exit_code(first, timeout=60) == 0
    assert await dossier_of(store, job_id, lead_id) is not None
    stopping = next(line for line in events(log) if line["event"] == "worker_stopping")
    stopped = next(line for line in events(log) if line["event"] == "worker_stopped")
    assert stopping["in_flight"] >= 1 and stopped["unfinished"] == 0

    await workers.start()
    await assert_every_job_completed_once(store)


async def test_second_signal_returns_unfinished_messages(
    workers: Workers, store: MongoStore, env: dict[str, str]
) -> None:
    """A second signal during the grace period cuts it short without a crash: the worker exits
    0, the audit in flight goes back to its queue, and a new worker completes every job, each
    lead charged once."""
    first, log = await workers.start("--grace", "30", auditor="slow:10")
    await start_jobs(env)
    job_id, lead_id = await audit_in_flight(store)
    first.send_signal(signal.SIGTERM)
    await logged(first, log, "worker_stopping")
    first.send_signal(signal.SIGINT)

    assert await exit_code(first, timeout=20) == 0
    assert await dossier_of(store, job_id, lead_id) is None
    names = [line["event"] for line in events(log)]
    stopped = next(line for line in events(log) if line["event"] == "worker_stopped")
    assert "worker_stop_hurried" in names and stopped["unfinished"] >= 1

    await workers.start()
    await assert_every_job_completed_once(store)
    assert await dossier_of(store, job_id, lead_id) is not None


async def test_worker_process_serves_its_endpoints(workers: Workers) -> None:
    """``leadgen worker`` serves ``/healthz``, ``/readyz`` and ``/metrics`` on
    ``LEADGEN_HTTP_PORT`` and still exits 0 on SIGTERM."""
    port = free_port()
    process, log = await workers.start(env={"LEADGEN_HTTP_PORT": str(port)})
    await logged(process, log, "http_serving")
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        async with session.get("/healthz") as response:
            healthz = response.status, await response.text()
        async with session.get("/readyz") as response:
            readyz = response.status, await response.text()
        async with session.get("/metrics") as response:
            metrics = response.status, await response.text()
    process.send_signal(signal.SIGTERM)

    assert healthz == (200, "ok")
    assert readyz == (200, "ready")
    assert metrics[0] == 200
    assert "leadgen_messages" in {f.name for f in text_string_to_metric_families(metrics[1])}
    assert await exit_code(process, timeout=30) == 0
