"""The bench: the plain chain and leadgen interleaved round by round on one broker, latency
with one job in flight, the embedded pair, how cost grows with the size of a job, and whether
a worker's memory stays flat over many jobs."""

import contextlib
import io
import json
from dataclasses import asdict, dataclass, replace
from typing import Any, TextIO

from leadgen.bench import SIZES
from leadgen.bench.chain import run_chain
from leadgen.bench.figures import Round, render, summary
from leadgen.bench.memory_use import rss_over
from leadgen.bench.workflow import run_leadgen
from leadgen.settings import Settings


@dataclass(frozen=True)
class BenchPlan:
    """What to run: ``rounds`` of each contender with ``jobs`` jobs of the given shape, and
    the scaling jobs of ``sizes`` leads (half of them with dossiers)."""

    jobs: int = 50
    rounds: int = 3
    leads: int = 25
    dossiers: int = 10
    sizes: tuple[int, ...] = SIZES
    rss_jobs: int = 5000  # jobs one embedded worker handles while its memory is sampled
    mongodb: bool = False  # also run on the MongoDB of the settings, counting its commands


async def run_bench(settings: Settings, plan: BenchPlan, out: TextIO, as_json: bool) -> int:
    """Run the plan and print the figures to ``out``; the exit code.

    The worker logs as configured (its cost is part of leadgen's), into a sink, so that only
    the figures are printed."""
    with contextlib.redirect_stdout(_Sink()):
        result = await measure(settings, plan)
    if as_json:
        print(json.dumps(result, indent=2), file=out)
    else:
        print(render(result), file=out)
    return 0


async def measure(settings: Settings, plan: BenchPlan) -> dict[str, Any]:
    """Every figure of the bench, as the JSON document ``--json`` prints."""
    rounds = await _interleaved(settings, plan, plan.jobs, one_at_a_time=False)
    hops = round(rounds[0].messages / plan.jobs)
    few = max(1, min(plan.jobs, 20))
    single = await _interleaved(settings, plan, few, one_at_a_time=True, hops=hops)
    bare = replace(plan, dossiers=0)  # the workflow's own hops, no audits
    no_dossiers = await _interleaved(settings, bare, few, one_at_a_time=True)
    embedded = await run_leadgen(settings, plan.jobs, plan.leads, plan.dossiers, embedded=True)
    scaling = [await _scaling_row(settings, leads) for leads in plan.sizes]
    memory = await rss_over(settings, plan.rss_jobs, plan.leads, plan.dossiers)
    result = {
        "plan": asdict(plan),
        "throughput": summary(rounds),
        "one_in_flight": summary(single),
        "one_in_flight_no_dossiers": summary(no_dossiers),
        "embedded": summary([embedded])["leadgen"],
        "scaling": scaling,
        "memory": memory,
    }
    if plan.mongodb:
        result["mongodb"] = await _on_mongodb(settings, plan)
    return result


async def _on_mongodb(settings: Settings, plan: BenchPlan) -> dict[str, Any]:
    """Store calls and MongoDB commands per job and per dossier, and their scaling."""
    from leadgen.bench.mongo import run_on_mongodb

    jobs = max(1, min(plan.jobs, 5))
    shaped = await run_on_mongodb(settings, jobs, plan.leads, plan.dossiers)
    rows = []
    for leads in plan.sizes:
        job = await run_on_mongodb(settings, 1, leads, max(1, leads // 2))
        rows.append({**_per_dossier(job, leads), "commands_per_dossier": _per(job, "commands")})
    return {
        "jobs": jobs,
        "store_calls_per_job": shaped.store_calls / jobs,
        "commands_per_job": shaped.commands / jobs,
        "commands_per_dossier": _per(shaped, "commands"),
        "messages_per_second": shaped.rate,
        "scaling": rows,
    }


async def _interleaved(
    settings: Settings, plan: BenchPlan, jobs: int, *, one_at_a_time: bool, hops: int = 0
) -> list[Round]:
    """Both contenders, interleaved in alternating order so that background load falls on
    both alike; the chain makes as many hops per job as leadgen handled messages per job."""
    rounds: list[Round] = []

    async def leadgen() -> None:
        rounds.append(
            await run_leadgen(
                settings, jobs, plan.leads, plan.dossiers, one_at_a_time=one_at_a_time
            )
        )

    for index in range(plan.rounds):
        if index % 2 == 0:
            await leadgen()
            hops = hops or round(rounds[-1].messages / jobs)
        rounds.append(await run_chain(settings.amqp_url, jobs, hops, one_at_a_time=one_at_a_time))
        if index % 2 == 1:
            await leadgen()
    return rounds


async def _scaling_row(settings: Settings, leads: int) -> dict[str, Any]:
    """One job of ``leads`` leads, half of them with a dossier, on the embedded pair."""
    job = await run_leadgen(settings, 1, leads, max(1, leads // 2), embedded=True)
    return _per_dossier(job, leads)


def _per_dossier(job: Round, leads: int) -> dict[str, Any]:
    return {
        "leads": leads,
        "dossiers": job.dossiers,
        "messages": job.messages,
        "cpu_ms_per_dossier": 1000 * _per(job, "cpu"),
        "store_calls_per_dossier": _per(job, "store_calls"),
    }


def _per(job: Round, figure: str) -> float:
    """``figure`` of ``job`` per dossier it ran."""
    return float(getattr(job, figure)) / max(1, job.dossiers)


class _Sink(io.TextIOBase):
    """A text stream that drops what is written to it."""

    def write(self, text: str) -> int:
        return len(text)
