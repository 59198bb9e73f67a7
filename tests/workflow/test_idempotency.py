"""A command or an internal message delivered twice has one effect (invariants 5 and 6)."""

from collections.abc import Mapping, Sequence
from typing import Any

from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.base import Outbound
from leadgen.messages.codec import encode
from leadgen.messages.tasks import AuditTask
from tests.support.backends import Backends
from tests.support.harness import running

CUSTOMER = "acme"


def start_body(job_id: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "leadgen.start.v1",
        "customer_id": CUSTOMER,
        "query": "plumbers",
        "location": "Denver, CO",
        "max_leads": 5,
        "max_dossiers": 2,
    }
    if job_id:
        body["job_id"] = job_id
    return body


async def test_same_start_twice_is_one_job(backends: Backends) -> None:
    """Two starts with the same ``job_id`` make one job, one run, one discovery charge."""
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 5)
            await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 5)
            await harness.command(c.START_KEY, start_body("job-dup"))
            await harness.command(c.START_KEY, start_body("job-dup"))
            job = await harness.job_until("job-dup", lambda job: job.workflow_status == "completed")
            await harness.until(
                lambda: any(e["event"] == "start_ignored_existing_job" for e in logs)
            )
            ledger = await harness.store.ledger(job.id)
            balances = await harness.store.balances(CUSTOMER)
    assert job.runs == 1
    assert [e["event"] for e in logs].count("job_started") == 1
    assert [e.feature_id for e in ledger].count(c.LEAD_DISCOVERY) == 1
    assert balances == {c.LEAD_DISCOVERY: 4, c.DOSSIER_RESEARCH: 3}


async def test_same_message_id_without_job_id_is_one_job(backends: Backends) -> None:
    """A start re-published with the same ``message_id`` and no ``job_id`` is still one job."""
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            await harness.command(c.START_KEY, start_body(), message_id="client-msg-1")
            await harness.command(c.START_KEY, start_body(), message_id="client-msg-1")
            await harness.until(
                lambda: any(e["event"] == "start_ignored_existing_job" for e in logs)
            )
    assert [e["event"] for e in logs].count("job_started") == 1


async def test_same_grant_twice_tops_up_once(backends: Backends) -> None:
    """Two grants with the same ``grant_id`` add the amount once."""
    grant = {
        "type": "leadgen.credits.grant.v1",
        "customer_id": CUSTOMER,
        "feature_id": c.DOSSIER_RESEARCH,
        "amount": 7,
        "grant_id": "invoice-42",
    }
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            await harness.command(c.GRANT_KEY, grant)
            await harness.command(c.GRANT_KEY, grant)
            await harness.until(lambda: any(e["event"] == "credits_grant_ignored" for e in logs))
            balances = await harness.store.balances(CUSTOMER)
    assert balances == {c.DOSSIER_RESEARCH: 7}


async def test_same_resume_twice_resumes_once(backends: Backends) -> None:
    """A resume delivered twice (same ``message_id``) starts one new run, not two."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        await harness.start(CUSTOMER, "job-r", max_leads=4, max_dossiers=1)
        await harness.job_until("job-r", lambda job: job.status == "paused_for_upgrade")
        await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1, auto_resume=False)
        await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 1, auto_resume=False)
        body = {"type": "leadgen.resume.v1", "customer_id": CUSTOMER, "job_id": "job-r"}
        await harness.command(c.RESUME_KEY, body, message_id="resume-1")
        await harness.command(c.RESUME_KEY, body, message_id="resume-1")
        job = await harness.job_until("job-r", lambda job: job.workflow_status == "completed")
    assert job.runs == 2 and job.status == "completed"


def duplicates_handled(logs: Sequence[Mapping[str, Any]]) -> int:
    """How many of the re-sent audit messages the worker finished handling."""
    return sum(
        e["event"] == "message_handled" and str(e.get("message_id")).startswith("dup-")
        for e in logs
    )


async def test_audit_delivered_twice_charges_once(backends: Backends) -> None:
    """Audit tasks of a finished job delivered again charge nothing and change no dossier."""
    with capture_logs(processors=[merge_contextvars]) as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
            await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 2)
            await harness.command(c.START_KEY, start_body("job-a"))
            job = await harness.job_until("job-a", lambda job: job.workflow_status == "completed")
            leads_before = await harness.store.leads(job.id)
            assert job.audit_plan is not None
            for index, lead_id in enumerate(job.audit_plan.lead_ids):
                task = AuditTask(
                    job_id=job.id, workflow_id=job.workflow_id, lead_id=lead_id, index=index
                )
                for _ in range(2):
                    await harness.client.publish(
                        c.INTERNAL_EXCHANGE,
                        c.AUDIT_KEY,
                        Outbound(body=encode(task), type=task.type, message_id=f"dup-{index}"),
                    )
            expected = 2 * len(job.audit_plan.lead_ids)
            await harness.until(lambda: duplicates_handled(logs) == expected)
            after = await harness.store.get_job(job.id)
            leads_after = await harness.store.leads(job.id)
            ledger = await harness.store.ledger(job.id)
            balances = await harness.store.balances(CUSTOMER)
    assert after is not None and after.status == "completed" and after.version == job.version
    assert [ld.dossier for ld in leads_after] == [ld.dossier for ld in leads_before]
    assert sum(e.feature_id == c.DOSSIER_RESEARCH for e in ledger) == 2
    assert balances[c.DOSSIER_RESEARCH] == 0
