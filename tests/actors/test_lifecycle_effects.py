"""What resume, cancel and grant tell the world: the fields of their events, log lines and
metrics, the correlation id they carry, and the races their guards decide (contract sections
4 and 7; invariants 1, 4 and 6), on the embedded pair one call at a time."""

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.actors.commands import CommandsActor
from leadgen.messages.commands import CancelJob, GrantCredits, StartJob
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import PhaseTask
from leadgen.store.base import Guard
from leadgen.store.models import AuditPlan, Job
from leadgen.worker.maintenance import Maintenance
from leadgen.workflow.lifecycle import cancel_job, grant_credits, start_job
from leadgen.workflow.outbox import phase_task
from leadgen.workflow.resume import resume_job
from tests.actors.conftest import Rig, job_at, pause, same_state


def events(rig: Rig) -> list[dict[str, Any]]:
    """Bodies of the job events published so far, with their AMQP message id and correlation
    id (command answers are in ``answers``)."""
    return [e for e in published(rig) if e["type"].startswith("leadgen.job.")]


def answers(rig: Rig) -> list[dict[str, Any]]:
    """Bodies of the command answers published so far, with their AMQP ids."""
    return [e for e in published(rig) if e["type"].startswith("leadgen.command.")]


def published(rig: Rig) -> list[dict[str, Any]]:
    return [
        {**json.loads(m.body), "_message_id": m.message_id, "_correlation_id": m.correlation_id}
        for m in rig.broker.messages(rig.events)
    ]


