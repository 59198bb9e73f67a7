"""Cancel, refused resumes, automatic resume on a grant, failed jobs, and the events each
one publishes to ``leadgen.events``, on both backend pairs."""

import json
from typing import Any

from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.errors import ProviderError
from leadgen.providers.base import RawLead
from tests.support.backends import Backends
from tests.support.harness import Harness, running

CUSTOMER = "acme"


async def watch_events(harness: Harness) -> str:
    """A queue bound to every job event (not the command answers); its name."""
    return await harness.client.bind_queue(c.EVENTS_EXCHANGE, "job.#")  # type: ignore[attr-defined,no-any-return]


async def drain(harness: Harness, queue: str, until: str) -> list[dict[str, Any]]:
    """Event bodies from ``queue`` up to and including the first of type ``until``."""
    bodies: list[dict[str, Any]] = []
    while not bodies or bodies[-1]["type"] != until:
        delivery = await harness.client.get(queue, timeout=20)  # type: ignore[attr-defined]
        assert delivery is not None, f"no {until} event; got {[b['type'] for b in bodies]}"
        bodies.append(json.loads(delivery.body))
        await delivery.ack()
    return bodies


async def test_cancel_paused_job(backends: Backends) -> None:
    """A paused job can be cancelled by its owner; another customer's cancel changes nothing."""
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            events = await watch_events(harness)
            await harness.start(CUSTOMER, "job-c", max_leads=3, max_dossiers=1)
            await harness.job_until("job-c", lambda job: job.status == "paused_for_upgrade")
            cancel = {"type": "leadgen.cancel.v1", "job_id": "job-c", "reason": "not needed"}
            await harness.command(c.CANCEL_KEY, {**cancel, "customer_id": "mallory"})
            await harness.until(lambda: any(e["event"] == "command_refused" for e in logs))
            still = await harness.store.get_job("job-c")
            await harness.command(c.CANCEL_KEY, {**cancel, "customer_id": CUSTOMER})
            job = await harness.job_until("job-c", lambda job: job.workflow_status == "cancelled")
            bodies = await drain(harness, events, "leadgen.job.cancelled.v1")
    assert still is not None and still.status == "paused_for_upgrade"
    assert job.status == "cancelled"
    assert [b["type"] for b in bodies] == [
        "leadgen.job.started.v1",
        "leadgen.job.paused.v1",
        "leadgen.job.cancelled.v1",
    ]
    assert bodies[-1]["reason"] == "not needed"
    assert bodies[1]["billing_block"]["feature_id"] == c.LEAD_DISCOVERY
    assert any(e["event"] == "job_cancelled" for e in logs)


async def test_resume_refused_while_credits_short(backends: Backends) -> None:
    """A resume without enough credits is refused with the new balance; the job stays paused."""
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            events = await watch_events(harness)
            await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
            await harness.start(CUSTOMER, "job-rr", max_leads=5, max_dossiers=3)
            paused = await harness.job_until(
                "job-rr", lambda job: job.status == "paused_for_upgrade"
            )
            await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 1)  # auto-resume: still short
            await harness.resume(CUSTOMER, "job-rr")
            bodies = await drain(harness, events, "leadgen.job.resume_refused.v1")
            bodies += await drain(harness, events, "leadgen.job.resume_refused.v1")
            job = await harness.store.get_job("job-rr")
    assert job is not None and job.status == "paused_for_upgrade"
    assert job.workflow_id == paused.workflow_id and job.runs == 1
    assert job.billing_block is not None
    assert (job.billing_block.required, job.billing_block.available) == (3, 1)
    refused = [b for b in bodies if b["type"] == "leadgen.job.resume_refused.v1"]
    assert [b["reason"] for b in refused] == ["insufficient_credits"] * 2
    assert refused[-1]["billing_block"]["available"] == 1
    assert [e["reason"] for e in logs if e["event"] == "job_resume_refused"] == [
        "insufficient_credits"
    ] * 2


