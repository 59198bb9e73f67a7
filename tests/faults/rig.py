"""A worker whose store writes and publishes can be made to fail, for systematic fault injection.

Every store write and every publish the worker makes is one numbered call site. A ``Fault``
picks one of them and either makes it fail once (``fail``: it raises the outage error before
doing anything) or crashes the worker right after it (``crash``: the call completes, then the
handler never returns; the rig then drops the broker connection, as a dying process does,
and starts a fresh worker on the same store and broker, which gets the unacknowledged messages
redelivered). The test client publishes its commands around the fault."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from leadgen import constants as c
from leadgen.broker.base import Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.errors import BrokerUnavailable, StoreUnavailable
from leadgen.providers.base import Auditor
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.store.models import Job
from leadgen.worker.process import Worker

WRITES = (
    "insert_job",
    "update_job",
    "clear_outbox",
    "account_audit",
    "add_leads",
    "update_leads",
    "record_audit",
    "move_credits",
)

# The reconciler stays out of the way: these tests prove the outbox, not the re-drive.
SETTINGS = Settings(audit_concurrency=2, max_attempts=3, relay_after_seconds=0.2, stall_seconds=600)


@dataclass
class Fault:
    """One injected fault: call site ``target`` fails once or crashes the worker. ``target``
    is the index of the call among all calls, or ``(site, n)``: the n-th call of that site
    (steady when concurrent handlers interleave their calls differently from run to run)."""

    target: int | tuple[str, int] | None = None
    mode: str = "crash"  # "crash" or "fail"
    calls: list[str] = field(default_factory=list)
    crashed: asyncio.Event = field(default_factory=asyncio.Event)

    async def around(self, site: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call`` as the next call site, with the fault if it is this one."""
        index = len(self.calls)
        self.calls.append(site)
        if self.target not in (index, (site, self.calls.count(site))):
            return await call()
        if self.mode == "fail":
            outage = BrokerUnavailable if site.startswith("publish") else StoreUnavailable
            raise outage(f"injected failure of {site}")
        result = await call()
        self.crashed.set()
        await asyncio.Event().wait()  # the process is gone
        return result


class FaultyStore:
    """A store whose writes go through ``fault``; reads pass straight through."""

    def __init__(self, inner: Store, fault: Fault) -> None:
        self.inner = inner
        self.fault = fault

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in WRITES:
            return attribute

        async def write(*args: Any, **kwargs: Any) -> Any:
            return await self.fault.around(name, lambda: attribute(*args, **kwargs))

        return write


class FaultyBroker(MemoryBroker):
    """The in-process broker, with the worker's publishes going through ``fault``."""

    def __init__(self, fault: Fault) -> None:
        super().__init__()
        self.fault = fault

    async def publish(
        self, exchange: str, routing_key: str, message: Outbound, *, mandatory: bool = True
    ) -> None:
        parent = super().publish
        await self.fault.around(
            f"publish {routing_key}",
            lambda: parent(exchange, routing_key, message, mandatory=mandatory),
        )

    async def send_as_client(self, routing_key: str, body: dict[str, Any], **props: Any) -> None:
        """Publish a command to ``leadgen.commands`` as another service would, without fault."""
        outbound = Outbound(body=json.dumps(body).encode(), type="", **props)
        await MemoryBroker.publish(self, c.COMMANDS_EXCHANGE, routing_key, outbound)


class Rig:
    """A worker on a faulty store and broker that survives the crash it is dealt."""

    def __init__(self, store: Store, fault: Fault, auditor: Auditor | None = None) -> None:
        self.fault = fault
        self.store = store
        self.faulty = FaultyStore(store, fault)
        self.broker = FaultyBroker(fault)
        self.auditor = auditor
        self.worker: Worker | None = None
        self.events_queue = ""
        self.restarts = 0

    async def start(self) -> None:
        """Connect and start the first worker; watch ``leadgen.events``."""
        await self.broker.connect()
        self.events_queue = self.broker.bind(c.EVENTS_EXCHANGE, "#")
        await self._start_worker()

    async def _start_worker(self) -> None:
        self.worker = Worker(
            SETTINGS,
            store=self.faulty,
            broker=self.broker,
            auditor=self.auditor,
        )
        await self.worker.start()

    async def crash_and_restart(self) -> None:
        """The crash: the worker's handlers and passes die, its unacked messages go back."""
        assert self.worker is not None
        await self.worker.maintenance.stop()
        events = self.broker.messages(self.events_queue)
        await self.broker.close()  # also deletes the watch queue: keep what it held
        await self.broker.connect()
        self.events_queue = self.broker.bind(c.EVENTS_EXCHANGE, "#")
        self.kept_events = [*getattr(self, "kept_events", []), *events]
        self.restarts += 1
        await self._start_worker()

    async def settle(self, job_id: str, until: Callable[[Job], bool], timeout: float = 20) -> Job:
        """Wait until the job satisfies ``until``, nothing is in flight and its outbox is empty,
        crashing and restarting the worker when the fault fires."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.fault.crashed.is_set() and self.restarts == 0:
                await self.crash_and_restart()
            job = await self.store.get_job(job_id)
            quiet = self.broker._quiet()
            if job is not None and until(job) and quiet and not job.outbox:
                return job
            if loop.time() > deadline:
                state = None if job is None else (job.status, [p.status for p in job.phases])
                raise TimeoutError(f"job never settled: {state}, outbox {job and list(job.outbox)}")
            await asyncio.sleep(0.01)

    def events(self) -> list[dict[str, Any]]:
        """Every event published so far: its body, with its AMQP message id as ``amqp_id``."""
        live = self.broker.messages(self.events_queue) if self.events_queue else []
        stored = [*getattr(self, "kept_events", []), *live]
        return [{**json.loads(m.body), "amqp_id": m.message_id} for m in stored]

    async def stop(self) -> None:
        """Stop the worker, keeping the events published so far."""
        self.kept_events = [
            *getattr(self, "kept_events", []),
            *self.broker.messages(self.events_queue),
        ]
        self.events_queue = ""
        if self.worker is not None:
            await self.worker.stop(grace=1)
