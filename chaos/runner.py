"""One chaos run from start to end: its own SecantusDB and RabbitMQ virtual host, two workers,
the timeline of commands and faults, the quiet period, the checks, and the clean-up of
everything it started (the workers' logs are kept when a check fails)."""

import asyncio
import os
import random
import shutil
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from chaos.commands import Publisher
from chaos.config import ChaosConfig
from chaos.figures import Figures
from chaos.logs import non_json_lines
from chaos.processes import StoreServer
from chaos.rabbit import Management, ServiceUnavailable
from chaos.scenario import Plan, make_plan
from chaos.settle import (
    check_dead_letters,
    check_store,
    open_database,
    top_up_grants,
    wait_settled,
)
from chaos.timeline import Chaos
from chaos.workers import WorkerPool

DATABASE = "leadgen_chaos"


def worker_env(config: ChaosConfig, amqp_url: str, mongodb_url: str) -> dict[str, str]:
    """The workers' environment: this run's services, JSON logs, a failing share of audits."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LEADGEN_")}
    return {
        **inherited,
        "LEADGEN_AMQP_URL": amqp_url,
        "LEADGEN_MONGODB_URL": mongodb_url,
        "LEADGEN_MONGODB_DB": DATABASE,
        "LEADGEN_LOG_FORMAT": "json",
        "LEADGEN_AUDITOR": f"offline:{config.audit_failure_rate}",
    }


async def run_chaos(config: ChaosConfig) -> Figures:
    """Run the scenario of ``config`` and return its figures (``figures.ok()`` is the verdict).

    Raises ``ServiceUnavailable`` when RabbitMQ, its management API or SecantusDB is missing."""
    began = time.monotonic()
    figures = Figures(seed=config.seed)
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="leadgen-chaos-"))
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    try:
        async with AsyncExitStack() as stack:
            await _run(config, workdir, figures, stack)
    except ServiceUnavailable:
        if config.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(workdir / "store", ignore_errors=True)
    figures.elapsed_seconds = time.monotonic() - began
    _tidy(config, workdir, figures)
    return figures


async def _run(config: ChaosConfig, workdir: Path, figures: Figures, stack: AsyncExitStack) -> None:
    """Start the services and workers, play the plan, settle and check."""
    plan = make_plan(config)
    management = Management(config.rabbit)
    amqp_url = management.create_vhost()
    stack.callback(management.delete_vhost)
    store = StoreServer(workdir / "store")
    stack.callback(store.stop)
    mongodb_url = store.start()
    pool = WorkerPool(
        worker_env(config, amqp_url, mongodb_url), workdir / "logs", config.worker_grace
    )
    stack.callback(lambda: figures.note("unclean_shutdowns", *pool.stop()))
    await asyncio.to_thread(pool.start)
    publisher = Publisher(amqp_url)
    await publisher.connect()
    stack.push_async_callback(publisher.close)
    chaos = Chaos(pool, store, management, publisher, random.Random(config.seed), figures)
    for grant in plan.initial_grants:
        await chaos.grant(grant)
    await chaos.play(plan.events)
    await _settle(chaos, plan, mongodb_url, config, figures)
    await check_dead_letters(management, chaos.hostile_sent, figures)
    figures.note("unclean_shutdowns", *pool.stop())
    figures.note("worker_crashes", *pool.crashes)
    figures.worker_start_failures = len(pool.start_failures)
    if pool.start_failures:
        figures.details["worker_start_failures"] = pool.start_failures
    figures.note("non_json_lines", *non_json_lines(pool.log_files()))


async def _settle(
    chaos: Chaos, plan: Plan, mongodb_url: str, config: ChaosConfig, figures: Figures
) -> None:
    """Quiet period: thaw, top up, wait for the jobs, then check the store."""
    await chaos.thaw_all()
    for grant in top_up_grants(plan):
        await chaos.grant(grant)
    client, db = open_database(mongodb_url, DATABASE)
    try:
        settled_at = await wait_settled(chaos, db, plan, config.settle_timeout)
        figures.settled = settled_at is not None
        if settled_at is not None:
            figures.recovery_seconds = max(0.0, settled_at - chaos.last_fault)
        await asyncio.to_thread(check_store, db, plan, chaos.grants_sent, figures)
    finally:
        client.close()


def _tidy(config: ChaosConfig, workdir: Path, figures: Figures) -> None:
    """Keep the logs when asked to or when a check failed; else remove everything."""
    if config.keep_logs or config.workdir is not None or not figures.ok():
        figures.logs = str(workdir / "logs")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
