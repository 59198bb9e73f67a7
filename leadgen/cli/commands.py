"""What each ``leadgen`` subcommand does, once its arguments are parsed."""

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from pydantic import BaseModel
from rich.console import Console

from leadgen import constants as c
from leadgen.cli.answers import EXIT_REFUSED, Answer, send_and_wait
from leadgen.cli.follow import exit_code, follow, job_json
from leadgen.cli.ops import run_ops
from leadgen.cli.render.console import make_console, show_credits, show_status
from leadgen.cli.render.leads_export import write_leads
from leadgen.ids import new_id
from leadgen.log import configure_logging
from leadgen.messages.commands import CancelJob, GrantCredits, ResumeJob, StartJob
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.worker.backends import mongo_store
from leadgen.workflow.outbox import send_command

EXIT_NOT_FOUND = 2


def start_command(args: argparse.Namespace) -> StartJob:
    """The start command of ``start`` or ``run`` options; a job id is chosen here if none is."""
    return StartJob(
        customer_id=args.customer,
        query=args.query,
        location=args.location,
        max_leads=args.max_leads,
        max_dossiers=args.max_dossiers,
        job_id=args.job_id or new_id(),
    )


async def run_command(
    args: argparse.Namespace, settings: Settings, out: TextIO | None = None
) -> int:
    """Run the parsed subcommand, writing to ``out`` (stdout); its exit code."""
    if args.command == "worker":
        from leadgen.worker.process import run_worker

        return await run_worker(settings, grace=args.grace)
    operated = await run_ops(args, settings, out or sys.stdout)
    if operated is not None:
        return operated
    if args.command == "bench":
        from leadgen.bench.run import BenchPlan, run_bench

        plan = BenchPlan(
            jobs=args.jobs,
            rounds=args.rounds,
            leads=args.leads,
            dossiers=args.dossiers,
            sizes=args.sizes,
            rss_jobs=args.rss_jobs,
            mongodb=args.mongodb,
        )
        return await run_bench(settings, plan, out or sys.stdout, args.json)
    machine = getattr(args, "format", "table") != "table"
    # Progress is for people: beside a machine-readable format it goes to stderr.
    console = make_console(sys.stderr if machine and out is None else (out or sys.stdout))
    if args.command == "run":
        return await run_embedded(args, settings, console, out or sys.stdout)
    if args.command == "leads":
        return await leads_command(args, settings, console, out or sys.stdout)
    if args.command == "start":
        return await start_cli(args, settings, console)
    if args.command == "resume":
        return await resume_command(args, settings, console)
    if args.command == "cancel":
        return await cancel_cli(args, settings, console)
    if args.command == "status":
        return await status_command(settings, args.job_id, as_json=args.json, console=console)
    return await credits_command(args, settings, console)


