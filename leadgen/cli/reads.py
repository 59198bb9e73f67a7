"""``leadgen status`` and ``leadgen leads``: what MongoDB holds of a job."""

import argparse

from leadgen.cli import exit_codes
from leadgen.cli.follow import job_json
from leadgen.cli.render.console import show_status
from leadgen.cli.render.leads_export import write_leads
from leadgen.cli.terminal import Terminal
from leadgen.settings import Settings
from leadgen.worker.backends import opened_store


async def status(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Print the job; exit 2 when it does not exist."""
    async with opened_store(settings) as store:
        job = await store.get_job(args.job_id)
    if job is None:
        term.error(f"error: no job {args.job_id}")
        return exit_codes.NOT_FOUND
    if args.json:
        # Past rich: a document for machines is never styled or wrapped.
        print(job_json(job), file=term.console.file)
    else:
        show_status(term.console, job)
    return exit_codes.OK


async def leads(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Print the job's leads and dossiers; exit 2 when there is no such job."""
    async with opened_store(settings) as store:
        job = await store.get_job(args.job_id)
        found = await store.leads(args.job_id) if job is not None else []
    if job is None:
        term.error(f"error: no job {args.job_id}")
        return exit_codes.NOT_FOUND
    write_leads(found, args.format, term.out, term.console)
    return exit_codes.OK
