"""What the supervisor and the completion actor write and say on each kind of outcome, the
races their guards decide, and what they do with a message that can never be handled
(invariants 1, 2, 4, 8 and 10), on the embedded pair one message at a time."""

import json
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture, capture_logs

from leadgen import constants as c
from leadgen.actors.completion import CompletionActor
from leadgen.actors.supervisor import Supervisor
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PhaseOutcome, WorkflowCompleted
from leadgen.store.models import Counts, Job
from leadgen.workflow.resume import resume_job
from tests.actors.conftest import Rig, job_at, pause, same_state

BILLING = ErrorEnvelope(name="BillingError", message="")


def lines(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def events(rig: Rig) -> list[dict[str, Any]]:
    return [json.loads(m.body) for m in rig.broker.messages(rig.events)]


def report(job: Job, phase: str, **fields: Any) -> PhaseOutcome:
    return PhaseOutcome(job_id=job.id, workflow_id=job.workflow_id, phase=phase, **fields)


async def stored(rig: Rig, job: Job) -> Job:
    after = await rig.store.get_job(job.id)
    assert after is not None
    return after


# -- failures -----------------------------------------------------------------------------


async def test_failure_records_the_phase_detail_and_the_error(rig: Rig) -> None:
    """A failed phase keeps the detail its actor reported; the job's error is the envelope."""
    job = job_at(c.ENRICH)
    await rig.store.insert_job(job)
    error = ErrorEnvelope.failure("ProviderError", "site down")
    await rig.deliver(Supervisor, report(job, c.ENRICH, error=error, detail={"tried": 3}))
    after = await stored(rig, job)
    assert after.phase(c.ENRICH).status == "failed"
    assert after.phase(c.ENRICH).detail == {"tried": 3}
    assert after.phase(c.ENRICH).finished_at is not None
    assert after.error == error and after.run_ended
    [done] = rig.sent(c.COMPLETION_KEY)
    assert (done["result"], done["error"]["name"]) == ("failed", "ProviderError")
    samples = rig.services.metrics.value("leadgen_phase_seconds_count", phase=c.ENRICH)
    assert samples == 1


async def test_failure_without_an_error_names_the_phase(rig: Rig) -> None:
    """An outcome marked failed that carries no error fails the job as ``PhaseFailed``."""
    job = job_at(c.SCORE)
    await rig.store.insert_job(job)
    await rig.deliver(Supervisor, report(job, c.SCORE, status="failed"))
    after = await stored(rig, job)
    assert after.error is not None
    assert (after.error.name, after.error.message, after.error.code) == (
        "PhaseFailed",
        c.SCORE,
        "error",
    )


async def test_a_run_fails_once(rig: Rig) -> None:
    """A second failure of the same run (another audit, a redelivery) keeps the first error
    and announces the end of the run once."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    first = ErrorEnvelope.failure("ProviderError", "first")
    await rig.deliver(Supervisor, report(job, c.GENERATE_DOSSIER, error=first))
    second = ErrorEnvelope.failure("ProviderError", "second")
    await rig.deliver(Supervisor, report(job, c.GENERATE_DOSSIER, error=second))
    after = await stored(rig, job)
    assert after.error == first
    assert len(rig.sent(c.COMPLETION_KEY)) == 1


async def test_failure_handled_while_a_resume_lands_leaves_the_new_run_alone(rig: Rig) -> None:
    """A failure of run 1 decided just before a resume started run 2 does not fail run 2."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, 5, "grant:g")
    running = job.model_copy(update={"status": "running"})  # the supervisor's stale read
    rig.race(lambda: resume_job(rig.services, job))
    error = ErrorEnvelope.failure("ProviderError", "late")
    await Supervisor(rig.services).fail(running, c.GENERATE_DOSSIER, error, {})
    after = await stored(rig, job)
    assert (after.status, after.runs, after.error, after.run_ended) == ("running", 2, None, False)
    assert rig.sent(c.COMPLETION_KEY) == []


async def test_advance_times_the_finished_and_the_next_phase(rig: Rig) -> None:
    """A phase's success records when it finished, with its detail, and the next phase starts
    at the same instant."""
    job = job_at(c.SCORE)
    await rig.store.insert_job(job)
    await rig.deliver(Supervisor, report(job, c.SCORE, detail={"scored": 5}))
    after = await stored(rig, job)
    done, following = after.phase(c.SCORE), after.phase(c.QUEUE_AUDITS)
    assert (done.status, done.detail, following.status) == ("completed", {"scored": 5}, "running")
    assert done.finished_at is not None and done.finished_at == following.started_at
    assert rig.services.metrics.value("leadgen_phase_seconds_count", phase=c.SCORE) == 1


async def test_advance_sends_the_next_task_under_the_jobs_correlation_id(rig: Rig) -> None:
    """The next phase's task carries the job's correlation id, and the step is logged with
    the finished phase's status and the next phase."""
    job = job_at(c.ENRICH).model_copy(update={"correlation_id": "corr-j"})
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        await rig.deliver(Supervisor, report(job, c.ENRICH))
    with capture_logs() as again:
        await rig.deliver(Supervisor, report(job, c.ENRICH), redelivered=True)
    [task] = rig.broker.messages(rig.watch[c.phase_key(c.SCORE)])
    assert task.correlation_id == "corr-j"
    [line] = lines(logs, "phase_completed")
    assert (line["status"], line["next_phase"]) == ("completed", c.SCORE)
    assert lines(again, "phase_completed") == []


async def test_success_of_a_cancelled_job_dispatches_nothing(rig: Rig) -> None:
    """A phase that reports success after its job was cancelled starts no next phase."""
    job = job_at(c.ENRICH, status="cancelled")
    await rig.store.insert_job(job)
    await rig.deliver(Supervisor, report(job, c.ENRICH))
    assert same_state(job, await rig.store.get_job(job.id))
    assert rig.sent(c.phase_key(c.SCORE)) == []


async def test_success_handled_while_a_resume_lands_leaves_the_new_run_alone(rig: Rig) -> None:
    """A late success of run 1's paused phase, handled just as a resume restarts that phase in
    run 2, neither completes it for run 2 nor dispatches finalize (invariants 2 and 4)."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, 5, "grant:g")
    # The supervisor reads the paused job, finds nothing to advance, and reads it again.
    rig.race(lambda: resume_job(rig.services, job), before="get_job", skip=1)
    await rig.deliver(Supervisor, report(job, c.GENERATE_DOSSIER))
    after = await stored(rig, job)
    assert after.runs == 2 and after.phase(c.GENERATE_DOSSIER).status == "running"
    assert rig.sent(c.phase_key(c.FINALIZE)) == []


async def test_outcome_of_an_unknown_job_is_logged_and_dropped(rig: Rig) -> None:
    """An outcome for a job that does not exist sends nothing and names the job in the log."""
    with capture_logs() as logs:
        await rig.deliver(Supervisor, report(job_at(c.SCORE, job_id="ghost"), c.SCORE))
    assert [line["job_id"] for line in lines(logs, "outcome_for_unknown_job")] == ["ghost"]
    assert rig.sent(c.phase_key(c.QUEUE_AUDITS)) == []


async def test_stale_outcome_is_logged_with_its_run(rig: Rig) -> None:
    """An outcome of a superseded run logs which run it came from and changes nothing."""
    job = job_at(c.SCORE, workflow_id="run-2")
    await rig.store.insert_job(job)
    stale = report(job, c.SCORE).model_copy(update={"workflow_id": "run-1"})
    with capture_logs() as logs:
        await rig.deliver(Supervisor, stale)
    [line] = lines(logs, "outcome_skipped_stale")
    assert line["outcome_workflow_id"] == "run-1"
    assert same_state(job, await rig.store.get_job(job.id))


# -- outcomes that can never be handled -------------------------------------------------------


async def test_outcome_given_up_fails_its_run_with_the_reason(rig: Rig) -> None:
    """An outcome dead-lettered after its attempts fails the job as ``OutcomeFailed`` with the
    phase and the reason; one of another run, or of an unknown job, changes nothing."""
    job = job_at(c.ENRICH, workflow_id="run-2")
    await rig.store.insert_job(job)
    supervisor = Supervisor(rig.services)
    await supervisor.give_up(report(job, c.ENRICH).model_copy(update={"workflow_id": "x"}), "no")
    await supervisor.give_up(report(job_at(c.ENRICH, job_id="ghost"), c.ENRICH), "no")
    assert same_state(job, await rig.store.get_job(job.id))
    await supervisor.give_up(report(job, c.ENRICH), "store refused it")
    after = await stored(rig, job)
    assert after.error == ErrorEnvelope.failure("OutcomeFailed", "enrich: store refused it")
    assert after.phase(c.ENRICH).status == "failed" and after.run_ended
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["failed"]


async def test_completion_given_up_fails_a_running_job_once(rig: Rig) -> None:
    """A completion that can never be handled fails its running job as ``CompletionFailed``
    and announces ``job.failed``; a job of another run, or already ended, is left alone."""
    job = job_at(c.FINALIZE, workflow_id="run-2")
    ended = job_at(c.FINALIZE, job_id="job-done", status="completed")
    await rig.store.insert_job(job)
    await rig.store.insert_job(ended)
    actor = CompletionActor(rig.services)
    done = WorkflowCompleted(job_id=job.id, workflow_id="run-2", result="success")
    await actor.give_up(done.model_copy(update={"workflow_id": "run-1"}), "bad")
    await actor.give_up(done.model_copy(update={"job_id": "ghost"}), "bad")
    await actor.give_up(done.model_copy(update={"job_id": ended.id, "workflow_id": "run-1"}), "x")
    assert same_state(job, await rig.store.get_job(job.id))
    assert same_state(ended, await rig.store.get_job(ended.id))
    await actor.give_up(done, "unreadable")
    after = await stored(rig, job)
    assert (after.status, after.workflow_status) == ("failed", "failed")
    assert after.error == ErrorEnvelope.failure("CompletionFailed", "unreadable")
    [failed] = events(rig)
    assert failed["type"] == "leadgen.job.failed.v1"
    assert failed["error"]["name"] == "CompletionFailed" and failed["status"] == "failed"


# -- billing halts ------------------------------------------------------------------------


async def test_halt_after_the_actors_pause_ends_the_run_without_pausing_again(rig: Rig) -> None:
    """When the actor stored the pause, the supervisor only ends the run: one success
    completion, the block untouched, no second pause event or log line; a redelivery of the
    same outcome ends nothing twice."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    await pause(
        rig, job, phase=c.GENERATE_DOSSIER, feature_id=c.DOSSIER_RESEARCH, required=2, available=1
    )
    paused = await stored(rig, job)
    [outcome] = rig.sent(c.SUPERVISOR_KEY)
    with capture_logs() as logs:
        await rig.deliver(Supervisor, PhaseOutcome.model_validate(outcome))
        await rig.deliver(Supervisor, PhaseOutcome.model_validate(outcome), redelivered=True)
    after = await stored(rig, job)
    assert after.run_ended and after.status == "paused_for_upgrade"
    assert after.billing_block == paused.billing_block
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["success"]
    assert rig.event_types() == ["leadgen.job.paused.v1"]
    assert lines(logs, "job_paused_for_billing") == []
    [detected, _] = lines(logs, "billing_pause_detected")
    assert detected["error"]["name"] == "BillingError"


