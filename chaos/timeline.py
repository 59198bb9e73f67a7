"""Plays a plan's timeline against the running system: publishes each command at its moment
and injects each fault (SIGKILL a worker and restart it at once, force-close a worker's broker
connections, freeze and thaw the store), counting what it did and when the last fault ended."""

import asyncio
import random
import time
from dataclasses import dataclass, field

from chaos.commands import Publisher, resume_body
from chaos.figures import Figures
from chaos.processes import StoreServer
from chaos.rabbit import Management
from chaos.scenario import Event, Grant
from chaos.workers import WorkerPool

# How long a connection close waits for the management API to list a worker's connection.
CLOSE_PATIENCE = 6.0
# Upper bound of the pause between a command and the kill that follows it.
KILL_AFTER_DELAY = 0.3


@dataclass
class Chaos:
    """Everything the timeline acts on, and the record of what it did."""

    pool: WorkerPool
    store: StoreServer
    management: Management
    publisher: Publisher
    rng: random.Random
    figures: Figures
    grants_sent: list[Grant] = field(default_factory=list)
    hostile_sent: list[str] = field(default_factory=list)
    last_fault: float = field(default_factory=time.monotonic)

    async def play(self, events: list[Event]) -> None:
        """Run every event at its time, counted from now."""
        began = time.monotonic()
        for event in events:
            await asyncio.sleep(max(0.0, began + event.at - time.monotonic()))
            self.pool.revive_crashed()
            await self.dispatch(event)
            if event.kill_after:
                # A moment later, so the kill lands while a worker handles the command.
                await asyncio.sleep(self.rng.uniform(0.0, KILL_AFTER_DELAY))
                self.kill()

    async def dispatch(self, event: Event) -> None:
        """Do one event."""
        if event.kind == "start" or event.kind == "republish":
            assert event.job is not None
            await self.publisher.start(event.job)
        elif event.kind == "grant":
            assert event.grant is not None
            await self.grant(event.grant)
        elif event.kind == "resume":
            assert event.job is not None and event.job.job_id is not None
            message_id = f"chaos-resume-{event.number}" if event.number % 2 == 0 else None
            body = resume_body(event.job.job_id, event.job.customer_id)
            await self.publisher.command("leadgen.resume", body, message_id)
        elif event.kind == "hostile":
            self.hostile_sent.append(await self.publisher.hostile(event.number))
        else:
            await self.fault(event)

    async def fault(self, event: Event) -> None:
        """Inject one fault."""
        if event.kind == "kill":
            self.kill()
        elif event.kind == "close":
            await self.close_connection()
        elif event.kind == "freeze":
            self.store.freeze()
            self.figures.freezes += 1
        elif event.kind == "thaw":
            self.store.thaw()
        self.last_fault = time.monotonic()

    async def grant(self, grant: Grant) -> None:
        """Publish a grant and remember it for the balance check."""
        await self.publisher.grant(grant)
        self.grants_sent.append(grant)

    def kill(self) -> None:
        """SIGKILL a random worker and start it again at once."""
        self.pool.kill_random(self.rng)
        self.figures.kills += 1
        self.last_fault = time.monotonic()

    async def close_connection(self) -> None:
        """Force-close the broker connections of a random worker, as a network failure would.

        A worker restarted a moment ago may not be listed yet: try the other one, then wait."""
        deadline = time.monotonic() + CLOSE_PATIENCE
        while time.monotonic() < deadline:
            workers = self.rng.sample(self.pool.workers, len(self.pool.workers))
            for worker in workers:
                names = await asyncio.to_thread(self.management.connections_of, worker.pid)
                closed = [
                    await asyncio.to_thread(self.management.close_connection, n) for n in names
                ]
                if any(closed):
                    self.figures.connection_closes += 1
                    return
            await asyncio.sleep(0.5)
        self.figures.details.setdefault("skipped_faults", []).append("close: no connection listed")

    async def thaw_all(self) -> None:
        """End a freeze still in force (the quiet period starts with a healthy store)."""
        if self.store.frozen:
            self.store.thaw()
            self.last_fault = time.monotonic()
