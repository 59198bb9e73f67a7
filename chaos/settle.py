"""The quiet period and the verdict: once faults stop, every customer gets enough credits for
everything, the run waits (bounded) until every planned job exists and none is running, and
then reads the store, the dead-letter queue and the workers' output to fill in the figures."""

import asyncio
import time
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from chaos.commands import HOSTILE_PREFIX
from chaos.credits_check import check_credits
from chaos.figures import Figures
from chaos.jobs_check import check_jobs, read_jobs
from chaos.rabbit import Management
from chaos.scenario import Grant, Plan
from chaos.timeline import Chaos

Doc = dict[str, Any]
POLL = 1.0
# A settled picture must hold this long, so audits still in flight land before the checks.
STEADY = 3.0


def top_up_grants(plan: Plan) -> list[Grant]:
    """Per customer, one discovery credit per job and one dossier credit per dossier asked."""
    grants = []
    for customer in plan.customers():
        jobs = [job for job in plan.jobs if job.customer_id == customer]
        amounts = {
            "lead_discovery": len(jobs),
            "dossier_research": sum(j.max_dossiers for j in jobs),
        }
        for feature, amount in amounts.items():
            grant_id = f"topup-{customer}-{feature}"
            grants.append(Grant(customer, feature, amount, grant_id, f"chaos-{grant_id}"))
    return grants


def open_database(url: str, name: str) -> tuple[MongoClient[Doc], Database[Doc]]:
    """A PyMongo client of the store and the run's database."""
    client: MongoClient[Doc] = MongoClient(url, serverSelectionTimeoutMS=5000)
    return client, client[name]


async def wait_settled(chaos: Chaos, db: Database[Doc], plan: Plan, timeout: float) -> float | None:
    """Wait until the jobs settle and stay so for STEADY seconds; when they did, or None."""
    deadline = time.monotonic() + timeout
    since: float | None = None
    while time.monotonic() < deadline:
        chaos.pool.revive_crashed()
        view = await asyncio.to_thread(read_jobs, db, plan)
        if not view.settled():
            since = None
        elif since is None:
            since = time.monotonic()
        elif time.monotonic() - since >= STEADY:
            return since
        await asyncio.sleep(POLL)
    return None


async def check_dead_letters(management: Management, hostile: list[str], figures: Figures) -> None:
    """Every hostile command is in ``leadgen.dead`` (waiting a little for the last ones);
    nothing else is."""
    figures.hostile_sent = len(hostile)
    deadline = time.monotonic() + 10
    while True:
        dead = await asyncio.to_thread(management.dead_letters)
        found = {letter.message_id for letter in dead}
        missing = [message_id for message_id in hostile if message_id not in found]
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(POLL)
    figures.note("hostile_not_dead_lettered", *missing)
    figures.note(
        "unexpected_dead_letters",
        *(
            f"{letter.routing_key} {letter.message_id}: {letter.reason}"
            for letter in dead
            if not (letter.message_id or "").startswith(HOSTILE_PREFIX)
        ),
    )


def check_store(db: Database[Doc], plan: Plan, grants: list[Grant], figures: Figures) -> None:
    """The job and credit checks, read straight from the store."""
    view = read_jobs(db, plan)
    check_jobs(view, plan, figures)
    check_credits(db, view.all(), grants, figures)
