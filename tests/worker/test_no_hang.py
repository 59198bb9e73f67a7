"""No job hangs (invariant 10): a message that can never be handled becomes a failure of its
job and a dead letter, a job whose next message was lost is re-driven by the reconciler, an
outbox left unsent is published by the relay, and a retried copy keeps its routing key."""

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import structlog
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.base import Broker, Delivery
from leadgen.broker.dead_letters import DeadLetterBroker, list_dead
from leadgen.ids import new_id, utcnow
from leadgen.messages.tasks import PhaseTask
from leadgen.providers.offline import OfflineAuditor
from leadgen.store.base import Guard, Store
from leadgen.store.models import Job, JobRequest, Lead
from leadgen.workflow.outbox import phase_task
from leadgen.workflow.phases import first_run
from tests.support.backends import Backends
from tests.support.harness import Harness, running

CUSTOMER = "cus-nohang"
WAIT = 20.0


# -- helpers ------------------------------------------------------------------------------
class StoreProxy:
    """Passes every store call on to ``inner``; subclasses break the calls they name."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def fund(store: Store, discovery: int, dossiers: int) -> None:
    """Give the customer credits (the store must be open)."""
    await store.move_credits(CUSTOMER, c.LEAD_DISCOVERY, discovery, f"grant:{new_id()}")
    await store.move_credits(CUSTOMER, c.DOSSIER_RESEARCH, dossiers, f"grant:{new_id()}")


def dead_broker(harness: Harness) -> DeadLetterBroker:
    """The client broker, seen as the dead-letter workflow sees it (both brokers have get)."""
    return cast(DeadLetterBroker, harness.client)


async def dead_letter(harness: Harness) -> Delivery:
    """Take the one message of leadgen.dead (acked: the test owns it)."""
    dead = await dead_broker(harness).get(c.DEAD_LETTER_QUEUE, timeout=WAIT)
    assert dead is not None, "nothing was dead-lettered"
    await dead.ack()
    return dead


def stuck_job(job_id: str) -> Job:
    """A running job whose ``source`` phase runs and whose task was never published."""
    now = utcnow()
    return Job(
        id=job_id,
        customer_id=CUSTOMER,
        workflow_id=new_id(),
        request=JobRequest(query="dentists", location="Austin, TX", max_leads=5, max_dossiers=2),
        phases=first_run(now),
        created_at=now,
        updated_at=now,
    )


def events(logs: Sequence[Mapping[str, Any]], name: str, job_id: str) -> list[Mapping[str, Any]]:
    """The captured log entries ``name`` about ``job_id``."""
    return [e for e in logs if e["event"] == name and e.get("job_id") == job_id]


# -- 1. a poison audit --------------------------------------------------------------------
class PoisonAuditor:
    """The offline auditor, but the first lead it is asked about gets, every time, a dossier
    no store can hold (a mapping with a non-string key)."""

    name = "poison"

    def __init__(self) -> None:
        self.offline = OfflineAuditor()
        self.poisoned: str | None = None

    async def audit(self, lead: Lead) -> dict[str, Any]:
        if self.poisoned is None:
            self.poisoned = lead.lead_id
        if lead.lead_id == self.poisoned:
            return cast(dict[str, Any], {1: "x"})
        return await self.offline.audit(lead)


async def test_poison_audit_fails_its_lead_refunds_and_the_job_completes(
    backends: Backends,
) -> None:
    """An audit whose dossier the store refuses on every attempt becomes a failed, refunded
    audit and a dead letter; the job completes with ``generate_dossier``
    ``completed_with_failures``."""
    auditor = PoisonAuditor()
    async with running(
        backends.store, backends.broker, backends.client, auditor=auditor, max_attempts=2
    ) as harness:
        await fund(harness.store, discovery=1, dossiers=5)
        await harness.start(CUSTOMER, "job-poison-audit", max_leads=6, max_dossiers=4)
        job = await harness.job_until(
            "job-poison-audit", lambda job: job.workflow_status != "running", timeout=WAIT
        )
        dead = await dead_letter(harness)
        assert auditor.poisoned is not None
        lead = await harness.store.get_lead(job.id, auditor.poisoned)
        ledger = await harness.store.ledger(job.id)
        balances = await harness.store.balances(CUSTOMER)
        leads = await harness.store.leads(job.id)

    assert (job.status, job.workflow_status) == ("completed", "completed")
    assert job.phase(c.GENERATE_DOSSIER).status == "completed_with_failures"
    assert job.phase(c.FINALIZE).status == "completed"
    assert (job.counts.dossiers_done, job.counts.dossiers_failed) == (3, 1)
    assert job.audits[auditor.poisoned] == "failed"
    assert lead is not None and lead.dossier is None and lead.dossier_error is not None
    assert lead.dossier_error.name == "AuditFailed"
    reason = lead.dossier_error.message
    assert reason
    assert sum(ld.dossier is not None for ld in leads) == 3
    moves = [e.delta for e in ledger if e.lead_id == auditor.poisoned]
    assert sorted(moves) == [-1, 1]  # charged once, refunded once
    assert balances == {c.LEAD_DISCOVERY: 0, c.DOSSIER_RESEARCH: 5 - 3}
    assert dead.routing_key == c.AUDIT_KEY
    assert dead.headers[c.QUEUE_HEADER] == c.AUDIT_QUEUE
    assert dead.headers[c.ERROR_HEADER] == f"failed 2 times: {reason}"
    assert json.loads(dead.body)["lead_id"] == auditor.poisoned


# -- 2. a poison phase task ---------------------------------------------------------------
class PoisonedEnrichRead(StoreProxy):
    """Reading the job while handling an ``enrich`` task fails ``fails`` times with TypeError,
    as a document the code cannot read would; every other read goes through."""

    def __init__(self, inner: Store, fails: int) -> None:
        super().__init__(inner)
        self.fails = fails

    async def get_job(self, job_id: str) -> Job | None:
        handling = structlog.contextvars.get_contextvars().get("queue")
        if handling == c.phase_queue(c.ENRICH) and self.fails > 0:
            self.fails -= 1
            raise TypeError("unreadable job document")
        return await self.inner.get_job(job_id)


async def test_poison_phase_task_fails_the_job_with_phase_task_failed(
    backends: Backends,
) -> None:
    """A phase task that fails outside the phase's own work on every attempt is given up: the
    phase and the job fail with ``PhaseTaskFailed`` and the reason, and the task is
    dead-lettered."""
    store = PoisonedEnrichRead(backends.store, fails=2)  # one per attempt
    async with running(
        cast(Store, store), backends.broker, backends.client, max_attempts=2
    ) as harness:
        await fund(harness.store, discovery=1, dossiers=2)
        await harness.start(CUSTOMER, "job-poison-task", max_leads=4, max_dossiers=2)
        job = await harness.job_until(
            "job-poison-task", lambda job: job.status != "running", timeout=WAIT
        )
        dead = await dead_letter(harness)

    assert (job.status, job.workflow_status) == ("failed", "failed")
    assert job.error is not None
    assert job.error.name == "PhaseTaskFailed"
    assert job.error.message == "enrich: TypeError: unreadable job document"
    assert [(p.name, p.status) for p in job.phases] == [
        (c.SOURCE, "completed"),
        (c.ENRICH, "failed"),
        (c.SCORE, "pending"),
        (c.QUEUE_AUDITS, "pending"),
        (c.GENERATE_DOSSIER, "pending"),
        (c.FINALIZE, "pending"),
    ]
    assert dead.routing_key == c.phase_key(c.ENRICH)
    assert dead.headers[c.QUEUE_HEADER] == c.phase_queue(c.ENRICH)
    assert dead.headers[c.ERROR_HEADER] == "failed 2 times: TypeError: unreadable job document"
    assert store.fails == 0


# -- 4. the reconciler --------------------------------------------------------------------
async def stuck_for(harness: Harness, job_id: str) -> Job:
    """Insert a job stuck in ``source`` whose task no queue holds, with its credits."""
    await fund(harness.store, discovery=1, dossiers=2)
    job = stuck_job(job_id)
    assert await harness.store.insert_job(job)
    return job


async def test_reconciler_redrives_a_job_whose_message_was_lost(backends: Backends) -> None:
    """A running job with no message anywhere is re-driven after ``stall_seconds`` and
    completes; the re-drive is logged ``job_redriven`` and counted."""
    with capture_logs() as logs:
        async with running(
            backends.store, backends.broker, backends.client, stall_seconds=0.5
        ) as harness:
            await stuck_for(harness, "job-lost-task")
            job = await harness.job_until(
                "job-lost-task", lambda job: job.workflow_status != "running", timeout=WAIT
            )
            redriven = harness.worker.services.metrics.value("leadgen_jobs_redriven_total")

    assert (job.status, job.counts.dossiers_done) == ("completed", 2)
    assert job.redrives >= 1
    assert redriven >= 1
    [first, *_] = events(logs, "job_redriven", "job-lost-task")
    assert (first["phase"], first["redrives"]) == (c.SOURCE, 1)


async def test_without_the_reconciler_in_time_the_lost_job_stays_stuck(
    backends: Backends,
) -> None:
    """With ``stall_seconds`` far away, the same stuck job does not move in the time a
    re-driven one needs to complete: the reconciler is what moved it."""
    with capture_logs() as logs:
        async with running(
            backends.store, backends.broker, backends.client, stall_seconds=3600
        ) as harness:
            await stuck_for(harness, "job-lost-task")
            await asyncio.sleep(2.0)
            job = await harness.store.get_job("job-lost-task")
            redriven = harness.worker.services.metrics.value("leadgen_jobs_redriven_total")

    assert job is not None and job.status == "running"
    assert job.phase(c.SOURCE).status == "running" and job.redrives == 0
    assert redriven == 0
    assert not events(logs, "job_redriven", "job-lost-task")


# -- 5. the relay -------------------------------------------------------------------------
async def unsent_for(harness: Harness, job_id: str) -> Job:
    """A job stuck in ``source`` whose outbox holds its task, never published."""
    job = await stuck_for(harness, job_id)
    task = PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=c.SOURCE)
    after = await harness.store.update_job(
        job.id, Guard(workflow_id=job.workflow_id), {}, outbox=[phase_task(task, None)]
    )
    assert after is not None and len(after.outbox) == 1
    return after


async def test_relay_publishes_an_outbox_left_unsent(backends: Backends) -> None:
    """An outbox entry nobody published goes out after ``relay_after_seconds`` and the job
    proceeds to completion; the relay logs ``outbox_relayed``."""
    with capture_logs() as logs:
        async with running(
            backends.store, backends.broker, backends.client, relay_after_seconds=0.5
        ) as harness:
            await unsent_for(harness, "job-unsent")
            job = await harness.job_until(
                "job-unsent", lambda job: job.workflow_status != "running", timeout=WAIT
            )
            relayed = harness.worker.services.metrics.value("leadgen_outbox_relayed_total")

    assert (job.status, job.counts.dossiers_done) == ("completed", 2)
    assert job.redrives == 0  # the relay moved it, not the reconciler
    assert relayed >= 1
    [first, *_] = events(logs, "outbox_relayed", "job-unsent")
    assert first["messages"] == 1


async def test_without_the_relay_in_time_the_unsent_outbox_stays(backends: Backends) -> None:
    """With ``relay_after_seconds`` far away, the unsent task stays in the outbox and the job
    does not move: the relay is what sent it."""
    with capture_logs() as logs:
        async with running(
            backends.store, backends.broker, backends.client, relay_after_seconds=3600
        ) as harness:
            await unsent_for(harness, "job-unsent")
            await asyncio.sleep(2.0)
            job = await harness.store.get_job("job-unsent")

    assert job is not None and job.phase(c.SOURCE).status == "running"
    assert len(job.outbox) == 1
    assert not events(logs, "outbox_relayed", "job-unsent")


# -- 7. retried copies keep their routing key ---------------------------------------------
class FailingInsert(StoreProxy):
    """``insert_job`` raises RuntimeError: once for ``job-once``, always for ``job-never``."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.calls: dict[str, int] = {}

    async def insert_job(self, job: Job) -> bool:
        self.calls[job.id] = self.calls.get(job.id, 0) + 1
        if job.id == "job-never" or (job.id == "job-once" and self.calls[job.id] == 1):
            raise RuntimeError(f"insert of {job.id} failed")
        return bool(await self.inner.insert_job(job))