async def test_foreign_pause_carrying_its_block_is_stored_as_sent(rig: Rig) -> None:
    """A pause reported by another runtime with its own billing block pauses the job with
    that block, logs and counts the pause once, and announces it."""
    job = job_at(c.SOURCE)
    await rig.store.insert_job(job)
    block = {
        "feature_id": c.LEAD_DISCOVERY,
        "phase": c.SOURCE,
        "required": 1,
        "available": 0,
        "paused_at": "2026-12-01T00:00:00Z",
        "message": "Workflow paused for billing: from elsewhere",
    }
    with capture_logs() as logs:
        await rig.deliver(Supervisor, report(job, c.SOURCE, error=BILLING, billing_block=block))
    after = await stored(rig, job)
    assert after.billing_block is not None
    assert after.billing_block.message == block["message"]
    assert (after.status, after.run_ended) == ("paused_for_upgrade", True)
    assert [line["feature_id"] for line in lines(logs, "job_paused_for_billing")] == [
        c.LEAD_DISCOVERY
    ]
    assert rig.event_types() == ["leadgen.job.paused.v1"]
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["success"]


@pytest.mark.parametrize(
    ("phase", "feature", "balance", "required"),
    [
        (c.SOURCE, c.LEAD_DISCOVERY, 0, 1),
        (c.GENERATE_DOSSIER, c.DOSSIER_RESEARCH, 2, 3),
        (c.ENRICH, c.DOSSIER_RESEARCH, 0, 1),
    ],
)
async def test_foreign_pause_without_block_asks_for_one_more_than_the_balance(
    rig: Rig, phase: str, feature: str, balance: int, required: int
) -> None:
    """A codeless pause without a block is charged to the phase's feature (dossier research
    when the phase spends none), with the customer's real balance of that feature and one
    credit more as the requirement; its text is the sender's, else leadgen's own."""
    job = job_at(phase)
    await rig.store.insert_job(job)
    other = c.DOSSIER_RESEARCH if feature == c.LEAD_DISCOVERY else c.LEAD_DISCOVERY
    await rig.store.move_credits("acme", other, 7, "grant:other-feature")
    if balance:
        await rig.store.move_credits("acme", feature, balance, "grant:g")
    await rig.store.move_credits("someone-else", feature, 9, "grant:x")
    await rig.deliver(Supervisor, report(job, phase, error=BILLING))
    block = (await stored(rig, job)).billing_block
    assert block is not None
    assert (block.feature_id, block.phase, block.available, block.required) == (
        feature,
        phase,
        balance,
        required,
    )
    assert block.message.startswith("Workflow paused for billing")
    assert f"{feature} needs {required} credit(s), {balance} available" in block.message


