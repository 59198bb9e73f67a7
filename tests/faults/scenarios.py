"""The paths systematic fault injection walks, each from a fresh store to a settled job.

Each scenario seeds credits straight into the store (before any call site is counted), then
drives the job with commands as another service would, waiting after each for the state it
leads to. Commands go with or without a ``message_id`` (the contract allows both); they always
carry a correlation id."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from leadgen import constants as c
from leadgen.providers.offline import OfflineAuditor
from leadgen.store.base import Store
from leadgen.store.models import Job, Lead
from tests.faults.rig import Fault, Rig

JOB = "job-f"
CUSTOMER = "acme"


def terminal(job: Job) -> bool:
    """The run ended and the completion actor wrote its status."""
    return job.workflow_status in ("completed", "failed", "cancelled")


def paused(job: Job) -> bool:
    """Paused for billing, with its run ended."""
    return job.status == "paused_for_upgrade" and job.run_ended


class Client:
    """Publishes commands to the rig's broker as another service would."""

    def __init__(self, rig: Rig, with_message_id: bool) -> None:
        self.rig = rig
        self.with_message_id = with_message_id
        self.count = 0

    async def send(self, routing_key: str, body: dict[str, Any]) -> None:
        """Publish one command."""
        self.count += 1
        name = f"cmd-{self.count}"
        await self.rig.broker.send_as_client(
            routing_key,
            {"customer_id": CUSTOMER, **body},
            message_id=name if self.with_message_id else None,
            correlation_id=f"corr-{name}",
        )

    async def start(self, max_dossiers: int = 2) -> None:
        """Start the job."""
        await self.send(
            c.START_KEY,
            {
                "type": "leadgen.start.v1",
                "job_id": JOB,
                "query": "dentists",
                "location": "Austin, TX",
                "max_leads": 4,
                "max_dossiers": max_dossiers,
            },
        )

    async def grant(self, amount: int, *, auto_resume: bool = True) -> None:
        """Grant dossier credits."""
        await self.send(
            c.GRANT_KEY,
            {
                "type": "leadgen.credits.grant.v1",
                "feature_id": c.DOSSIER_RESEARCH,
                "amount": amount,
                "grant_id": f"grant-{self.count}",
                "auto_resume": auto_resume,
            },
        )

    async def resume(self) -> None:
        """Resume the job."""
        await self.send(c.RESUME_KEY, {"type": "leadgen.resume.v1", "job_id": JOB})

    async def cancel(self) -> None:
        """Cancel the job."""
        await self.send(
            c.CANCEL_KEY, {"type": "leadgen.cancel.v1", "job_id": JOB, "reason": "enough"}
        )


class GatedAuditor(OfflineAuditor):
    """The offline auditor, holding every audit until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def audit(self, lead: Lead) -> dict[str, Any]:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        return await super().audit(lead)


@dataclass(frozen=True)
class Scenario:
    """A path: the credits it starts with and what the client does."""

    name: str
    credits: tuple[int, int]  # lead_discovery, dossier_research
    drive: Callable[[Rig, Client], Awaitable[None]]
    granted: int = 0  # dossier credits the scenario grants through commands
    gated: bool = False  # audits wait for the scenario to let them through


async def seed(store: Store, scenario: Scenario) -> None:
    """Give the customer the credits ``scenario`` starts with."""
    await store.move_credits(CUSTOMER, c.LEAD_DISCOVERY, scenario.credits[0], "seed:1")
    await store.move_credits(CUSTOMER, c.DOSSIER_RESEARCH, scenario.credits[1], "seed:2")


async def drive(store: Store, scenario: Scenario, fault: Fault, with_message_id: bool) -> Rig:
    """Run a worker on ``store`` with ``fault`` through ``scenario``; the stopped rig."""
    rig = Rig(store, fault, GatedAuditor() if scenario.gated else None)
    await rig.start()
    try:
        await scenario.drive(rig, Client(rig, with_message_id))
    finally:
        await rig.stop()
    return rig


async def completes(rig: Rig, client: Client) -> None:
    await client.start()
    await rig.settle(JOB, terminal)


async def pauses(rig: Rig, client: Client) -> None:
    await client.start()
    await rig.settle(JOB, paused)


async def grant_resumes(rig: Rig, client: Client) -> None:
    await pauses(rig, client)
    await client.grant(3)
    await rig.settle(JOB, terminal)


async def manual_resume(rig: Rig, client: Client) -> None:
    await pauses(rig, client)
    await client.grant(3, auto_resume=False)
    await rig.settle(JOB, paused)
    await until_balance(rig, 3 + 0)
    await client.resume()
    await rig.settle(JOB, terminal)


async def refused_resume(rig: Rig, client: Client) -> None:
    await pauses(rig, client)
    await client.resume()
    await rig.settle(JOB, lambda job: paused(job) and refusal_seen(rig))


async def cancel_in_audits(rig: Rig, client: Client) -> None:
    auditor = rig.auditor
    assert isinstance(auditor, GatedAuditor)
    await client.start()
    await until(lambda: auditor.waiting >= 2, rig)
    await client.cancel()
    await until_job(rig, lambda job: job.status == "cancelled")
    auditor.gate.set()
    await rig.settle(JOB, terminal)


def refusal_seen(rig: Rig) -> bool:
    """A ``job.resume_refused`` event was published."""
    return any(e["type"] == "leadgen.job.resume_refused.v1" for e in rig.events())


async def until(condition: Callable[[], bool], rig: Rig, timeout: float = 20) -> None:
    """Wait for ``condition``, dealing with the crash if it happens meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if rig.fault.crashed.is_set() and rig.restarts == 0:
            await rig.crash_and_restart()
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def until_job(rig: Rig, check: Callable[[Job], bool]) -> None:
    """Wait until the job satisfies ``check``."""
    found: list[bool] = [False]

    async def poll() -> None:
        while not found[0]:
            job = await rig.store.get_job(JOB)
            found[0] = job is not None and check(job)
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(poll())
    try:
        await until(lambda: found[0], rig)
    finally:
        task.cancel()


async def until_balance(rig: Rig, amount: int) -> None:
    """Wait until the dossier balance is at least ``amount``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (await rig.store.balances(CUSTOMER)).get(c.DOSSIER_RESEARCH, 0) < amount:
        if rig.fault.crashed.is_set() and rig.restarts == 0:
            await rig.crash_and_restart()
        if loop.time() > deadline:
            raise TimeoutError("balance not reached")
        await asyncio.sleep(0.01)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("completes", (1, 2), completes),
        Scenario("pause_in_source", (0, 2), pauses),
        Scenario("pause_in_generate_dossier", (1, 1), pauses),
        Scenario("grant_resumes", (1, 1), grant_resumes, granted=3),
        Scenario("manual_resume", (1, 1), manual_resume, granted=3),
        Scenario("cancel_during_audits", (1, 2), cancel_in_audits, gated=True),
        Scenario("refused_resume", (1, 1), refused_resume),
    )
}
