"""``leadgen start``, ``resume`` and ``cancel``: publish the command, say what the worker made
of it, and with ``--follow`` show the job until it pauses or ends."""

import argparse

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.cli import exit_codes
from leadgen.cli.answers import Answer, send_and_wait
from leadgen.cli.follow import exit_code, follow
from leadgen.cli.terminal import Terminal
from leadgen.ids import new_id
from leadgen.messages.commands import CancelJob, ResumeJob, StartJob
from leadgen.settings import Settings
from leadgen.worker.backends import opened_store


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


async def start(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Publish the start and say what the worker made of it; with ``--follow``, follow it."""
    command = start_command(args)
    job_id = str(command.job_id)
    if args.follow:
        async with opened_store(settings):
            pass  # unreachable MongoDB: say so before the job exists, not after
    answer = await send(settings, args, c.START_KEY, command)
    if answer is not None and not answer.accepted:
        return refused(term, f"start of job {job_id}", answer)
    term.console.out(f"job {job_id} started" if answer else f"start of job {job_id} sent")
    if not args.follow:
        return exit_codes.OK
    async with opened_store(settings) as store:
        job = await follow(store, job_id, term.console, poll=0.5, timeout=args.timeout)
    return exit_code(job)


async def resume(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Publish the resume and say what became of it; with ``--follow``, show the run it
    starts until it settles."""
    command = ResumeJob(job_id=args.job_id, customer_id=args.customer)
    if not args.follow:
        answer = await send(settings, args, c.RESUME_KEY, command)
        return _resumed(args.job_id, answer, term)
    async with opened_store(settings) as store:
        # Read before sending, so the paused job read back before the worker applied the
        # resume is not taken for where the resumed job settled.
        before = await store.get_job(args.job_id)
        answer = await send(settings, args, c.RESUME_KEY, command)
        code = _resumed(args.job_id, answer, term)
        if code:
            return code
        job = await follow(
            store, args.job_id, term.console, poll=0.5, before=before, timeout=args.timeout
        )
    return exit_code(job)


def _resumed(job_id: str, answer: Answer | None, term: Terminal) -> int:
    if answer is None:
        term.console.out(f"resume of job {job_id} sent")
    elif not answer.accepted:
        return refused(term, f"resume of job {job_id}", answer)
    else:
        term.console.out(f"job {job_id} resumed")
    return exit_codes.OK


async def cancel(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Publish the cancel and say what became of it."""
    command = CancelJob(job_id=args.job_id, customer_id=args.customer, reason=args.reason)
    answer = await send(settings, args, c.CANCEL_KEY, command)
    if answer is not None and not answer.accepted:
        return refused(term, f"cancel of job {args.job_id}", answer)
    term.console.out(
        f"job {args.job_id} cancelled" if answer else f"cancel of job {args.job_id} sent"
    )
    return exit_codes.OK


async def send(
    settings: Settings, args: argparse.Namespace, routing_key: str, command: BaseModel
) -> Answer | None:
    """Publish a command; its answer unless ``--no-wait``."""
    return await send_and_wait(settings, routing_key, command, wait=args.wait, timeout=args.timeout)


def refused(term: Terminal, what: str, answer: Answer) -> int:
    """Say that the worker refused ``what``, and why."""
    term.error(f"{what} refused: {answer.reason}")
    return exit_codes.REFUSED