def lines(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def paused(
    rig: Rig, *, credits: int, required: int = 2, correlation_id: str | None = "corr-start"
) -> Job:
    """Job ``job-1`` paused in generate_dossier needing ``required`` credits, in the middle of
    its audits (a plan, audits pending, an error of an earlier attempt); ``credits`` granted."""
    job = job_at(c.GENERATE_DOSSIER, status="paused_for_upgrade", phase_status="paused")
    assert job.billing_block is not None
    block = job.billing_block.model_copy(update={"required": required})
    job = job.model_copy(
        update={
            "billing_block": block,
            "run_ended": True,
            "correlation_id": correlation_id,
            "audit_plan": AuditPlan(workflow_id=job.workflow_id, lead_ids=["l1", "l2"]),
            "audits_pending": 1,
            "error": ErrorEnvelope.failure("ProviderError", "earlier"),
        }
    )
    await rig.store.insert_job(job)
    if credits:
        await rig.store.move_credits("acme", c.DOSSIER_RESEARCH, credits, "grant:g")
    stored = await rig.store.get_job(job.id)
    assert stored is not None
    return stored


async def test_resume_announces_the_new_run_everywhere(rig: Rig) -> None:
    """A resume clears what the paused run left (plan, pending audits, error), restarts the
    paused phase now, and its event, log line, metric and task all name the new run and the
    resume's correlation id."""
    job = await paused(rig, credits=2)
    with capture_logs() as logs:
        after = await resume_job(rig.services, job, message_id="cmd-r", correlation_id="corr-r")
    assert after is not None
    assert (after.audit_plan, after.audits_pending, after.error) == (None, 0, None)
    restarted = after.phase(c.GENERATE_DOSSIER)
    assert restarted.started_at is not None and restarted.started_at >= job.updated_at
    [resumed] = events(rig)
    assert (resumed["status"], resumed["workflow_id"]) == ("running", after.workflow_id)
    assert resumed["previous_workflow_id"] == job.workflow_id
    assert resumed["reset_phases"] == [c.GENERATE_DOSSIER, c.FINALIZE]
    assert resumed["_correlation_id"] == resumed["correlation_id"] == "corr-r"
    [task] = rig.broker.messages(rig.watch[c.phase_key(c.GENERATE_DOSSIER)])
    assert task.correlation_id == "corr-r"
    [line] = lines(logs, "job_resumed")
    assert {k: line[k] for k in ("job_id", "customer_id", "workflow_id", "phase", "runs")} == {
        "job_id": job.id,
        "customer_id": "acme",
        "workflow_id": after.workflow_id,
        "phase": c.GENERATE_DOSSIER,
        "runs": 2,
    }
    assert line["previous_workflow_id"] == job.workflow_id
    assert rig.services.metrics.value("leadgen_resumes_total", outcome="resumed") == 1
    assert rig.services.metrics.value("leadgen_resumes_total", outcome="refused") == 0


async def test_resume_of_a_customer_without_any_balance_is_refused(rig: Rig) -> None:
    """A customer who never had the feature counts as 0 available, even for a block of 1."""
    job = await paused(rig, credits=0, required=1)
    with capture_logs() as logs:
        assert await resume_job(rig.services, job, correlation_id="corr-x") is None
    after = await rig.store.get_job(job.id)
    assert after is not None and after.status == "paused_for_upgrade"
    assert after.billing_block is not None and after.billing_block.available == 0
    [refusal] = events(rig)
    assert refusal["reason"] == "insufficient_credits"
    assert refusal["billing_block"]["available"] == 0
    assert refusal["_correlation_id"] == refusal["correlation_id"] == "corr-x"
    [line] = lines(logs, "job_resume_refused")
    assert (line["job_id"], line["customer_id"]) == (job.id, "acme")
    assert rig.services.metrics.value("leadgen_resumes_total", outcome="refused") == 1


async def test_refusal_without_correlation_id_carries_the_jobs(rig: Rig) -> None:
    """A refused resume that brought no correlation id is answered with the job's."""
    job = await paused(rig, credits=0)
    await resume_job(rig.services, job)
    [refusal] = events(rig)
    assert refusal["correlation_id"] == "corr-start"


async def test_each_refused_resume_is_its_own_event(rig: Rig) -> None:
    """Two refused resumes of one run are two events with two message ids, so neither is
    taken for a duplicate of the other; each carries its own correlation id."""
    job = await paused(rig, credits=0)
    await resume_job(rig.services, job, correlation_id="corr-a")
    again = await rig.store.get_job(job.id)
    assert again is not None
    await resume_job(rig.services, again, correlation_id="corr-b")
    refusals = events(rig)
    assert [r["correlation_id"] for r in refusals] == ["corr-a", "corr-b"]
    ids = [r["_message_id"] for r in refusals]
    assert len(set(ids)) == 2 and all(i.startswith(f"{job.workflow_id}:") for i in ids)


async def test_manual_resume_of_a_job_resumed_earlier_and_running_is_refused(rig: Rig) -> None:
    """A new resume (not a redelivery) of a job already running again is refused with its
    status, not silently taken for the earlier resume."""
    job = await paused(rig, credits=2)
    assert await resume_job(rig.services, job, message_id="cmd-1") is not None
    running = await rig.store.get_job(job.id)
    assert running is not None
    with capture_logs() as logs:
        assert await resume_job(rig.services, running, message_id="cmd-2") is None
    assert [e["type"] for e in events(rig)] == [
        "leadgen.job.resumed.v1",
        "leadgen.job.resume_refused.v1",
    ]
    assert [line["reason"] for line in lines(logs, "job_resume_refused")] == ["job is running"]


async def test_redelivered_resume_of_a_job_paused_again_resumes_it(rig: Rig) -> None:
    """A resume without message id redelivered after the job paused again in its new run is a
    resume of that new pause: with the credits there, it starts a third run."""
    job = await paused(rig, credits=4)
    first = await resume_job(rig.services, job)
    assert first is not None
    await pause(rig, first, required=2)
    again = await rig.store.get_job(job.id)
    assert again is not None and again.resumed_from == job.workflow_id
    third = await resume_job(rig.services, again, replay=True)
    assert third is not None and third.runs == 3 and third.resumed_from == first.workflow_id


async def test_replayed_resume_publishes_what_its_first_delivery_stored(rig: Rig) -> None:
    """A redelivered resume that finds its write applied but the task still in the outbox
    (the first delivery stopped before publishing) sends it and empties the outbox."""
    job = await paused(rig, credits=2)
    after = await resume_job(rig.services, job)
    assert after is not None
    task = PhaseTask(job_id=job.id, workflow_id=after.workflow_id, phase=c.GENERATE_DOSSIER)
    unsent = await rig.store.update_job(
        job.id, Guard(), {}, outbox=[phase_task(task, after.correlation_id)]
    )
    assert unsent is not None and unsent.outbox
    with capture_logs() as logs:
        assert await resume_job(rig.services, unsent, replay=True) is None
    sent = rig.broker.messages(rig.watch[c.phase_key(c.GENERATE_DOSSIER)])
    assert [m.message_id for m in sent] == [f"{after.workflow_id}:task:{c.GENERATE_DOSSIER}"] * 2
    stored = await rig.store.get_job(job.id)
    assert stored is not None and stored.outbox == {} and stored.runs == 2
    assert [line["job_id"] for line in lines(logs, "resume_already_applied")] == [job.id]


async def test_resume_of_a_cancelled_pause_is_refused_with_its_status(rig: Rig) -> None:
    """A job cancelled while paused keeps its block but is not paused: a resume is refused as
    "job is cancelled", whatever the balance, and the refusal shows the block it had."""
    job = await paused(rig, credits=5)
    await cancel_job(rig.services, job, CancelJob(job_id=job.id, customer_id="acme"))
    cancelled = await rig.store.get_job(job.id)
    assert cancelled is not None and cancelled.billing_block is not None
    with capture_logs() as logs:
        assert await resume_job(rig.services, cancelled, correlation_id="corr-z") is None
    assert same_state(cancelled, await rig.store.get_job(job.id))
    refusal = events(rig)[-1]
    assert (refusal["type"], refusal["reason"]) == (
        "leadgen.job.resume_refused.v1",
        "job is cancelled",
    )
    assert refusal["billing_block"]["required"] == 2
    assert refusal["correlation_id"] == "corr-z"
    assert [line["reason"] for line in lines(logs, "job_resume_refused")] == ["job is cancelled"]


async def test_resume_decided_before_a_cancel_does_not_revive_the_job(rig: Rig) -> None:
    """A resume that read the pause, then lost the race to a cancel, leaves the job cancelled."""
    job = await paused(rig, credits=5)
    await cancel_job(rig.services, job, CancelJob(job_id=job.id, customer_id="acme"))
    cancelled = await rig.store.get_job(job.id)
    assert await resume_job(rig.services, job, message_id="cmd-late") is None
    assert same_state(cancelled, await rig.store.get_job(job.id))  # type: ignore[arg-type]


async def test_resume_decided_before_another_resume_does_not_relaunch_twice(rig: Rig) -> None:
    """Two resumes (different message ids) that both read the pause start one new run."""
    job = await paused(rig, credits=5)
    first = await resume_job(rig.services, job, message_id="cmd-a")
    assert first is not None
    assert await resume_job(rig.services, job, message_id="cmd-b") is None
    after = await rig.store.get_job(job.id)
    assert after is not None and after.runs == 2 and after.workflow_id == first.workflow_id
    assert [e["type"] for e in events(rig)] == ["leadgen.job.resumed.v1"]


async def test_resume_of_an_older_pause_leaves_the_newer_pause_alone(rig: Rig) -> None:
    """A resume decided on the pause of run 1, applied after run 2 paused elsewhere, would
    restart the wrong phase on credits checked for the wrong feature: it changes nothing."""
    job = await paused(rig, credits=4)
    second = await resume_job(rig.services, job)
    assert second is not None
    await pause(rig, second, phase=c.SOURCE, feature_id=c.LEAD_DISCOVERY, required=1, available=0)
    newer = await rig.store.get_job(job.id)
    assert await resume_job(rig.services, job, message_id="cmd-old") is None
    assert same_state(newer, await rig.store.get_job(job.id))  # type: ignore[arg-type]


async def test_refusal_decided_on_an_older_state_changes_nothing(rig: Rig) -> None:
    """A refusal for lack of credits decided on a stale read touches neither a job cancelled
    meanwhile nor the newer pause of a later run (invariant 4)."""
    for status, workflow_id in (("cancelled", "run-1"), ("paused_for_upgrade", "run-2")):
        current = job_at(
            c.GENERATE_DOSSIER,
            job_id=f"job-{status}",
            status="paused_for_upgrade",
            phase_status="paused",
            workflow_id=workflow_id,
        )
        current = current.model_copy(update={"status": status})
        await rig.store.insert_job(current)
        stored = await rig.store.get_job(current.id)
        stale = current.model_copy(update={"status": "paused_for_upgrade", "version": 7})
        stale = stale.model_copy(update={"workflow_id": "run-1"})
        assert await resume_job(rig.services, stale, correlation_id="corr-s") is None
        assert same_state(stored, await rig.store.get_job(current.id))  # type: ignore[arg-type]
    assert events(rig) == []


async def test_cancel_carries_the_cancels_correlation_id(rig: Rig) -> None:
    """A cancel stores its correlation id on the job and on the run's completion; a cancel
    without one keeps the job's."""
    for job_id, correlation_id, expected in (("job-a", "corr-c", "corr-c"), ("job-b", None, "j")):
        job = job_at(c.SCORE, job_id=job_id).model_copy(update={"correlation_id": "j"})
        await rig.store.insert_job(job)
        command = CancelJob(job_id=job_id, customer_id="acme")
        after = await cancel_job(rig.services, job, command, correlation_id=correlation_id)
        assert after is not None and after.correlation_id == expected
    done = rig.broker.messages(rig.watch[c.COMPLETION_KEY])
    assert [m.correlation_id for m in done] == ["corr-c", "j"]


async def test_cancel_of_a_paused_job_ends_it(rig: Rig) -> None:
    """A paused job can be cancelled by its owner: no refusal, its completion is sent."""
    job = await paused(rig, credits=0)
    with capture_logs() as logs:
        after = await cancel_job(rig.services, job, CancelJob(job_id=job.id, customer_id="acme"))
    assert after is not None and after.status == "cancelled"
    assert [m["result"] for m in rig.sent(c.COMPLETION_KEY)] == ["canceled"]
    assert lines(logs, "command_refused") == []


async def test_second_cancel_is_refused_unless_it_is_a_redelivery(rig: Rig) -> None:
    """A new cancel of a cancelled job is refused (logged with command, reason and job); the
    redelivery of the cancel that ended it is not a refusal; a redelivered cancel of a
    completed job still is."""
    job = job_at(c.SCORE)
    await rig.store.insert_job(job)
    command = CancelJob(job_id=job.id, customer_id="acme")
    await cancel_job(rig.services, job, command)
    done = job_at(c.FINALIZE, job_id="job-done", status="completed")
    await rig.store.insert_job(done)
    with capture_logs() as logs:
        assert await cancel_job(rig.services, job, command, replay=True) is None
        assert await cancel_job(rig.services, job, command) is None
        done_command = CancelJob(job_id=done.id, customer_id="acme")
        assert await cancel_job(rig.services, done, done_command, replay=True) is None
    refusals = [
        (line["command"], line["reason"], line["job_id"]) for line in lines(logs, "command_refused")
    ]
    assert refusals == [
        ("cancel", "job is cancelled", job.id),
        ("cancel", "job is completed", done.id),
    ]


async def test_grant_logs_its_movement_and_resumes_under_its_correlation_id(rig: Rig) -> None:
    """A grant logs what it added (once: a repeated grant id is logged as ignored) and resumes
    the paused job under the grant's correlation id."""
    job = await paused(rig, credits=0)
    grant = GrantCredits(
        customer_id="acme", feature_id=c.DOSSIER_RESEARCH, amount=2, grant_id="g-7"
    )
    with capture_logs() as logs:
        await grant_credits(rig.services, grant, correlation_id="corr-g")
        await grant_credits(rig.services, grant, correlation_id="corr-g")
    [line] = lines(logs, "credits_granted")
    assert {k: line[k] for k in ("customer_id", "feature_id", "amount", "grant_id")} == {
        "customer_id": "acme",
        "feature_id": c.DOSSIER_RESEARCH,
        "amount": 2,
        "grant_id": "g-7",
    }
    assert line["balance"] == 2
    assert len(lines(logs, "credits_grant_ignored")) == 1
    after = await rig.store.get_job(job.id)
    assert after is not None and after.status == "running" and after.correlation_id == "corr-g"
    [resumed] = events(rig)
    assert resumed["correlation_id"] == "corr-g"


async def test_start_stores_the_request_and_sends_the_first_task(rig: Rig) -> None:
    """A start stores the request as given, starts ``source`` now, logs ``job_started`` with
    the request, and sends ``job.started`` and the source task under its correlation id."""
    command = StartJob(
        customer_id="acme", query="dentists", job_id="job-s", location="Austin", max_leads=7
    )
    with capture_logs() as logs:
        job = await start_job(rig.services, command, message_id="m-s", correlation_id="corr-s")
    stored = await rig.store.get_job("job-s")
    assert stored is not None and stored.workflow_id == job.workflow_id
    assert (stored.request.location, stored.request.max_leads) == ("Austin", 7)
    assert stored.phase(c.SOURCE).status == "running"
    assert stored.phase(c.SOURCE).started_at is not None
    [task] = rig.broker.messages(rig.watch[c.phase_key(c.SOURCE)])
    assert task.correlation_id == "corr-s"
    assert [e["type"] for e in events(rig)] == ["leadgen.job.started.v1"]
    [line] = lines(logs, "job_started")
    assert (line["job_id"], line["customer_id"]) == ("job-s", "acme")
    assert line["request"]["location"] == "Austin"


async def test_start_of_an_existing_job_returns_it_and_only_a_replay_resends(rig: Rig) -> None:
    """A start whose job exists returns the stored job unchanged; a new start sends nothing,
    while a replay of the start that created it sends what that creation left unsent."""
    command = StartJob(customer_id="acme", query="dentists", job_id="job-s")
    publisher = rig.services.publisher

    with rig.stopped_before_publishing():
        await start_job(rig.services, command, message_id=None, correlation_id="c1")
    assert rig.services.publisher is publisher
    first = await rig.store.get_job("job-s")
    assert first is not None and len(first.outbox) == 2
    with capture_logs() as logs:
        again = await start_job(rig.services, command, message_id=None, correlation_id="c2")
    assert again.workflow_id == first.workflow_id
    assert events(rig) == []
    assert [line["job_id"] for line in lines(logs, "start_ignored_existing_job")] == ["job-s"]
    replayed = await start_job(
        rig.services, command, message_id=None, correlation_id="c3", replay=True
    )
    assert replayed.workflow_id == first.workflow_id
    assert [e["type"] for e in events(rig)] == ["leadgen.job.started.v1"]
    assert len(rig.broker.messages(rig.watch[c.phase_key(c.SOURCE)])) == 1
    after = await rig.store.get_job("job-s")
    assert after is not None and after.outbox == {}


async def test_redelivered_start_sends_what_its_first_delivery_stored(rig: Rig) -> None:
    """The command actor hands a redelivered start to ``start_job`` as a replay: the job its
    first delivery created gets its ``job.started`` and source task without waiting for the
    relay (invariant 9)."""
    command = StartJob(customer_id="acme", query="dentists", job_id="job-r")

    with rig.stopped_before_publishing():
        await start_job(rig.services, command, message_id="m1", correlation_id="c1")
    await rig.deliver(CommandsActor, command, redelivered=True)
    assert [e["type"] for e in events(rig)] == ["leadgen.job.started.v1"]
    [task] = rig.broker.messages(rig.watch[c.phase_key(c.SOURCE)])
    assert json.loads(task.body)["job_id"] == "job-r"


async def test_start_that_stopped_before_publishing_is_relayed(rig: Rig) -> None:
    """What a start stored and did not send is found by the relay, which sends it."""
    command = StartJob(customer_id="acme", query="dentists", job_id="job-l")

    with rig.stopped_before_publishing():
        await start_job(rig.services, command, message_id=None, correlation_id="c1")
    relay = Maintenance(rig.services)
    relay.relay_after = timedelta(seconds=-1)  # anything unsent counts as left behind
    assert await relay.relay() == 1
    assert [e["type"] for e in events(rig)] == ["leadgen.job.started.v1"]
    assert len(rig.broker.messages(rig.watch[c.phase_key(c.SOURCE)])) == 1
