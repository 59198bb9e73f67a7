"""Systematic fault injection: on every path, at every store write and every publish, a crash
of the worker and a one-time failure of the call; every run must end like the fault-free run
(invariants 5, 6, 7 and 9)."""

import asyncio

import pytest

from leadgen.store.memory import MemoryStore
from tests.faults.outcome import check_books, settled_state
from tests.faults.rig import Fault, Rig
from tests.faults.scenarios import SCENARIOS, Scenario, drive, seed

PATHS = sorted(SCENARIOS)


async def run(scenario: Scenario, fault: Fault, with_message_id: bool) -> Rig:
    """Play ``scenario`` on a fresh embedded store with ``fault``; the settled rig."""
    store = MemoryStore()
    await seed(store, scenario)
    return await drive(store, scenario, fault, with_message_id)


# Commands without a message id matter where a command may be handled twice.
VARIANTS = [
    (path, mode, with_id)
    for path in PATHS
    for mode in ("crash", "fail")
    for with_id in (True, False)
    if with_id or path in ("completes", "grant_resumes", "manual_resume", "refused_resume")
]
# Runs are independent (each its own store and broker): several at once keep the suite short.
PARALLEL = 8


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("path", "mode", "with_message_id"),
    VARIANTS,
    ids=[f"{p}-{m}-{'message_id' if w else 'no_message_id'}" for p, m, w in VARIANTS],
)
async def test_every_fault_ends_like_the_fault_free_run(
    path: str, mode: str, with_message_id: bool
) -> None:
    """A crash after, or a one-time failure of, any write or publish changes no outcome."""
    scenario = SCENARIOS[path]
    probe = Fault()
    reference = await run(scenario, probe, with_message_id)
    expected = await settled_state(reference)
    assert await check_books(reference, scenario) == []
    sites = list(probe.calls)
    assert len(sites) > 8
    limit = asyncio.Semaphore(PARALLEL)

    async def inject(target: int) -> list[str]:
        where = f"{mode} at #{target} {sites[target]}"
        async with limit:
            try:
                rig = await run(scenario, Fault(target=target, mode=mode), with_message_id)
            except TimeoutError as exc:
                return [f"{where}: {exc}"]
            state = await settled_state(rig)
            problems = await check_books(rig, scenario)
        diff = {k: (expected[k], state[k]) for k in expected if expected[k] != state[k]}
        return [f"{where}: {diff or ''} {problems or ''}"] if diff or problems else []

    failures = await asyncio.gather(*(inject(t) for t in range(len(sites))))
    found = [f for some in failures for f in some]
    assert not found, "\n".join(found)
