"""The original QA plan, end to end: commands published to ``leadgen.commands`` as another
service would, handled by a running worker, on the embedded default and on the real
services (RabbitMQ and the MongoDB-compatible server)."""

from typing import Any

import structlog
from structlog.testing import capture_logs

from leadgen.constants import DOSSIER_RESEARCH, LEAD_DISCOVERY
from leadgen.providers.offline import OfflineAuditor
from leadgen.store.models import Job, Lead
from tests.support.backends import Backends
from tests.support.harness import Harness, running

CUSTOMER = "acme"


def events(logs: list[dict[str, Any]], name: str, job_id: str) -> list[dict[str, Any]]:
    """The captured log events called ``name`` about ``job_id``."""
    return [e for e in logs if e["event"] == name and e.get("job_id") == job_id]


def capture() -> Any:
    """Capture log events with the ids bound to the message context."""
    return capture_logs(processors=[structlog.contextvars.merge_contextvars])


async def charges(harness: Harness, job_id: str, feature: str) -> dict[str | None, int]:
    """Net credits taken per lead for ``feature`` (charges minus refunds)."""
    net: dict[str | None, int] = {}
    for entry in await harness.store.ledger(job_id):
        if entry.feature_id == feature:
            net[entry.lead_id] = net.get(entry.lead_id, 0) - entry.delta
    return net


async def pause_in_generate_dossier(
    harness: Harness, job_id: str, logs: list[dict[str, Any]]
) -> Job:
    """Run scenario 1 up to the handled completion of the paused run."""
    await harness.grant(CUSTOMER, LEAD_DISCOVERY, 1)
    await harness.grant(CUSTOMER, DOSSIER_RESEARCH, 1)
    await harness.start(CUSTOMER, job_id, max_leads=8, max_dossiers=3)
    await harness.until(lambda: events(logs, "on_complete_skipped_paused", job_id))
    return await harness.job_until(job_id, lambda job: job.counts.dossiers_done == 1)


async def test_pause_in_generate_dossier(backends: Backends) -> None:
    """With one dossier credit for three dossiers the job pauses after exactly one dossier,
    finalize never runs, and the handled completion leaves it paused."""
    with capture() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            job = await pause_in_generate_dossier(harness, "job-s1", logs)
            leads = await harness.store.leads(job.id)

            assert job.status == "paused_for_upgrade"
            assert job.workflow_status == "paused"
            assert job.billing_block is not None
            assert job.billing_block.feature_id == DOSSIER_RESEARCH
            assert job.billing_block.phase == "generate_dossier"
            assert job.billing_block.message.startswith("Workflow paused for billing")
            assert job.phase("generate_dossier").status == "paused"
            assert job.phase("finalize").status == "pending"
            assert sum(lead.queued for lead in leads) == 3
            assert job.counts.leads == len(leads)  # kept current while paused, not only at the end
            assert sum(lead.dossier is not None for lead in leads) == 1
            assert await charges(harness, job.id, DOSSIER_RESEARCH) == {
                next(ld.lead_id for ld in leads if ld.dossier is not None): 1
            }
            assert (await harness.store.balances(CUSTOMER))[DOSSIER_RESEARCH] == 0
    for name in ("job_paused_for_billing", "billing_pause_detected", "on_complete_skipped_paused"):
        assert events(logs, name, job.id), name
    assert not events(logs, "job_completed", job.id)
    assert not [e for e in logs if e["event"] == "finalize_skipped_paused"]


async def test_pause_in_source(backends: Backends) -> None:
    """With no credits at all the job pauses in ``source``: no lead charged, nothing after it."""
    with capture() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            await harness.start(CUSTOMER, "job-s2", max_leads=5, max_dossiers=2)
            await harness.until(lambda: events(logs, "on_complete_skipped_paused", "job-s2"))
            job = await harness.job_until("job-s2", lambda job: True)
            ledger = await harness.store.ledger(job.id)
            leads = await harness.store.leads(job.id)

    assert job.status == "paused_for_upgrade"
    assert job.billing_block is not None
    assert (job.billing_block.feature_id, job.billing_block.phase) == (LEAD_DISCOVERY, "source")
    assert (job.billing_block.required, job.billing_block.available) == (1, 0)
    assert job.phase("source").status == "paused"
    assert [p.status for p in job.phases[1:]] == ["pending"] * 5
    assert ledger == [] and leads == []
    for name in ("job_paused_for_billing", "billing_pause_detected", "on_complete_skipped_paused"):
        assert events(logs, name, job.id), name


