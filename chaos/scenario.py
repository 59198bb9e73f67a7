"""The plan of a run, drawn from its seed before anything starts: the jobs (who asks for what,
with or without ``job_id`` and ``message_id``), the tight credit grants, and a timeline of
commands and faults. The same seed gives the same plan; only the workers' timing differs."""

import math
import random
from dataclasses import dataclass, field
from typing import Literal

from chaos.config import ChaosConfig

TRADES = ("dentists", "plumbers", "lawyers", "coffee", "roofers", "realtors", "gyms", "bakery")
PLACES = ("Austin, TX", "Denver, CO", "Portland, OR", "Madison, WI", "Boise, ID")
Kind = Literal[
    "start", "grant", "resume", "republish", "kill", "close", "freeze", "thaw", "hostile"
]


@dataclass(frozen=True)
class JobSpec:
    """One job to start; ``job_id`` None lets leadgen derive it from ``message_id``."""

    index: int
    customer_id: str
    query: str  # unique within the run: how the job is found when leadgen chose its id
    location: str
    max_leads: int
    max_dossiers: int
    job_id: str | None
    message_id: str | None


@dataclass(frozen=True)
class Grant:
    """One ``leadgen.credits.grant`` command."""

    customer_id: str
    feature_id: str
    amount: int
    grant_id: str
    message_id: str | None
    auto_resume: bool = True


@dataclass(frozen=True)
class Event:
    """Something to do ``at`` seconds into the run; ``kill_after`` SIGKILLs a worker next."""

    at: float
    kind: Kind
    job: JobSpec | None = None
    grant: Grant | None = None
    number: int = 0
    kill_after: bool = False


@dataclass
class Plan:
    """Jobs, the grants sent before the faults start, and the timeline."""

    jobs: list[JobSpec]
    initial_grants: list[Grant]
    events: list[Event] = field(default_factory=list)

    def customers(self) -> list[str]:
        """Every customer of the run, in order."""
        return sorted({job.customer_id for job in self.jobs})


def job_spec(index: int, customer_id: str, rng: random.Random) -> JobSpec:
    """Job ``index``: every third one has no ``message_id``, every third no ``job_id``."""
    max_leads = rng.randint(4, 10)
    style = index % 3
    return JobSpec(
        index=index,
        customer_id=customer_id,
        query=f"{rng.choice(TRADES)} #{index}",
        location=rng.choice(PLACES),
        max_leads=max_leads,
        max_dossiers=rng.randint(1, min(4, max_leads)),
        job_id=None if style == 2 else f"chaos-job-{index}",
        message_id=None if style == 1 else f"chaos-start-{index}",
    )


def initial_grants(jobs: list[JobSpec]) -> list[Grant]:
    """Tight credits: discovery for about 70% of each customer's jobs, one dossier per job."""
    grants = []
    for customer in sorted({job.customer_id for job in jobs}):
        count = sum(job.customer_id == customer for job in jobs)
        for feature, amount in (
            ("lead_discovery", math.ceil(count * 0.7)),
            ("dossier_research", count),
        ):
            grant_id = f"initial-{customer}-{feature}"
            grants.append(Grant(customer, feature, amount, grant_id, f"chaos-{grant_id}"))
    return grants


def make_plan(config: ChaosConfig) -> Plan:
    """The whole plan of a run from ``config.seed``."""
    rng = random.Random(config.seed)
    customers = [f"customer-{i}" for i in range(max(1, min(config.customers, config.jobs)))]
    jobs = [job_spec(i, customers[i % len(customers)], rng) for i in range(config.jobs)]
    plan = Plan(jobs=jobs, initial_grants=initial_grants(jobs))
    span = config.duration
    plan.events += _starts(jobs, span, config.kills_after_start, rng)
    plan.events += _trickle_grants(customers, jobs, span, config.kills_after_grant, rng)
    plan.events += _faults(config, rng)
    plan.events += [
        Event(rng.uniform(0.1, 0.9) * span, "hostile", number=i) for i in range(config.hostile)
    ]
    plan.events += _resumes_and_republishes(jobs, span, rng)
    plan.events.sort(key=lambda event: event.at)
    return plan


def _starts(jobs: list[JobSpec], span: float, kills: int, rng: random.Random) -> list[Event]:
    """Starts spread over the first 60% of the run; ``kills`` of them followed by a kill."""
    killed = set(rng.sample(range(len(jobs)), min(kills, len(jobs))))
    return [
        Event(rng.uniform(0, 0.6) * span, "start", job=job, kill_after=job.index in killed)
        for job in jobs
    ]


def _trickle_grants(
    customers: list[str], jobs: list[JobSpec], span: float, kills: int, rng: random.Random
) -> list[Event]:
    """Small top-ups while jobs run (so paused jobs resume), some followed by a kill."""
    events = []
    for n in range(max(2, len(jobs) // 3)):
        customer = rng.choice(customers)
        grant_id = f"trickle-{n}"
        message_id = f"chaos-{grant_id}" if n % 2 else None
        grant = Grant(customer, "dossier_research", rng.randint(1, 3), grant_id, message_id)
        events.append(Event(rng.uniform(0.15, 0.85) * span, "grant", grant=grant))
    for customer in customers:
        grant = Grant(customer, "lead_discovery", 1, f"discovery-{customer}", None)
        events.append(Event(rng.uniform(0.4, 0.7) * span, "grant", grant=grant))
    for index in rng.sample(range(len(events)), min(kills, len(events))):
        events[index] = _with_kill(events[index])
    return events


def _with_kill(event: Event) -> Event:
    return Event(event.at, event.kind, event.job, event.grant, event.number, kill_after=True)


def _faults(config: ChaosConfig, rng: random.Random) -> list[Event]:
    """Kills and connection closes at random moments; freezes in separate slices of the run."""
    span = config.duration
    events = [Event(rng.uniform(0.05, 0.95) * span, "kill") for _ in range(config.kills)]
    events += [Event(rng.uniform(0.05, 0.95) * span, "close") for _ in range(config.closes)]
    slice_length = span / max(1, config.freezes)
    for n in range(config.freezes):
        room = max(0.0, slice_length - config.freeze_seconds)
        at = n * slice_length + rng.uniform(0.1, 0.9) * room
        events.append(Event(at, "freeze", number=n))
        events.append(Event(at + config.freeze_seconds, "thaw", number=n))
    return events


def _resumes_and_republishes(jobs: list[JobSpec], span: float, rng: random.Random) -> list[Event]:
    """A few explicit resumes (refused unless the job is paused) and re-published commands."""
    named = [job for job in jobs if job.job_id is not None]
    events = [
        Event(rng.uniform(0.3, 0.95) * span, "resume", job=job, number=n)
        for n, job in enumerate(rng.sample(named, min(3, len(named))))
    ]
    repeat = [job for job in jobs if job.message_id is not None]
    events += [
        Event(rng.uniform(0.6, 0.95) * span, "republish", job=job)
        for job in rng.sample(repeat, min(2, len(repeat)))
    ]
    return events