async def test_foreign_pause_keeps_the_senders_text(rig: Rig) -> None:
    """The block of a pause from another runtime carries the text that runtime sent."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    text = "Uncaught BillingError: Workflow paused for billing (plan limit)"
    await rig.deliver(
        Supervisor, report(job, c.GENERATE_DOSSIER, error=ErrorEnvelope(name="X", message=text))
    )
    block = (await stored(rig, job)).billing_block
    assert block is not None and block.message == text


async def test_halt_handled_while_a_resume_lands_leaves_the_new_run_alone(rig: Rig) -> None:
    """A billing outcome of run 1 handled just as a resume starts run 2 neither pauses nor
    ends run 2 (invariant 4)."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    await rig.store.insert_job(job)
    await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, 5, "grant:g")
    rig.race(lambda: resume_job(rig.services, job))
    await rig.deliver(Supervisor, report(job, c.GENERATE_DOSSIER, error=BILLING))
    after = await stored(rig, job)
    assert (after.status, after.runs, after.run_ended) == ("running", 2, False)
    assert after.billing_block is None
    assert rig.sent(c.COMPLETION_KEY) == []


# -- completions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "logged_event", "field", "value"),
    [
        ("success", "completed", "job_completed", "counts", {"leads": 4}),
        ("failed", "failed", "job_failed", "error", {"name": "ProviderError"}),
        ("canceled", "cancelled", "job_cancelled", "reason", "enough"),
    ],
)
async def test_completion_announces_the_terminal_status(
    rig: Rig, result: str, status: str, logged_event: str, field: str, value: Any
) -> None:
    """The completion writes the terminal status, and its event and log line carry that
    status and what explains it (counts, error or cancel reason)."""
    job = job_at(c.FINALIZE).model_copy(
        update={
            "counts": Counts(leads=4),
            "error": ErrorEnvelope.failure("ProviderError", "down"),
            "cancel_reason": "enough",
        }
    )
    await rig.store.insert_job(job)
    with capture_logs() as logs:
        await rig.deliver(
            CompletionActor,
            WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result=result),
        )
    after = await stored(rig, job)
    assert (after.status, after.workflow_status) == (status, status)
    [announced] = events(rig)
    assert announced["status"] == status
    [line] = lines(logs, logged_event)
    if isinstance(value, dict):
        assert value.items() <= line[field].items()
        assert value.items() <= announced[field].items()
    else:
        assert line[field] == announced[field] == value


