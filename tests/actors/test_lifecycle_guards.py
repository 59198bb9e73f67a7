"""What resume, cancel, pause and the end of a run write, and what each refuses, on the
embedded pair one call at a time (invariants 1, 4 and 6)."""

import json

import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.actors.completion import CompletionActor
from leadgen.actors.supervisor import Supervisor
from leadgen.errors import PausedForBilling, Superseded
from leadgen.messages.commands import CancelJob
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PhaseOutcome, WorkflowCompleted
from leadgen.store.models import Job
from leadgen.workflow.billing import pause_for_billing
from leadgen.workflow.lifecycle import cancel_job
from leadgen.workflow.resume import resume_job
from tests.actors.conftest import Rig, job_at, same_state
from tests.actors.test_guards import logged


async def pause_dossiers(rig: Rig, job: Job, *, required: int, available: int) -> None:
    """Pause ``job`` in generate_dossier for lack of dossier credits."""
    await pause_for_billing(
        rig.services,
        job,
        phase=c.GENERATE_DOSSIER,
        feature_id=c.DOSSIER_RESEARCH,
        required=required,
        available=available,
    )


async def paused_job(rig: Rig, credits: int) -> None:
    """Job ``job-1`` paused in generate_dossier needing 2 credits; ``credits`` in the balance."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    job = job.model_copy(update={"run_ended": True, "error": None})
    await rig.store.insert_job(job)
    if credits:
        await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, credits, "grant:g")


async def test_resume_starts_a_new_run_from_the_paused_phase(rig: Rig) -> None:
    """A resume with enough credits writes a new run from the paused phase, clears the pause,
    records its key, and sends ``job.resumed`` and the paused phase's task."""
    await paused_job(rig, credits=2)
    before = await rig.store.get_job("job-1")
    assert before is not None
    after = await resume_job(rig.services, before, message_id="cmd-r", correlation_id="corr-r")
    assert after is not None
    assert after.workflow_id != before.workflow_id and after.runs == 2
    assert (after.status, after.workflow_status, after.run_ended) == ("running", "running", False)
    assert after.billing_block is None and after.audit_plan is None and after.error is None
    assert after.resumed_from == before.workflow_id
    assert {"cmd-r", f"resume:{before.workflow_id}"} <= set(after.command_ids)
    assert after.phase(c.GENERATE_DOSSIER).status == "running"
    assert after.phase(c.FINALIZE).status == "pending"
    assert after.phase(c.SCORE).status == "completed"
    tasks = rig.sent(c.phase_key(c.GENERATE_DOSSIER))
    assert [(t["workflow_id"], t["phase"]) for t in tasks] == [
        (after.workflow_id, c.GENERATE_DOSSIER)
    ]
    assert rig.event_types() == ["leadgen.job.resumed.v1"]
    stored = await rig.store.get_job("job-1")
    assert after.correlation_id == "corr-r" and stored is not None and stored.outbox == {}


async def test_resume_short_of_credits_is_refused_with_the_real_balance(rig: Rig) -> None:
    """A customer with no balance at all is refused; the block shows 0 available."""
    await paused_job(rig, credits=0)
    job = await rig.store.get_job("job-1")
    assert job is not None
    with capture_logs() as logs:
        assert await resume_job(rig.services, job, correlation_id="corr-x") is None
    after = await rig.store.get_job("job-1")
    assert after is not None and after.status == "paused_for_upgrade"
    assert after.billing_block is not None and after.billing_block.available == 0
    assert after.workflow_id == job.workflow_id and after.runs == 1
    assert rig.event_types() == ["leadgen.job.resume_refused.v1"]
    assert logged(logs, "job_resume_refused")


async def test_resume_with_one_credit_short_is_refused(rig: Rig) -> None:
    """One credit fewer than the block requires is still a refusal (the check is not loose)."""
    await paused_job(rig, credits=1)
    job = await rig.store.get_job("job-1")
    assert job is not None
    assert await resume_job(rig.services, job) is None
    after = await rig.store.get_job("job-1")
    assert after is not None and after.status == "paused_for_upgrade"
    assert after.billing_block is not None and after.billing_block.available == 1


async def test_resume_of_a_running_job_is_refused_and_changes_nothing(rig: Rig) -> None:
    """A job that was never paused answers a resume with a refusal naming its status."""
    job = job_at(c.SCORE)
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        assert await resume_job(rig.services, job, correlation_id="corr-y") is None
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.event_types() == ["leadgen.job.resume_refused.v1"]
    assert [e["reason"] for e in logs if e["event"] == "job_resume_refused"] == ["job is running"]


async def test_same_resume_twice_resumes_once(rig: Rig) -> None:
    """The same resume, by message id or replayed without one, starts one new run only."""
    await paused_job(rig, credits=5)
    job = await rig.store.get_job("job-1")
    assert job is not None
    first = await resume_job(rig.services, job, message_id="cmd-1")
    assert first is not None
    fresh = await rig.store.get_job("job-1")
    assert fresh is not None
    assert await resume_job(rig.services, fresh, message_id="cmd-1") is None
    assert await resume_job(rig.services, fresh, replay=True) is None
    after = await rig.store.get_job("job-1")
    assert after is not None and after.runs == 2 and after.workflow_id == first.workflow_id
    assert rig.event_types() == ["leadgen.job.resumed.v1"]