async def test_retried_command_is_applied_and_dead_letters_keep_the_original_routing_key(
    memory_store: Store, memory_broker: Broker
) -> None:
    """A start that fails once is retried as a copy and applied; one that always fails is
    dead-lettered with its original routing key ``leadgen.start``, not the queue's name."""
    store = FailingInsert(memory_store)
    with capture_logs() as logs:
        async with running(
            cast(Store, store), memory_broker, memory_broker, max_attempts=2
        ) as harness:
            await fund(harness.store, discovery=1, dossiers=1)
            await harness.start(CUSTOMER, "job-once", max_leads=3, max_dossiers=1)
            job = await harness.job_until(
                "job-once", lambda job: job.workflow_status != "running", timeout=WAIT
            )
            message_id = await harness.command(
                c.START_KEY,
                {
                    "type": "leadgen.start.v1",
                    "customer_id": CUSTOMER,
                    "job_id": "job-never",
                    "query": "dentists",
                },
            )
            dead = await dead_letter(harness)
            never = await harness.store.get_job("job-never")
            remaining = await list_dead(dead_broker(harness))

    assert job.status == "completed" and store.calls["job-once"] == 2
    retried = [e for e in logs if e["event"] == "message_retried"]
    assert len(retried) == 2  # job-once's first try and job-never's first try
    assert never is None and store.calls["job-never"] == 2
    assert dead.message_id == message_id
    assert dead.routing_key == c.START_KEY
    assert dead.headers[c.ROUTING_KEY_HEADER] == c.START_KEY
    assert dead.headers[c.QUEUE_HEADER] == c.COMMANDS_QUEUE
    reason = "failed 2 times: RuntimeError: insert of job-never failed"
    assert dead.headers[c.ERROR_HEADER] == reason
    assert remaining == []  # nothing else was dead-lettered