async def start_cli(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Publish the start and say what the worker made of it; with ``--follow``, follow it."""
    command = start_command(args)
    job_id = str(command.job_id)
    if args.follow:
        async with opened_store(settings):
            pass  # unreachable MongoDB: say so before the job exists, not after
    answer = await _send(settings, args, c.START_KEY, command)
    if answer is not None and not answer.accepted:
        return _refused(f"start of job {job_id}", answer)
    console.out(f"job {job_id} started" if answer else f"start of job {job_id} sent")
    return await _maybe_follow(settings, args, job_id, console)


async def resume_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Publish the resume and say what became of it; with ``--follow``, show the run it
    starts until it settles."""
    command = ResumeJob(job_id=args.job_id, customer_id=args.customer)
    if not args.follow:
        answer = await _send(settings, args, c.RESUME_KEY, command)
        return _resumed(args.job_id, answer, console)
    async with opened_store(settings) as store:
        # Read before sending, so the paused job read back before the worker applied the
        # resume is not taken for where the resumed job settled.
        before = await store.get_job(args.job_id)
        answer = await _send(settings, args, c.RESUME_KEY, command)
        code = _resumed(args.job_id, answer, console)
        if code:
            return code
        job = await follow(
            store, args.job_id, console, poll=0.5, before=before, timeout=args.timeout
        )
    return exit_code(job)


def _resumed(job_id: str, answer: Answer | None, console: Console) -> int:
    if answer is None:
        console.out(f"resume of job {job_id} sent")
    elif not answer.accepted:
        return _refused(f"resume of job {job_id}", answer)
    else:
        console.out(f"job {job_id} resumed")
    return 0


async def cancel_cli(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Publish the cancel and say what became of it."""
    command = CancelJob(job_id=args.job_id, customer_id=args.customer, reason=args.reason)
    answer = await _send(settings, args, c.CANCEL_KEY, command)
    if answer is not None and not answer.accepted:
        return _refused(f"cancel of job {args.job_id}", answer)
    console.out(f"job {args.job_id} cancelled" if answer else f"cancel of job {args.job_id} sent")
    return 0


async def credits_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """``credits grant`` publishes a grant and says what it did; ``credits show`` reads the
    balances."""
    if args.credits_command == "grant":
        grant = GrantCredits(
            customer_id=args.customer,
            feature_id=args.feature,
            amount=args.amount,
            grant_id=args.grant_id or new_id(),
            auto_resume=args.auto_resume,
        )
        answer = await _send(settings, args, c.GRANT_KEY, grant)
        if answer is None:
            console.out(f"grant of {grant.amount} {grant.feature_id} to {grant.customer_id} sent")
            return 0
        if not answer.accepted:
            return _refused(f"grant {grant.grant_id}", answer)
        body = answer.body
        done = "was already applied" if body.get("already") else "applied"
        console.out(
            f"grant {grant.grant_id} {done}: {grant.customer_id} has"
            f" {body['balance']} {grant.feature_id}"
        )
        if body["resumed_jobs"]:
            console.out(f"resumed: {', '.join(body['resumed_jobs'])}")
        return 0
    async with opened_store(settings) as store:
        balances = await store.balances(args.customer)
    show_credits(console, args.customer, balances)
    return 0


async def _send(
    settings: Settings, args: argparse.Namespace, routing_key: str, command: BaseModel
) -> Answer | None:
    """Publish a command; its answer unless ``--no-wait``."""
    return await send_and_wait(settings, routing_key, command, wait=args.wait, timeout=args.timeout)


def _refused(what: str, answer: Answer) -> int:
    print(f"leadgen: {what} refused: {answer.reason}", file=sys.stderr)
    return EXIT_REFUSED


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    """The MongoDB store, open for the duration of the block."""
    store = mongo_store(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def status_command(
    settings: Settings, job_id: str, *, as_json: bool, console: Console
) -> int:
    """Print the job; exit 2 when it does not exist."""
    async with opened_store(settings) as store:
        job = await store.get_job(job_id)
    if job is None:
        print(f"leadgen: error: no job {job_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if as_json:
        # Past rich: a document for machines is never styled or wrapped.
        print(job_json(job), file=console.file)
    else:
        show_status(console, job)
    return 0


async def _maybe_follow(
    settings: Settings, args: argparse.Namespace, job_id: str, console: Console
) -> int:
    if not args.follow:
        return 0
    async with opened_store(settings) as store:
        return exit_code(await follow(store, job_id, console, poll=0.5, timeout=args.timeout))


async def leads_command(
    args: argparse.Namespace, settings: Settings, console: Console, out: TextIO
) -> int:
    """Print the job's leads and dossiers; exit 2 when there is no such job."""
    async with opened_store(settings) as store:
        job = await store.get_job(args.job_id)
        leads = await store.leads(args.job_id) if job is not None else []
    if job is None:
        print(f"leadgen: error: no job {args.job_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    write_leads(leads, args.format, out, console)
    return 0


async def run_embedded(
    args: argparse.Namespace, settings: Settings, console: Console, out: TextIO
) -> int:
    """Run one job in this process on the in-process broker and store."""
    from leadgen.broker.memory import MemoryBroker
    from leadgen.store.memory import MemoryStore
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
        if not console.is_terminal:  # on a terminal the live view's headline says it
            console.out(
                f"job {command.job_id}: {command.query!r}"
                + (f" in {command.location}" if command.location else "")
            )
        await send_command(broker, c.START_KEY, command)
        job = await follow(store, str(command.job_id), console, poll=0.05, rerun=credits)
        write_leads(await store.leads(job.id), args.format, out, console)
        return exit_code(job)
    finally:
        await worker.stop(grace=5.0)
