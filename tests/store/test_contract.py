"""The store contract, run against both implementations through the ``store`` fixture."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leadgen.ids import utcnow
from leadgen.store.base import Guard, Store
from leadgen.store.memory import MemoryStore
from leadgen.store.models import Job, JobRequest, Lead, LeadTotals

PAST = datetime(2020, 1, 1, tzinfo=UTC)


def make_job(job_id: str = "job-1", **overrides: Any) -> Job:
    """A running job of customer ``c1`` on run ``w1`` that already applied command ``cmd-1``."""
    values: dict[str, Any] = {
        "_id": job_id,
        "customer_id": "c1",
        "workflow_id": "w1",
        "request": JobRequest(query="dentists"),
        "command_ids": ["cmd-1"],
        "created_at": PAST,
        "updated_at": PAST,
    }
    values.update(overrides)
    return Job.model_validate(values)


def paused(job_id: str, feature_id: str, created_at: datetime, **overrides: Any) -> Job:
    """A job paused for lack of ``feature_id`` credits."""
    block = {
        "feature_id": feature_id,
        "phase": "generate_dossier",
        "required": 1,
        "available": 0,
        "paused_at": created_at,
        "message": "Workflow paused for billing",
    }
    return make_job(
        job_id, status="paused_for_upgrade", billing_block=block, created_at=created_at, **overrides
    )


def make_lead(lead_id: str, rank: int = 0, job_id: str = "job-1", **overrides: Any) -> Lead:
    """A lead of ``job_id``."""
    values: dict[str, Any] = {"name": f"Lead {lead_id}", "source_rank": rank, **overrides}
    return Lead(job_id=job_id, lead_id=lead_id, **values)


# -- jobs -------------------------------------------------------------------------------


async def test_insert_job_twice_keeps_the_first(store: Store) -> None:
    """A second insert of the same job id is refused and leaves the stored job unchanged."""
    assert await store.insert_job(make_job()) is True
    assert await store.insert_job(make_job(customer_id="c2")) is False
    assert await store.get_job("job-1") == make_job()


async def test_get_unknown_job_is_none(store: Store) -> None:
    """Reading a job that was never inserted gives None."""
    assert await store.get_job("nope") is None


async def test_stored_job_cannot_be_changed_through_a_result(store: Store) -> None:
    """Mutating a returned job's lists does not change the stored job."""
    await store.insert_job(make_job())
    job = await store.get_job("job-1")
    assert job is not None
    job.command_ids.append("cmd-x")
    assert await store.get_job("job-1") == make_job()


async def test_update_job_applies_when_every_guard_holds(store: Store) -> None:
    """An update whose guard admits the job sets the fields, bumps version and updated_at."""
    await store.insert_job(make_job())
    guard = Guard(
        workflow_id="w1",
        statuses=("running", "paused_for_upgrade"),
        version=0,
        run_ended=False,
        customer_id="c1",
        without_command="cmd-2",
    )
    phases = [p.model_dump() for p in make_job().phases]
    phases[0]["status"] = "completed"
    after = await store.update_job(
        "job-1",
        guard,
        {"status": "failed", "phases": phases, "error": {"name": "E", "message": "m"}},
    )
    assert after is not None
    assert (after.status, after.version, after.phase("source").status) == ("failed", 1, "completed")
    assert after.error is not None and after.error.name == "E"
    assert after.updated_at > PAST and after.updated_at <= utcnow()
    assert await store.get_job("job-1") == after


@pytest.mark.parametrize(
    "guard",
    [
        Guard(workflow_id="w2"),
        Guard(statuses=("paused_for_upgrade", "completed")),
        Guard(version=1),
        Guard(run_ended=True),
        Guard(customer_id="c2"),
        Guard(without_command="cmd-1"),
    ],
    ids=["workflow_id", "statuses", "version", "run_ended", "customer_id", "without_command"],
)
async def test_update_job_refused_when_one_guard_fails(store: Store, guard: Guard) -> None:
    """An update whose guard fails on one condition alone returns None and changes nothing."""
    await store.insert_job(make_job())
    assert await store.update_job("job-1", guard, {"status": "completed"}) is None
    assert await store.get_job("job-1") == make_job()


async def test_update_unknown_job_is_none(store: Store) -> None:
    """Updating a job that does not exist returns None and creates nothing."""
    assert await store.update_job("nope", Guard(), {"status": "failed"}) is None
    assert await store.get_job("nope") is None


