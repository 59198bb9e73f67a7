"""``leadgen run``: one job in this process, on the embedded broker and store.

The same worker as ``leadgen worker``, on the in-process ``MemoryBroker`` and ``MemoryStore``:
no RabbitMQ, no MongoDB. The customer gets the credits the request needs (or those given with
``--credits``), the job is shown live, then its leads and dossiers are printed."""

import argparse
import os

from leadgen import constants as c
from leadgen.broker.memory import MemoryBroker
from leadgen.cli.follow import exit_code, follow
from leadgen.cli.jobs import start_command
from leadgen.cli.render.leads_export import write_leads
from leadgen.cli.terminal import Terminal
from leadgen.log import configure_logging
from leadgen.settings import Settings
from leadgen.store.memory import MemoryStore
from leadgen.workflow.outbox import send_command


async def run(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Run the job to its end or its pause; the exit code of where it stopped."""
    # Imported here: every other subcommand starts without the worker's modules.
    from leadgen.worker.process import Worker

    if args.log_level is None and "LEADGEN_LOG_LEVEL" not in os.environ:
        configure_logging(settings.log_format, "error")  # progress lines, not log lines
    command = start_command(args)
    store, broker = MemoryStore(), MemoryBroker()
    worker = Worker(settings, store=store, broker=broker)
    await worker.start()
    try:
        credits = dict(
            args.credits or [(c.LEAD_DISCOVERY, 1), (c.DOSSIER_RESEARCH, command.max_dossiers)]
        )
        for feature, amount in credits.items():
            if amount > 0:
                await store.move_credits(
                    command.customer_id, feature, amount, f"grant:run:{feature}"
                )
        console = term.console
        if not console.is_terminal:  # on a terminal the live view's headline says it
            console.out(
                f"job {command.job_id}: {command.query!r}"
                + (f" in {command.location}" if command.location else "")
            )
        await send_command(broker, c.START_KEY, command)
        job = await follow(store, str(command.job_id), console, poll=0.05, rerun=credits)
        write_leads(await store.leads(job.id), args.format, term.out, console)
        return exit_code(job)
    finally:
        await worker.stop(grace=5.0)