async def test_completion_skips_are_logged_and_counted_by_reason(rig: Rig) -> None:
    """A completion for a paused job (of its own run or an older one) is skipped as
    ``paused``, one of a superseded run as ``stale``, one of an unknown job is logged; each
    skip is counted under its reason and names what it skipped."""
    paused = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    resumed = job_at(c.ENRICH, job_id="job-2", workflow_id="run-2")
    for job in (paused, resumed):
        await rig.store.insert_job(job)
    done = WorkflowCompleted(job_id=paused.id, workflow_id="run-1", result="success")
    with capture_logs() as logs:
        await rig.deliver(CompletionActor, done)
        await rig.deliver(CompletionActor, done.model_copy(update={"workflow_id": "run-0"}))
        await rig.deliver(CompletionActor, done.model_copy(update={"job_id": "job-2"}))
        await rig.deliver(CompletionActor, done.model_copy(update={"job_id": "ghost"}))
    assert [line["result"] for line in lines(logs, "on_complete_skipped_paused")] == [
        "success",
        "success",
    ]
    [stale] = lines(logs, "on_complete_skipped_stale")
    assert stale["completed_workflow_id"] == "run-1"
    assert [line["job_id"] for line in lines(logs, "on_complete_unknown_job")] == ["ghost"]
    skipped = "leadgen_completions_skipped_total"
    assert rig.services.metrics.value(skipped, reason="paused") == 2
    assert rig.services.metrics.value(skipped, reason="stale") == 1
    assert rig.event_types() == []