async def test_update_job_counts_runs_and_records_commands(store: Store) -> None:
    """``inc_runs`` adds one run and ``add_commands`` make the same command refused next time."""
    await store.insert_job(make_job())
    guard = Guard(without_command="cmd-2")
    after = await store.update_job(
        "job-1", guard, {"workflow_id": "w2"}, inc_runs=True, add_commands=["cmd-2", "k"]
    )
    assert after is not None
    assert (after.runs, after.command_ids, after.workflow_id) == (2, ["cmd-1", "cmd-2", "k"], "w2")
    again = await store.update_job("job-1", guard, {"workflow_id": "w3"}, inc_runs=True)
    assert again is None
    assert await store.get_job("job-1") == after


async def test_datetimes_read_back_in_utc_at_millisecond_precision(store: Store) -> None:
    """A datetime stored through ``fields`` comes back in UTC, truncated to milliseconds."""
    await store.insert_job(make_job())
    plus_two = timezone(timedelta(hours=2))
    phases = [p.model_dump() for p in make_job().phases]
    phases[0]["started_at"] = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=plus_two)
    after = await store.update_job("job-1", Guard(), {"phases": phases})
    assert after is not None
    assert after.phase("source").started_at == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert after == await store.get_job("job-1")


async def test_update_job_refuses_bookkeeping_fields(store: Store) -> None:
    """Fields the store maintains itself, or nested paths, cannot be set through ``fields``."""
    await store.insert_job(make_job())
    for fields in ({"version": 7}, {"_id": "x"}, {"counts.leads": 3}):
        with pytest.raises(ValueError):
            await store.update_job("job-1", Guard(), fields)
    assert await store.get_job("job-1") == make_job()


async def test_concurrent_updates_on_one_version_apply_once(store: Store) -> None:
    """Of two concurrent updates guarded on the same version, exactly one applies."""
    await store.insert_job(make_job())
    results = await asyncio.gather(
        store.update_job("job-1", Guard(version=0), {"status": "completed"}),
        store.update_job("job-1", Guard(version=0), {"status": "failed"}),
    )
    applied = [r for r in results if r is not None]
    assert len(applied) == 1
    assert await store.get_job("job-1") == applied[0]


async def test_paused_jobs_filters_and_orders_oldest_first(store: Store) -> None:
    """Only the customer's jobs paused for the feature are listed, oldest first."""
    t0 = PAST
    await store.insert_job(paused("newer", "dossier_research", t0 + timedelta(hours=2)))
    await store.insert_job(paused("older", "dossier_research", t0 + timedelta(hours=1)))
    await store.insert_job(paused("other-feature", "lead_discovery", t0))
    await store.insert_job(paused("other-customer", "dossier_research", t0, customer_id="c2"))
    await store.insert_job(make_job("running", created_at=t0))
    jobs = await store.paused_jobs("c1", "dossier_research")
    assert [j.id for j in jobs] == ["older", "newer"]
    assert await store.paused_jobs("c3", "dossier_research") == []


# -- leads ------------------------------------------------------------------------------


async def test_add_leads_is_idempotent_and_never_overwrites(store: Store) -> None:
    """Adding a lead again, even changed, keeps the first version and adds only new leads."""
    await store.add_leads([make_lead("a")])
    await store.add_leads([make_lead("a", name="Changed"), make_lead("b", rank=1)])
    await store.add_leads([])
    leads = await store.leads("job-1")
    assert [(lead.lead_id, lead.name) for lead in leads] == [("a", "Lead a"), ("b", "Lead b")]


async def test_leads_ordered_by_rank_and_duplicates_hidden(store: Store) -> None:
    """Leads come by source_rank then lead_id, without duplicates unless asked, per job."""
    await store.add_leads(
        [
            make_lead("c", rank=2),
            make_lead("b", rank=1),
            make_lead("a", rank=2),
            make_lead("d", rank=0, duplicate_of="a"),
            make_lead("z", job_id="job-2"),
        ]
    )
    assert [lead.lead_id for lead in await store.leads("job-1")] == ["b", "a", "c"]
    everything = await store.leads("job-1", include_duplicates=True)
    assert [lead.lead_id for lead in everything] == ["d", "b", "a", "c"]
    assert await store.leads("nope") == []


async def test_get_lead_finds_one_lead_of_one_job(store: Store) -> None:
    """``get_lead`` returns the lead of that job, duplicates included, or None."""
    await store.add_leads(
        [make_lead("a"), make_lead("d", duplicate_of="a"), make_lead("a", job_id="job-2")]
    )
    assert await store.get_lead("job-1", "a") == make_lead("a")
    assert await store.get_lead("job-1", "d") == make_lead("d", duplicate_of="a")
    assert await store.get_lead("job-1", "x") is None
    assert await store.get_lead("job-3", "a") is None


