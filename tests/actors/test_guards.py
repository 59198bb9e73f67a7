"""Each guard against completing a paused job, proven on its own (invariants 1, 2 and 4).

Every guard test has a positive twin showing the same path does act on a running job, so
that a guard test cannot pass merely because the path does nothing at all."""

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.actors.completion import CompletionActor
from leadgen.actors.finalize import FinalizeActor
from leadgen.actors.supervisor import Supervisor
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PhaseOutcome, PhaseTask, WorkflowCompleted
from leadgen.store.models import Counts
from leadgen.workflow.jobs import complete_flow
from tests.actors.conftest import Rig, job_at, same_state


def logged(logs: Sequence[Mapping[str, Any]], event: str) -> bool:
    return any(entry["event"] == event for entry in logs)


async def test_finalize_actor_skips_paused_job(rig: Rig) -> None:
    """The finalize actor, asked to run for a paused job, logs it and changes nothing."""
    job = job_at(c.FINALIZE, status="paused_for_upgrade", phase_status="pending")
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        await rig.deliver(
            FinalizeActor, PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=c.FINALIZE)
        )
    assert logged(logs, "finalize_skipped_paused")
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.sent(c.SUPERVISOR_KEY) == []


async def test_finalize_actor_completes_running_job(rig: Rig) -> None:
    """Positive twin: for a running job finalize completes it and reports to the supervisor."""
    job = job_at(c.FINALIZE)
    await rig.store.insert_job(job)
    await rig.deliver(
        FinalizeActor, PhaseTask(job_id=job.id, workflow_id=job.workflow_id, phase=c.FINALIZE)
    )
    after = await rig.store.get_job(job.id)
    assert after is not None and after.status == "completed"
    assert [m["phase"] for m in rig.sent(c.SUPERVISOR_KEY)] == [c.FINALIZE]


async def test_complete_flow_refuses_paused_job(rig: Rig) -> None:
    """``complete_flow`` refuses a paused job even when handed a stale running copy of it."""
    running = job_at(c.FINALIZE)
    paused = job_at(c.FINALIZE, status="paused_for_upgrade", phase_status="pending")
    await rig.store.insert_job(paused)
    with capture_logs() as logs:
        result = await complete_flow(rig.store, running, Counts(leads=3, dossiers_done=2))
    assert result is None
    assert logged(logs, "complete_flow_skipped_paused")
    assert same_state(paused, await rig.store.get_job(paused.id))


async def test_complete_flow_completes_running_job(rig: Rig) -> None:
    """Positive twin: ``complete_flow`` completes a running job with its counts."""
    job = job_at(c.FINALIZE)
    await rig.store.insert_job(job)
    result = await complete_flow(rig.store, job, Counts(leads=3, dossiers_done=2))
    assert result is not None and result.status == "completed"
    assert result.counts == Counts(leads=3, dossiers_done=2)


async def test_completion_actor_skips_paused_job(rig: Rig) -> None:
    """The completion handler sees a paused job and does nothing, whatever the result."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        for result in ("success", "failed"):
            await rig.deliver(
                CompletionActor,
                WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result=result),
            )
    assert [e["event"] for e in logs].count("on_complete_skipped_paused") == 2
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.event_types() == []


async def test_completion_actor_skips_stale_run(rig: Rig) -> None:
    """After a resume, the completion of the superseded run does nothing to the new run."""
    resumed = job_at(c.GENERATE_DOSSIER, workflow_id="run-2")
    await rig.store.insert_job(resumed)
    with capture_logs() as logs:
        await rig.deliver(
            CompletionActor,
            WorkflowCompleted(job_id=resumed.id, workflow_id="run-1", result="success"),
        )
    assert logged(logs, "on_complete_skipped_stale")
    assert same_state(resumed, await rig.store.get_job(resumed.id))
    assert rig.event_types() == []


async def test_completion_actor_completes_current_run(rig: Rig) -> None:
    """Positive twin: the completion of the current run marks the job and announces it."""
    job = job_at(c.FINALIZE)
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        await rig.deliver(
            CompletionActor,
            WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result="success"),
        )
    after = await rig.store.get_job(job.id)
    assert after is not None and (after.status, after.workflow_status) == ("completed", "completed")
    assert logged(logs, "job_completed")
    assert rig.event_types() == ["leadgen.job.completed.v1"]


async def billing_outcome(rig: Rig, error: ErrorEnvelope) -> list[MutableMapping[str, Any]]:
    """Deliver a generate_dossier outcome carrying ``error`` to the supervisor of a running job."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    with capture_logs() as logs:
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
    return logs


async def assert_halted_for_billing(rig: Rig, logs: Sequence[Mapping[str, Any]]) -> None:
    """The run ended without finalize; the job is paused, so the completion will skip it."""
    assert logged(logs, "billing_pause_detected")
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["success"]
    job = await rig.store.get_job("job-1")
    assert job is not None and job.status == "paused_for_upgrade" and job.run_ended
    assert job.workflow_status == "paused"
    assert job.phase(c.GENERATE_DOSSIER).status == "paused"
    assert job.phase(c.FINALIZE).status == "pending"
    assert job.billing_block is not None and job.billing_block.feature_id == c.DOSSIER_RESEARCH


