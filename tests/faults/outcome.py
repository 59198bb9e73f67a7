"""What a run of a scenario must end with, whatever fault it met, and the checks that hold in
every run (invariants 5, 7 and 9)."""

from collections import Counter
from typing import Any

from leadgen import constants as c
from leadgen.store.base import Store
from tests.faults.rig import Rig
from tests.faults.scenarios import CUSTOMER, JOB, Scenario


async def settled_state(rig: Rig) -> dict[str, Any]:
    """The part of the end state that must equal the fault-free run's."""
    store = rig.store
    job = await store.get_job(JOB)
    assert job is not None
    leads = await store.leads(JOB)
    net: Counter[str] = Counter()
    for entry in await store.ledger(JOB):
        net[f"{entry.feature_id}:{entry.lead_id}"] += entry.delta
    return {
        "status": job.status,
        "workflow_status": job.workflow_status,
        "runs": job.runs,
        "phases": [(p.name, p.status) for p in job.phases],
        "counts": job.counts.model_dump(),
        # Which lead wins the last credit is a race between audits in flight; how many do is not.
        "dossiers": sum(lead.dossier is not None for lead in leads),
        "failed": sum(lead.dossier_error is not None for lead in leads),
        "charges": sorted((key.split(":")[0], delta) for key, delta in net.items()),
        "balances": await store.balances(CUSTOMER),
        "event_types": sorted({e["type"] for e in rig.events()}),
    }


async def check_books(rig: Rig, scenario: Scenario) -> list[str]:
    """What must hold after any run: balances equal credits in plus the ledger, no pending
    credit keys, nothing left running or unsent, one message id per event."""
    problems = []
    store = rig.store
    job = await store.get_job(JOB)
    assert job is not None
    balances = await store.balances(CUSTOMER)
    moved: Counter[str] = Counter()
    for entry in await store.ledger(JOB):
        moved[entry.feature_id] += entry.delta
    credits_in = {
        c.LEAD_DISCOVERY: scenario.credits[0],
        c.DOSSIER_RESEARCH: scenario.credits[1] + scenario.granted,
    }
    for feature, amount in credits_in.items():
        if balances.get(feature, 0) != amount + moved[feature]:
            problems.append(f"{feature}: balance {balances.get(feature)} != ledger")
    if job.status == "running":
        problems.append("job left running")
    if job.outbox:
        problems.append(f"unsent: {list(job.outbox)}")
    problems += await pending_keys(store)
    ids: dict[tuple[str, str], set[str]] = {}
    for event in rig.events():
        # A job event is one per run and type; a command answer one per command.
        about = event.get("workflow_id") or event["correlation_id"]
        ids.setdefault((event["type"], about), set()).add(event["amqp_id"])
    problems += [f"{key} published under ids {v}" for key, v in ids.items() if len(v) > 1]
    return problems


async def pending_keys(store: Store) -> list[str]:
    """Credit movements left half-recorded (MongoDB's pending marks)."""
    book = getattr(store, "credit_book", None)
    if book is None:
        return []
    docs = [doc async for doc in book._credits.find({"pending": {"$ne": []}})]
    return [f"pending credit keys: {doc['pending']}" for doc in docs]