async def test_lead_totals_count_queued_dossiers_and_failures(store: Store) -> None:
    """Totals count non-duplicate leads of the job, the queued ones, and their results."""
    error = {"name": "WebsiteTimeout", "message": "slow"}
    await store.add_leads(
        [
            make_lead("a", queued=True, dossier={"summary": "ok"}),
            make_lead("b", queued=True, dossier_error=error),
            make_lead("c", queued=True),
            make_lead("d"),
            make_lead("e", duplicate_of="a", queued=True, dossier={"summary": "dup"}),
            make_lead("z", job_id="job-2", queued=True),
        ]
    )
    totals = await store.lead_totals("job-1")
    assert (totals.leads, totals.queued, totals.done, totals.failed) == (4, 3, 1, 1)
    assert not totals.all_accounted
    await store.record_audit("job-1", "c", dossier={"summary": "late"})
    assert (await store.lead_totals("job-1")).all_accounted
    assert await store.lead_totals("nope") == LeadTotals()


async def test_update_leads_sets_fields_of_each_lead(store: Store) -> None:
    """Each lead gets its own fields; leads not named, and unknown leads, are left alone."""
    await store.add_leads([make_lead("a"), make_lead("b"), make_lead("c")])
    await store.update_leads(
        "job-1",
        {
            "a": {"score": 80, "score_reasons": ["site"]},
            "b": {"queued": True},
            "c": {},
            "x": {"score": 1},
        },
    )
    leads = {lead.lead_id: lead for lead in await store.leads("job-1")}
    assert (leads["a"].score, leads["a"].score_reasons, leads["a"].queued) == (80, ["site"], False)
    assert (leads["b"].score, leads["b"].queued) == (None, True)
    assert leads["c"] == make_lead("c")
    assert set(leads) == {"a", "b", "c"}


async def test_record_audit_only_once(store: Store) -> None:
    """The first dossier is kept: another dossier or an error afterwards is refused."""
    await store.add_leads([make_lead("a")])
    assert await store.record_audit("job-1", "a", dossier={"summary": "first"}) is True
    assert await store.record_audit("job-1", "a", dossier={"summary": "second"}) is False
    assert await store.record_audit("job-1", "a", error={"name": "E", "message": "m"}) is False
    [lead] = await store.leads("job-1")
    assert (lead.dossier, lead.dossier_error, lead.accounted) == ({"summary": "first"}, None, True)


async def test_record_audit_error_then_dossier_refused(store: Store) -> None:
    """An error is recorded like a dossier, and blocks a later dossier; unknown leads refuse."""
    await store.add_leads([make_lead("a")])
    assert await store.record_audit("job-1", "a", error={"name": "E", "message": "m"}) is True
    assert await store.record_audit("job-1", "a", dossier={"summary": "late"}) is False
    [lead] = await store.leads("job-1")
    assert lead.dossier is None and lead.dossier_error is not None
    assert lead.dossier_error.message == "m"
    assert await store.record_audit("job-1", "nope", dossier={"x": 1}) is False


# -- credits ----------------------------------------------------------------------------


async def test_grant_then_charge(store: Store) -> None:
    """A grant raises the balance and a charge lowers it, each applied once."""
    grant = await store.move_credits("c1", "dossier_research", 2, "grant-1")
    charge = await store.move_credits("c1", "dossier_research", -1, "charge-1")
    assert (grant.applied, grant.already, grant.balance) == (True, False, 2)
    assert (charge.applied, charge.already, charge.balance) == (True, False, 1)
    assert await store.balances("c1") == {"dossier_research": 1}
    assert await store.has_movement("charge-1") is True


async def test_charge_without_credits_refused(store: Store) -> None:
    """A charge larger than the balance moves nothing and is not recorded."""
    movement = await store.move_credits("c1", "dossier_research", -1, "charge-1")
    assert (movement.applied, movement.already, movement.balance) == (False, False, 0)
    assert await store.balances("c1") == {}
    assert await store.has_movement("charge-1") is False
    await store.move_credits("c1", "dossier_research", 1, "grant-1")
    retry = await store.move_credits("c1", "dossier_research", -1, "charge-1")
    assert (retry.applied, retry.balance) == (True, 0)


async def test_same_key_twice_moves_once(store: Store) -> None:
    """A second movement with the same key reports ``already`` and moves nothing."""
    await store.move_credits("c1", "lead_discovery", 5, "grant-1")
    again = await store.move_credits("c1", "lead_discovery", 5, "grant-1")
    assert (again.applied, again.already, again.balance) == (False, True, 5)
    assert await store.balances("c1") == {"lead_discovery": 5}