async def test_redelivered_completion_sends_the_announcement_its_first_delivery_stored(
    rig: Rig,
) -> None:
    """A completion redelivered after it wrote the terminal status but stopped before
    announcing it sends ``job.completed`` from the job's outbox."""
    job = job_at(c.FINALIZE)
    await rig.store.insert_job(job)
    done = WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result="success")

    with rig.stopped_before_publishing():
        await rig.deliver(CompletionActor, done)
    assert rig.event_types() == []
    await rig.deliver(CompletionActor, done, redelivered=True)
    assert rig.event_types() == ["leadgen.job.completed.v1"]
    assert (await stored(rig, job)).outbox == {}


async def test_end_of_run_is_timed_and_carries_the_correlation_id(rig: Rig) -> None:
    """The finalize outcome ends the run: finalize's duration is observed, and the run's
    completion travels under the job's correlation id."""
    job = job_at(c.FINALIZE, status="completed").model_copy(update={"correlation_id": "corr-f"})
    job.phases[-1] = job.phases[-1].model_copy(
        update={"status": "completed", "finished_at": job.phases[-1].started_at}
    )
    await rig.store.insert_job(job)
    await rig.deliver(Supervisor, report(job, c.FINALIZE))
    [done] = rig.broker.messages(rig.watch[c.COMPLETION_KEY])
    assert done.correlation_id == "corr-f"
    assert rig.services.metrics.value("leadgen_phase_seconds_count", phase=c.FINALIZE) == 1


async def test_supervisor_log_lines_name_the_phase(rig: Rig) -> None:
    """Every line the supervisor logs for an outcome carries the outcome's phase (contract
    section 7), with the job's ids bound once per message."""
    job = job_at(c.SCORE)
    await rig.store.insert_job(job)
    capture, config = LogCapture(), structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        await rig.deliver(Supervisor, report(job, c.SCORE))
    finally:
        structlog.configure(**config)
        structlog.contextvars.clear_contextvars()
    [line] = [e for e in capture.entries if e["event"] == "phase_completed"]
    assert (line["phase"], line["job_id"], line["workflow_id"]) == (c.SCORE, job.id, "run-1")


async def pause_then(rig: Rig, job: Job, *, resume: bool) -> None:
    """Pause ``job`` for dossier credits, and resume it at once when ``resume``."""
    await pause(rig, job)
    if resume:
        await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, 1, "grant:g")
        paused = await stored(rig, job)
        assert await resume_job(rig.services, paused) is not None


async def fail_racing(rig: Rig, *, resume: bool) -> tuple[Job, list[MutableMapping[str, Any]]]:
    """Deliver a failed run's completion that read the job running, while a pause (and a
    resume when ``resume``) lands before its write; the job after, and the log lines."""
    job = job_at(c.GENERATE_DOSSIER)
    await rig.store.insert_job(job)
    rig.race(lambda: pause_then(rig, job, resume=resume))
    done = WorkflowCompleted(job_id=job.id, workflow_id=job.workflow_id, result="failed")
    with capture_logs() as logs:
        await rig.deliver(CompletionActor, done)
    return await stored(rig, job), logs


async def test_failure_completion_racing_a_pause_leaves_the_pause(rig: Rig) -> None:
    """A failed run's completion written after a pause landed leaves the job paused and
    reports the skip (invariant 1)."""
    after, logs = await fail_racing(rig, resume=False)
    assert (after.status, after.workflow_status) == ("paused_for_upgrade", "paused")
    assert [line["result"] for line in lines(logs, "on_complete_skipped_paused")] == ["failed"]
    skipped = "leadgen_completions_skipped_total"
    assert rig.services.metrics.value(skipped, reason="paused") == 1
    assert rig.event_types() == ["leadgen.job.paused.v1"]


async def test_failure_completion_racing_a_resume_leaves_the_new_run(rig: Rig) -> None:
    """A failed run's completion written after the job was paused and resumed under a new
    run does not fail the new run, and is not reported as a paused skip (invariant 4)."""
    after, logs = await fail_racing(rig, resume=True)
    assert (after.status, after.workflow_status, after.runs) == ("running", "running", 2)
    assert lines(logs, "on_complete_skipped_paused") == []
