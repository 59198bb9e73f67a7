"""The MongoDB side of the bench: one job on the embedded broker and a MongoDB store, with
every command the driver sends counted by a PyMongo command listener."""

import uuid
from collections import Counter

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from typing_extensions import override

from leadgen.bench.figures import Round
from leadgen.bench.workflow import run_leadgen
from leadgen.settings import Settings
from leadgen.store.mongo import MongoStore

# What the driver sends for itself rather than for leadgen.
HOUSEKEEPING = {"hello", "isMaster", "ismaster", "ping", "endSessions", "createIndexes"}


class CommandCounter(CommandListener):
    """Counts the commands leadgen makes MongoDB run, by name."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()

    @override
    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name not in HOUSEKEEPING:
            self.commands[event.command_name] += 1

    @override
    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    @override
    def failed(self, event: CommandFailedEvent) -> None:
        pass

    @property
    def total(self) -> int:
        """Commands counted so far."""
        return sum(self.commands.values())


async def run_on_mongodb(settings: Settings, jobs: int, leads: int, dossiers: int) -> Round:
    """Run the jobs on the embedded broker and a fresh database of ``settings.mongodb_url``
    (dropped afterwards); the round, with the MongoDB commands it took."""
    counter = CommandCounter()
    name = f"leadgen_bench_{uuid.uuid4().hex[:8]}"
    store = MongoStore(settings.mongodb_url, name, event_listeners=[counter])
    try:
        return await run_leadgen(
            settings,
            jobs,
            leads,
            dossiers,
            embedded=True,
            name="mongodb",
            store=store,
            commands=lambda: counter.total,
        )
    finally:
        cleanup = MongoStore(settings.mongodb_url, name)
        await cleanup.open()
        await cleanup.drop()
        await cleanup.close()