async def test_concurrent_charges_never_overdraw(store: Store) -> None:
    """Twenty concurrent charges against a balance of three: three apply, the balance is 0."""
    await store.move_credits("c1", "dossier_research", 3, "grant-1")
    results = await asyncio.gather(
        *(store.move_credits("c1", "dossier_research", -1, f"charge-{i}") for i in range(20))
    )
    assert sum(r.applied for r in results) == 3
    assert not any(r.already for r in results)
    assert await store.balances("c1") == {"dossier_research": 0}


async def test_concurrent_calls_with_one_key_apply_once(store: Store) -> None:
    """Ten concurrent movements with the same key: one applies, the others see it as done."""
    await store.move_credits("c1", "dossier_research", 5, "grant-1")
    results = await asyncio.gather(
        *(store.move_credits("c1", "dossier_research", -1, "charge-1") for _ in range(10))
    )
    assert sum(r.applied for r in results) == 1
    assert all(r.applied or r.already for r in results)
    assert await store.balances("c1") == {"dossier_research": 4}


async def test_concurrent_first_movements_of_a_new_customer_all_apply(store: Store) -> None:
    """Ten grants racing to create a customer's balance all apply: none is lost to the race."""
    results = await asyncio.gather(
        *(store.move_credits("new", "lead_discovery", 1, f"grant-{i}") for i in range(10))
    )
    assert all(r.applied for r in results)
    assert await store.balances("new") == {"lead_discovery": 10}


async def test_ledger_lists_a_jobs_movements(store: Store) -> None:
    """The ledger of a job lists its movements oldest first, with job and lead ids."""
    await store.move_credits("c1", "lead_discovery", 1, "grant-1")
    await store.move_credits("c1", "lead_discovery", -1, "job-1:1:source", job_id="job-1")
    await store.move_credits("c1", "lead_discovery", 1, "grant-2")
    await store.move_credits(
        "c1", "lead_discovery", -1, "job-1:2:audit:a", job_id="job-1", lead_id="a"
    )
    await store.move_credits("c1", "lead_discovery", -1, "refused", job_id="job-1")
    entries = await store.ledger("job-1")
    assert [(e.key, e.delta, e.job_id, e.lead_id) for e in entries] == [
        ("job-1:1:source", -1, "job-1", None),
        ("job-1:2:audit:a", -1, "job-1", "a"),
    ]
    assert all(e.customer_id == "c1" and e.feature_id == "lead_discovery" for e in entries)
    assert await store.ledger("job-2") == []


async def test_customers_balances_never_mix(store: Store) -> None:
    """Movements of one customer neither read nor report another's balance: a refusal, a
    repeated key and a fresh customer each answer with the customer's own figures."""
    await store.move_credits("rich", "dossier_research", 10, "grant-rich")
    await store.move_credits("poor", "dossier_research", 1, "grant-poor")
    refused = await store.move_credits("poor", "dossier_research", -2, "charge-poor")
    assert (refused.applied, refused.already, refused.balance) == (False, False, 1)
    again = await store.move_credits("poor", "dossier_research", 1, "grant-poor")
    assert (again.already, again.balance) == (True, 1)
    fresh = await store.move_credits("new", "dossier_research", 3, "grant-new")
    assert (fresh.applied, fresh.balance) == (True, 3)
    assert await store.balances("poor") == {"dossier_research": 1}
    assert await store.balances("rich") == {"dossier_research": 10}


async def test_ledger_order_is_time_not_key(store: Store) -> None:
    """A job's ledger is in the order the movements happened, whatever their keys."""
    await store.move_credits("c1", "dossier_research", 5, "grant-1")
    for key in ("z-first", "m-second", "a-third"):
        await store.move_credits("c1", "dossier_research", -1, key, job_id="job-1")
        await asyncio.sleep(0.002)  # distinct timestamps at millisecond precision
    assert [e.key for e in await store.ledger("job-1")] == ["z-first", "m-second", "a-third"]


async def test_unknown_customer_has_no_balances(store: Store) -> None:
    """Balances of a customer never seen are empty, and no movement is known."""
    assert await store.balances("nobody") == {}
    assert await store.has_movement("nothing") is False


async def test_memory_store_drop_forgets_everything(memory_store: MemoryStore) -> None:
    """After ``drop`` the embedded store holds no job, lead, balance or movement."""
    await memory_store.insert_job(make_job())
    await memory_store.add_leads([make_lead("a")])
    await memory_store.move_credits("c1", "lead_discovery", 1, "grant-1", job_id="job-1")
    await memory_store.drop()
    assert await memory_store.get_job("job-1") is None
    assert await memory_store.leads("job-1") == []
    assert await memory_store.balances("c1") == {}
    assert await memory_store.has_movement("grant-1") is False
    assert await memory_store.ledger("job-1") == []