async def test_resume_after_top_up(backends: Backends) -> None:
    """After a top-up, resume runs a new run to completion, charging each dossier once."""
    with capture() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            paused = await pause_in_generate_dossier(harness, "job-s3", logs)
            await harness.grant(CUSTOMER, DOSSIER_RESEARCH, 5, auto_resume=False)
            assert (await harness.store.get_job(paused.id)).status == "paused_for_upgrade"  # type: ignore[union-attr]

            await harness.resume(CUSTOMER, paused.id)
            resumed = await harness.job_until(paused.id, lambda job: job.runs == 2)
            done = await harness.job_until(
                paused.id, lambda job: job.workflow_status == "completed"
            )
            leads = await harness.store.leads(paused.id)
            charged = await charges(harness, paused.id, DOSSIER_RESEARCH)
            balance = (await harness.store.balances(CUSTOMER))[DOSSIER_RESEARCH]

    assert resumed.status in ("running", "completed")
    assert resumed.workflow_id != paused.workflow_id
    assert resumed.billing_block is None
    assert resumed.customer_id == CUSTOMER
    assert done.status == "completed" and done.runs == 2
    assert done.phase("generate_dossier").status == "completed"
    assert done.phase("finalize").status == "completed"
    queued = [lead for lead in leads if lead.queued]
    assert len(queued) == 3 and all(lead.dossier is not None for lead in queued)
    assert charged == {lead.lead_id: 1 for lead in queued}
    assert balance == 5 - 2
    assert done.counts.dossiers_done == 3
    assert events(logs, "job_resumed", paused.id)
    assert events(logs, "job_completed", paused.id)


class FailingAuditor(OfflineAuditor):
    """The offline auditor, except that the best-ranked lead's audit fails."""

    async def audit(self, lead: Lead) -> dict[str, Any]:
        if lead.queue_rank == 0:
            raise ConnectionError(f"could not reach {lead.website}")
        return await super().audit(lead)


async def test_non_billing_audit_failure(backends: Backends) -> None:
    """One failed audit ends the phase ``completed_with_failures``, refunds that lead's credit,
    and the job still finalizes and completes."""
    with capture() as logs:
        async with running(
            backends.store, backends.broker, backends.client, auditor=FailingAuditor()
        ) as harness:
            await harness.grant(CUSTOMER, LEAD_DISCOVERY, 1)
            await harness.grant(CUSTOMER, DOSSIER_RESEARCH, 3)
            await harness.start(CUSTOMER, "job-s4", max_leads=8, max_dossiers=3)
            job = await harness.job_until("job-s4", lambda job: job.workflow_status == "completed")
            leads = await harness.store.leads(job.id)
            charged = await charges(harness, job.id, DOSSIER_RESEARCH)
            balance = (await harness.store.balances(CUSTOMER))[DOSSIER_RESEARCH]

    failed = [lead for lead in leads if lead.dossier_error is not None]
    assert job.status == "completed"
    assert job.phase("generate_dossier").status == "completed_with_failures"
    assert job.phase("finalize").status == "completed"
    assert len(failed) == 1 and failed[0].queue_rank == 0
    assert failed[0].dossier_error is not None
    assert failed[0].dossier_error.name == "ConnectionError"
    assert charged[failed[0].lead_id] == 0
    assert sum(charged.values()) == 2 and balance == 1
    assert (job.counts.dossiers_done, job.counts.dossiers_failed) == (2, 1)
    assert events(logs, "job_completed", job.id)