async def test_supervisor_billing_envelope_with_name_only(rig: Rig) -> None:
    """An envelope named BillingError with no message halts the run before finalize."""
    logs = await billing_outcome(rig, ErrorEnvelope(name="BillingError", message=""))
    await assert_halted_for_billing(rig, logs)


async def test_supervisor_billing_envelope_with_message_only(rig: Rig) -> None:
    """A generic error whose message says the workflow paused for billing halts the run too."""
    text = "activity failed: Workflow paused for billing: dossier_research needs 2 credit(s)"
    logs = await billing_outcome(rig, ErrorEnvelope(name="Error", message=text))
    await assert_halted_for_billing(rig, logs)


async def test_supervisor_fails_job_on_a_leadgen_failure_quoting_the_marker(rig: Rig) -> None:
    """A failure leadgen made (it has a code) whose text quotes the pause marker fails the job
    instead of pausing it with an invented block."""
    text = "upstream answered: Workflow paused for billing: dossier_research needs 1 credit(s)"
    logs = await billing_outcome(rig, ErrorEnvelope.failure("ProviderError", text))
    assert not logged(logs, "billing_pause_detected")
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["failed"]
    job = await rig.store.get_job("job-1")
    assert job is not None and job.billing_block is None and job.error is not None


async def test_foreign_pause_without_block_reads_the_real_balance(rig: Rig) -> None:
    """A codeless pause from another runtime pauses the job with the balance the store holds."""
    await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, 2, "grant:x")
    text = "Uncaught BillingError: Workflow paused for billing (from the audit service)"
    logs = await billing_outcome(rig, ErrorEnvelope(name="Error", message=text))
    await assert_halted_for_billing(rig, logs)
    job = await rig.store.get_job("job-1")
    assert job is not None and job.billing_block is not None
    assert (job.billing_block.available, job.billing_block.required) == (2, 3)


async def test_supervisor_fails_job_on_other_error(rig: Rig) -> None:
    """Positive twin: any other error fails the run, and its completion says so."""
    logs = await billing_outcome(rig, ErrorEnvelope(name="Error", message="boom"))
    assert not logged(logs, "billing_pause_detected")
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    [completion] = rig.sent(c.COMPLETION_KEY)
    assert completion["result"] == "failed" and completion["error"]["message"] == "boom"
    job = await rig.store.get_job("job-1")
    assert job is not None and job.run_ended and job.error is not None
    assert job.phase(c.GENERATE_DOSSIER).status == "failed"
    assert job.phase(c.GENERATE_DOSSIER).finished_at is not None


async def test_supervisor_never_dispatches_finalize_for_paused_job(rig: Rig) -> None:
    """A late success outcome of a paused job's phase does not move it to finalize."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    await rig.deliver(
        Supervisor,
        PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=c.GENERATE_DOSSIER),
    )
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    assert same_state(job, await rig.store.get_job(job.id))


async def test_redelivered_success_of_a_job_paused_meanwhile_does_not_reach_finalize(
    rig: Rig,
) -> None:
    """A generate_dossier success outcome redelivered after the job paused dispatches nothing:
    the supervisor's own layer of invariant 2, whatever the delivery flags say."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    outcome = PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=c.GENERATE_DOSSIER)
    await rig.deliver(Supervisor, outcome)
    await rig.deliver(Supervisor, outcome, redelivered=True)
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    assert same_state(job, await rig.store.get_job(job.id))


async def test_redelivered_outcome_publishes_what_its_first_delivery_stored(rig: Rig) -> None:
    """Positive twin: a redelivered outcome whose transition was stored (and not published)
    dispatches the next phase from the job's outbox, once."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    outcome = PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=c.GENERATE_DOSSIER)
    rig.services.publisher.send = _stopped  # type: ignore[method-assign]
    with pytest.raises(Stopped):
        await rig.deliver(Supervisor, outcome)
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    del rig.services.publisher.send
    await rig.deliver(Supervisor, outcome)  # a duplicate: nothing to do, nothing to recover
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    await rig.deliver(Supervisor, outcome, redelivered=True)
    assert [m["phase"] for m in rig.sent(c.phase_key(c.FINALIZE))] == [c.FINALIZE]
    after = await rig.store.get_job(job.id)
    assert after is not None and after.outbox == {}


class Stopped(Exception):
    """The worker stopped here."""


async def _stopped(*entries: object) -> None:
    """A publish that never happens: the worker stops before it."""
    raise Stopped


async def test_supervisor_dispatches_finalize_for_running_job(rig: Rig) -> None:
    """Positive twin: the same outcome of a running job dispatches finalize."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    await rig.deliver(
        Supervisor,
        PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=c.GENERATE_DOSSIER),
    )
    assert [m["phase"] for m in rig.sent(c.phase_key(c.FINALIZE))] == [c.FINALIZE]


async def test_supervisor_ignores_outcome_of_superseded_run(rig: Rig) -> None:
    """An outcome of an older run changes nothing and dispatches nothing (invariant 4)."""
    job = job_at(c.GENERATE_DOSSIER, workflow_id="run-2")
    await rig.store.insert_job(job)
    await rig.deliver(
        Supervisor,
        PhaseOutcome(job_id=job.id, workflow_id="run-1", phase=c.GENERATE_DOSSIER),
    )
    assert rig.sent(c.phase_key(c.FINALIZE)) == []
    assert same_state(job, await rig.store.get_job(job.id))
