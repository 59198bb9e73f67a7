"""The worker's metrics move by exactly the right amounts through a billing pause, a refused
and an accepted resume, a completion, a stale completion, a refunded audit and a dead-lettered
command."""

from typing import Any

import pytest

from leadgen import constants as c
from leadgen.messages.tasks import WorkflowCompleted
from leadgen.providers.offline import OfflineAuditor
from leadgen.store.models import Lead
from leadgen.workflow.metrics import Metrics
from leadgen.workflow.outbox import completed
from tests.support.backends import Backends
from tests.support.harness import Harness, running

CUSTOMER = "acme"


def metrics(harness: Harness) -> Metrics:
    """The metrics of the harness's worker."""
    return harness.worker.services.metrics


def followed(m: Metrics) -> dict[str, float]:
    """The samples these tests follow, by a short name."""
    return {
        "paused": m.value(
            "leadgen_billing_pauses_total",
            feature_id=c.DOSSIER_RESEARCH,
            phase=c.GENERATE_DOSSIER,
        ),
        "skipped_paused": m.value("leadgen_completions_skipped_total", reason="paused"),
        "skipped_stale": m.value("leadgen_completions_skipped_total", reason="stale"),
        "charged_discovery": m.value("leadgen_credits_charged_total", feature_id=c.LEAD_DISCOVERY),
        "charged_dossier": m.value("leadgen_credits_charged_total", feature_id=c.DOSSIER_RESEARCH),
        "refunded_dossier": m.value(
            "leadgen_credits_refunded_total", feature_id=c.DOSSIER_RESEARCH
        ),
        "resumed": m.value("leadgen_resumes_total", outcome="resumed"),
        "refused": m.value("leadgen_resumes_total", outcome="refused"),
        "completed": m.value("leadgen_jobs_finished_total", status="completed"),
        "failed": m.value("leadgen_jobs_finished_total", status="failed"),
    }


async def reach(harness: Harness, name: str, expected: float, **labels: str) -> None:
    """Wait until the sample ``name{labels}`` reaches ``expected``."""
    m = metrics(harness)
    await harness.until(lambda: m.value(name, **labels) >= expected, timeout=30)


async def test_pause_resume_and_completion(backends: Backends) -> None:
    """One dossier credit for three dossiers: one pause, one skipped completion, then a
    refused resume, and after a top-up a resume whose run charges two more and completes."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        m = metrics(harness)
        await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
        await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 1)
        await harness.start(CUSTOMER, "job-m", max_leads=5, max_dossiers=3)
        first = await harness.job_until("job-m", lambda job: job.status == "paused_for_upgrade")
        await reach(harness, "leadgen_completions_skipped_total", 1, reason="paused")
        at_pause = followed(m)

        await harness.resume(CUSTOMER, "job-m")
        await reach(harness, "leadgen_resumes_total", 1, outcome="refused")
        await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 2, auto_resume=False)
        await harness.resume(CUSTOMER, "job-m")
        await reach(harness, "leadgen_jobs_finished_total", 1, status="completed")

        # The completion of the paused run, delivered once more: stale now.
        await harness.worker.services.publisher.send(
            completed(
                WorkflowCompleted(job_id="job-m", workflow_id=first.workflow_id, result="success"),
                None,
            )
        )
        await reach(harness, "leadgen_completions_skipped_total", 1, reason="stale")
        at_end = followed(m)
        phases = {p: m.value("leadgen_phase_seconds_count", phase=p) for p in c.PHASES}
        commands_acked = m.value("leadgen_messages_total", queue=c.COMMANDS_QUEUE, outcome="acked")

    nothing = dict.fromkeys(at_pause, 0.0)
    assert at_pause == {
        **nothing,
        "paused": 1,
        "skipped_paused": 1,
        "charged_discovery": 1,
        "charged_dossier": 1,
    }
    assert at_end == {
        **nothing,
        "paused": 1,
        "skipped_paused": 1,
        "skipped_stale": 1,
        "charged_discovery": 1,
        "charged_dossier": 3,
        "resumed": 1,
        "refused": 1,
        "completed": 1,
    }
    # generate_dossier paused in run 1 and finished in run 2: every phase finished once.
    assert phases == dict.fromkeys(c.PHASES, 1.0)
    assert commands_acked == 6  # three grants, one start, two resumes


class FailingAuditor(OfflineAuditor):
    """The offline auditor, except that the best-ranked lead's audit fails."""

    async def audit(self, lead: Lead) -> dict[str, Any]:
        if lead.queue_rank == 0:
            raise ConnectionError(f"could not reach {lead.website}")
        return await super().audit(lead)


@pytest.mark.parametrize("backends", ["embedded"], indirect=True)
async def test_failed_audit_is_refunded_once(backends: Backends) -> None:
    """A failed audit counts one refund; the job still counts as completed."""
    async with running(
        backends.store, backends.broker, backends.client, auditor=FailingAuditor()
    ) as harness:
        await harness.grant(CUSTOMER, c.LEAD_DISCOVERY, 1)
        await harness.grant(CUSTOMER, c.DOSSIER_RESEARCH, 3)
        await harness.start(CUSTOMER, "job-f", max_leads=5, max_dossiers=3)
        await reach(harness, "leadgen_jobs_finished_total", 1, status="completed")
        counted = followed(metrics(harness))

    assert counted == {
        **dict.fromkeys(counted, 0.0),
        "charged_discovery": 1,
        "charged_dossier": 3,
        "refunded_dossier": 1,
        "completed": 1,
    }


@pytest.mark.parametrize("backends", ["embedded"], indirect=True)
async def test_dead_lettered_command_counts_as_rejected(backends: Backends) -> None:
    """A command that is not JSON counts once as rejected on ``leadgen.commands``."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        await harness.command(c.START_KEY, b"{not json")
        await reach(
            harness, "leadgen_messages_total", 1, queue=c.COMMANDS_QUEUE, outcome="rejected"
        )
        m = metrics(harness)
        rejected = m.value("leadgen_messages_total", queue=c.COMMANDS_QUEUE, outcome="rejected")
        acked = m.value("leadgen_messages_total", queue=c.COMMANDS_QUEUE, outcome="acked")
        handled = m.value("leadgen_message_seconds_count", queue=c.COMMANDS_QUEUE)

    assert (rejected, acked, handled) == (1, 0, 1)
