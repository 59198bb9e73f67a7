"""``leadgen worker`` and ``leadgen bench``: the subcommands that run leadgen at length."""

import argparse

from leadgen.cli.terminal import Terminal
from leadgen.settings import Settings


async def worker(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Run every actor against RabbitMQ and MongoDB until SIGINT or SIGTERM."""
    # Imported here, as in bench: the client subcommands start without the worker's modules.
    from leadgen.worker.process import run_worker

    return await run_worker(settings, grace=args.grace)


async def bench(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Measure leadgen against a plain aio-pika chain and print the figures."""
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
    return await run_bench(settings, plan, term.out, args.json)