async def test_grant_resumes_paused_jobs(backends: Backends) -> None:
    """A grant with ``auto_resume`` resumes the customer's jobs paused on that feature."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        events = await watch_events(harness)
        await harness.start(CUSTOMER, "job-g", max_leads=4, max_dossiers=2)
        paused = await harness.job_until("job-g", lambda job: job.status == "paused_for_upgrade")
        await harness.command(
            c.GRANT_KEY,
            {
                "type": "leadgen.credits.grant.v1",
                "customer_id": CUSTOMER,
                "feature_id": c.LEAD_DISCOVERY,
                "amount": 1,
                "grant_id": "g-1",
            },
        )
        job = await harness.job_until(
            "job-g", lambda job: job.status == "paused_for_upgrade" and job.runs == 2
        )
        bodies = await drain(harness, events, "leadgen.job.resumed.v1")
    # Resumed on lead_discovery, then paused again in generate_dossier: no dossier credits yet.
    assert job.billing_block is not None and job.billing_block.feature_id == c.DOSSIER_RESEARCH
    assert job.phase(c.SOURCE).status == "completed"
    resumed = bodies[-1]
    assert resumed["previous_workflow_id"] == paused.workflow_id
    assert resumed["reset_phases"] == list(c.PHASES)


class BrokenSource:
    """A lead source whose directory is down."""

    name = "broken"

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        raise ProviderError("directory returned HTTP 503")


async def test_failed_phase_fails_job(backends: Backends) -> None:
    """A non-billing failure of ``source`` fails the job with the error as data; no finalize."""
    async with running(
        backends.store, backends.broker, backends.client, lead_source=BrokenSource()
    ) as harness:
        events = await watch_events(harness)
        await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
        await harness.command(
            c.START_KEY,
            {"type": "leadgen.start.v1", "customer_id": CUSTOMER, "job_id": "job-x", "query": "q"},
            message_id="start-x",
        )
        job = await harness.job_until("job-x", lambda job: job.workflow_status == "failed")
        bodies = await drain(harness, events, "leadgen.job.failed.v1")
        balances = await harness.store.balances(CUSTOMER)
    assert job.status == "failed"
    assert job.error is not None
    assert (job.error.name, job.error.message) == ("ProviderError", "directory returned HTTP 503")
    assert job.phase(c.SOURCE).status == "failed"
    assert job.phase(c.FINALIZE).status == "pending"
    assert bodies[-1]["error"] == {
        "name": "ProviderError",
        "message": "directory returned HTTP 503",
        "code": "error",
    }
    assert {b["correlation_id"] for b in bodies} == {"corr-start-x"}
    assert balances == {c.LEAD_DISCOVERY: 1}  # nothing charged for leads never found


class EchoingSource:
    """A lead source whose upstream echoes the pause marker back in its error text."""

    name = "echoing"

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        raise ProviderError("upstream said: Workflow paused for billing (not ours)")


async def test_failure_quoting_the_pause_marker_fails_the_job() -> None:
    """A provider failure whose text quotes "Workflow paused for billing" fails the job; it
    is not taken for a pause, so no resume can loop on an invented billing block."""
    from leadgen.broker.memory import MemoryBroker
    from leadgen.store.memory import MemoryStore

    broker = MemoryBroker()
    async with running(MemoryStore(), broker, broker, lead_source=EchoingSource()) as harness:
        await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
        await harness.start(CUSTOMER, "job-e")
        job = await harness.job_until("job-e", lambda job: job.workflow_status == "failed")
    assert job.status == "failed" and job.billing_block is None
    assert job.error is not None and job.error.name == "ProviderError"
    assert job.phase(c.SOURCE).status == "failed"


async def answer_to(harness: Harness, queue: str, message_id: str) -> dict[str, Any]:
    """The answer to the command published with ``message_id``, from ``queue``."""
    while True:
        delivery = await harness.client.get(queue, timeout=20)  # type: ignore[attr-defined]
        assert delivery is not None, f"no answer to {message_id}"
        await delivery.ack()
        body: dict[str, Any] = json.loads(delivery.body)
        if body["message_id"] == message_id:
            assert delivery.correlation_id == body["correlation_id"] == f"corr-{message_id}"
            return body


async def test_every_command_is_answered_with_its_correlation_id(backends: Backends) -> None:
    """Each command gets one answer on leadgen.events: accepted with the job's status (a
    repeated start too), the balance and the jobs a grant resumed, or refused with a reason
    (unknown job, another customer's job, a completed job, short credits, a taken job id)."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        answers = await harness.client.bind_queue(c.EVENTS_EXCHANGE, "command.*")  # type: ignore[attr-defined]
        start = {"type": "leadgen.start.v1", "customer_id": CUSTOMER, "job_id": "job-a"}
        start_id = await harness.command(c.START_KEY, {**start, "query": "dentists"})
        started = await answer_to(harness, answers, start_id)
        await harness.job_until("job-a", lambda job: job.status == "paused_for_upgrade")
        again = await answer_to(
            harness, answers, await harness.command(c.START_KEY, {**start, "query": "x"})
        )
        taken = await answer_to(
            harness,
            answers,
            await harness.command(c.START_KEY, {**start, "customer_id": "eve", "query": "x"}),
        )
        resume = {"type": "leadgen.resume.v1", "customer_id": CUSTOMER, "job_id": "job-a"}
        short = await answer_to(harness, answers, await harness.command(c.RESUME_KEY, resume))
        unknown = await answer_to(
            harness,
            answers,
            await harness.command(c.RESUME_KEY, {**resume, "job_id": "no-such-job"}),
        )
        cancel = {"type": "leadgen.cancel.v1", "customer_id": "mallory", "job_id": "job-a"}
        foreign = await answer_to(harness, answers, await harness.command(c.CANCEL_KEY, cancel))
        grant = {
            "type": "leadgen.credits.grant.v1",
            "customer_id": CUSTOMER,
            "feature_id": c.LEAD_DISCOVERY,
            "amount": 1,
            "grant_id": "g-1",
        }
        granted = await answer_to(harness, answers, await harness.command(c.GRANT_KEY, grant))
        await harness.job_until(
            "job-a", lambda job: job.runs == 2 and job.workflow_status != "running"
        )
        own = {**cancel, "customer_id": CUSTOMER}
        cancelled = await answer_to(harness, answers, await harness.command(c.CANCEL_KEY, own))
        later = await answer_to(harness, answers, await harness.command(c.RESUME_KEY, resume))

    assert (started["type"], started["command"], started["job_id"]) == (
        "leadgen.command.accepted.v1",
        "start",
        "job-a",
    )
    assert started["status"] == "running" and started["customer_id"] == CUSTOMER
    assert again["type"] == "leadgen.command.accepted.v1" and again["job_id"] == "job-a"
    assert (taken["type"], taken["reason"]) == ("leadgen.command.refused.v1", "job id already used")
    assert (short["command"], short["reason"]) == ("resume", "insufficient_credits")
    assert short["detail"] == {"feature_id": c.LEAD_DISCOVERY, "required": 1, "available": 0}
    assert unknown["reason"] == foreign["reason"] == "unknown job for this customer"
    assert (foreign["command"], foreign["job_id"]) == ("cancel", "job-a")
    assert granted["type"] == "leadgen.command.accepted.v1"
    assert (granted["command"], granted["balance"], granted["resumed_jobs"]) == (
        "credits.grant",
        1,  # the balance the grant left: the resumed run charges it later
        ["job-a"],
    )
    assert (cancelled["type"], cancelled["status"]) == ("leadgen.command.accepted.v1", "cancelled")
    assert (later["type"], later["reason"]) == ("leadgen.command.refused.v1", "job is cancelled")