async def test_cancel_of_a_running_job_ends_its_run(rig: Rig) -> None:
    """Cancelling a running job marks it cancelled, ends the run and sends its completion."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    command = CancelJob(job_id=job.id, customer_id="acme", reason="enough")
    after = await cancel_job(rig.services, job, command, correlation_id="corr-c")
    assert after is not None
    assert (after.status, after.run_ended, after.cancel_reason) == ("cancelled", True, "enough")
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["canceled"]


@pytest.mark.parametrize(
    ("status", "customer"),
    [("completed", "acme"), ("failed", "acme"), ("running", "mallory")],
)
async def test_cancel_refused_for_ended_jobs_and_other_customers(
    rig: Rig, status: str, customer: str
) -> None:
    """A finished job, or a cancel from another customer, changes nothing and is refused."""
    job = job_at(c.FINALIZE, status=status)
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        after = await cancel_job(rig.services, job, CancelJob(job_id=job.id, customer_id=customer))
    assert after is None
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.sent(c.COMPLETION_KEY) == []
    assert logged(logs, "command_refused")


async def test_pause_of_a_superseded_run_raises_superseded(rig: Rig) -> None:
    """A pause decided by an older run leaves the current run alone (invariant 4)."""
    current = job_at(c.GENERATE_DOSSIER, workflow_id="run-2")
    await rig.store.insert_job(current)
    stale = current.model_copy(update={"workflow_id": "run-1"})
    with pytest.raises(Superseded):
        await pause_dossiers(rig, stale, required=1, available=0)
    assert same_state(current, await rig.store.get_job(current.id))
    assert rig.event_types() == []


async def test_pause_of_an_ended_job_changes_nothing(rig: Rig) -> None:
    """Only a running job can be paused: a completed one stays completed."""
    job = job_at(c.FINALIZE, status="completed")
    await rig.store.insert_job(job)
    with pytest.raises(Superseded):
        await pause_dossiers(rig, job, required=1, available=0)
    assert same_state(job, await rig.store.get_job(job.id))


async def test_pause_stores_block_event_and_outcome(rig: Rig) -> None:
    """A pause writes the block, the paused phase and workflow status, and sends the event and
    the BillingError outcome with its code."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    with capture_logs() as logs, pytest.raises(PausedForBilling, match="paused for billing"):
        await pause_dossiers(rig, job, required=3, available=1)
    [line] = [e for e in logs if e["event"] == "job_paused_for_billing"]
    assert {k: line[k] for k in ("job_id", "customer_id", "workflow_id", "phase")} == {
        "job_id": job.id,
        "customer_id": "acme",
        "workflow_id": job.workflow_id,
        "phase": c.GENERATE_DOSSIER,
    }
    assert (line["feature_id"], line["required"], line["available"]) == (c.DOSSIER_RESEARCH, 3, 1)
    paused = rig.services.metrics.value(
        "leadgen_billing_pauses_total", feature_id=c.DOSSIER_RESEARCH, phase=c.GENERATE_DOSSIER
    )
    assert paused == 1
    [announced] = [json.loads(m.body) for m in rig.broker.messages(rig.events)]
    assert (
        announced["status"] == "paused_for_upgrade" and announced["billing_block"]["required"] == 3
    )
    after = await rig.store.get_job(job.id)
    assert after is not None
    assert (after.status, after.workflow_status) == ("paused_for_upgrade", "paused")
    assert after.phase(c.GENERATE_DOSSIER).status == "paused"
    block = after.billing_block
    assert block is not None and (block.required, block.available) == (3, 1)
    assert "dossier_research needs 3 credit(s), 1 available" in block.message
    [report] = rig.sent(c.SUPERVISOR_KEY)
    assert report["error"]["code"] == "billing_pause" and report["billing_block"]["required"] == 3
    assert rig.event_types() == ["leadgen.job.paused.v1"]


async def test_failure_outcome_of_a_paused_job_changes_nothing(rig: Rig) -> None:
    """A late failure of a paused job's phase neither fails the job nor ends its run again."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    error = ErrorEnvelope.failure("ProviderError", "late")
    await rig.deliver(
        Supervisor,
        PhaseOutcome(
            job_id=job.id,
            workflow_id=job.workflow_id,
            phase=c.GENERATE_DOSSIER,
            status="failed",
            error=error,
        ),
    )
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.sent(c.COMPLETION_KEY) == []


async def test_a_run_ends_once(rig: Rig) -> None:
    """Two finalize outcomes of one run end it once: one WorkflowCompleted."""
    job = job_at(c.FINALIZE, status="completed")
    await rig.store.insert_job(job)
    outcome = PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=c.FINALIZE)
    await rig.deliver(Supervisor, outcome)
    await rig.deliver(Supervisor, outcome)
    after = await rig.store.get_job(job.id)
    assert after is not None and after.run_ended
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["success"]


async def test_duplicate_completion_announces_once(rig: Rig) -> None:
    """A completion delivered twice (not flagged redelivered) publishes ``job.completed`` once."""
    job = job_at(c.FINALIZE, status="completed")
    await rig.store.insert_job(job)
    done = WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result="success")
    await rig.deliver(CompletionActor, done)
    await rig.deliver(CompletionActor, done)
    assert rig.event_types() == ["leadgen.job.completed.v1"]
    assert rig.services.metrics.value("leadgen_jobs_finished_total", status="completed") == 1
