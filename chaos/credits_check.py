"""Credits against work, read straight from ``credits``, ``credit_ledger``, ``leads`` and
``jobs``: dossier credits spent (charges plus refunds) equal dossiers delivered, one discovery
charge per job that got past ``source``, no key charged twice, every balance equal to the
grants sent plus the ledger's charges and refunds, and no ``pending`` mark left behind."""

from collections import Counter, defaultdict
from typing import Any

from pymongo.database import Database

from chaos.figures import Figures
from chaos.scenario import Grant

Doc = dict[str, Any]
DOSSIER = "dossier_research"
DISCOVERY = "lead_discovery"


def check_credits(
    db: Database[Doc], jobs: list[Doc], grants: list[Grant], figures: Figures
) -> None:
    """Run every credit check and note the offenders on ``figures``."""
    ledger = list(db["credit_ledger"].find({}))
    customer_of = {doc["_id"]: doc.get("customer_id") for doc in jobs}
    _check_double_charges(ledger, figures)
    _check_spend(db, ledger, customer_of, figures)
    _check_discovery(ledger, jobs, figures)
    _check_balances(db, ledger, grants, figures)


def _is_grant(entry: Doc) -> bool:
    return str(entry["_id"]).startswith("grant:")


def _check_double_charges(ledger: list[Doc], figures: Figures) -> None:
    """No (job, lead, feature) charged, or refunded, more than once."""
    seen = Counter(
        (entry.get("job_id"), entry.get("lead_id"), entry.get("feature_id"), entry["delta"] < 0)
        for entry in ledger
        if not _is_grant(entry)
    )
    figures.note(
        "double_charges",
        *(
            f"{'charged' if neg else 'refunded'} {n}x: {job} {lead} {feature}"
            for (job, lead, feature, neg), n in seen.items()
            if n > 1
        ),
    )


def _check_spend(
    db: Database[Doc], ledger: list[Doc], customer_of: dict[str, Any], figures: Figures
) -> None:
    """Per customer: dossier charges plus refunds equal minus the leads with a dossier."""
    spent: dict[str, int] = defaultdict(int)
    for entry in ledger:
        if entry.get("feature_id") == DOSSIER and not _is_grant(entry):
            spent[entry["customer_id"]] += int(entry["delta"])
    delivered: dict[str, int] = defaultdict(int)
    for lead in db["leads"].find({"dossier": {"$ne": None}}, {"job_id": True}):
        delivered[customer_of.get(lead["job_id"], "?")] += 1
    figures.dossiers = sum(delivered.values())
    for customer in sorted(set(spent) | set(delivered)):
        if spent[customer] != -delivered[customer]:
            figures.note(
                "spend_mismatches",
                f"{customer}: {DOSSIER} spent {-spent[customer]}, dossiers {delivered[customer]}",
            )


def _check_discovery(ledger: list[Doc], jobs: list[Doc], figures: Figures) -> None:
    """One discovery charge per job past ``source``; none for a job that did not get past it."""
    charges = Counter(
        e.get("job_id") for e in ledger if e.get("feature_id") == DISCOVERY and e["delta"] < 0
    )
    for job in jobs:
        source: Doc = next((p for p in job.get("phases", []) if p.get("name") == "source"), {})
        expected = 1 if source.get("status") == "completed" else 0
        if charges[job["_id"]] != expected:
            figures.note(
                "discovery_mismatches",
                f"{job['_id']}: source {source.get('status')}, {charges[job['_id']]} charge(s)",
            )


def _check_balances(
    db: Database[Doc], ledger: list[Doc], grants: list[Grant], figures: Figures
) -> None:
    """Balance = grants sent + ledger charges and refunds, for each customer and feature."""
    sent: dict[tuple[str, str], int] = defaultdict(int)
    for grant in {g.grant_id: g for g in grants}.values():
        sent[grant.customer_id, grant.feature_id] += grant.amount
    granted: dict[tuple[str, str], int] = defaultdict(int)
    moved: dict[tuple[str, str], int] = defaultdict(int)
    for entry in ledger:
        key = (entry["customer_id"], entry["feature_id"])
        (granted if _is_grant(entry) else moved)[key] += int(entry["delta"])
    balances: dict[tuple[str, str], int] = {}
    for doc in db["credits"].find({}):
        for feature, value in (doc.get("balances") or {}).items():
            balances[doc["_id"], feature] = int(value)
        figures.note("pending_keys", *(f"{doc['_id']}: {key}" for key in doc.get("pending") or []))
    for key in sorted(set(sent) | set(granted) | set(moved) | set(balances)):
        expected = sent[key] + moved[key]
        if granted[key] != sent[key] or balances.get(key, 0) != expected:
            figures.note(
                "ledger_balance_mismatches",
                f"{key[0]} {key[1]}: balance {balances.get(key, 0)}, grants sent {sent[key]}, "
                f"grants in ledger {granted[key]}, charges and refunds {moved[key]}",
            )
