"""Pure functions over the ``phases`` list of a job: no I/O, easy to reason about and test."""

from datetime import datetime
from typing import Any

from leadgen.constants import PHASES
from leadgen.store.models import Job, PhaseState, PhaseStatus

FINISHED: frozenset[str] = frozenset({"completed", "completed_with_failures", "failed"})


def first_run(now: datetime) -> list[PhaseState]:
    """The phases of a new job: the first one running since ``now``, the others pending."""
    return [
        PhaseState(name=name, status="running", started_at=now) if i == 0 else PhaseState(name=name)
        for i, name in enumerate(PHASES)
    ]


def next_phase(phase: str) -> str | None:
    """The phase that follows ``phase``, or None after the last one."""
    index = PHASES.index(phase)
    return PHASES[index + 1] if index + 1 < len(PHASES) else None


def with_phase(
    job: Job,
    name: str,
    status: PhaseStatus,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The job's phases as stored, with phase ``name`` moved to ``status`` at ``now``."""
    return [
        _moved(p, status, now, detail) if p.name == name else p.model_dump() for p in job.phases
    ]


def _moved(
    phase: PhaseState, status: PhaseStatus, now: datetime, detail: dict[str, Any] | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": status}
    if status == "running":
        changes.update(started_at=now, finished_at=None)
    elif status in FINISHED:
        changes["finished_at"] = now
    if detail is not None:
        changes["detail"] = {**phase.detail, **detail}
    return phase.model_copy(update=changes).model_dump()


def advanced(
    job: Job, done: str, status: PhaseStatus, now: datetime, detail: dict[str, Any]
) -> list[dict[str, Any]]:
    """Phase ``done`` finished with ``status``; the next phase, if any, is running."""
    phases = with_phase(job, done, status, now, detail)
    following = next_phase(done)
    if following is None:
        return phases
    moved = job.model_copy(update={"phases": [PhaseState.model_validate(p) for p in phases]})
    return with_phase(moved, following, "running", now)


def reset_from(job: Job, first: str, now: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    """Phases with ``first`` running again and every later phase pending; the reset names."""
    start = PHASES.index(first)
    reset = list(PHASES[start:])
    phases = []
    for p in job.phases:
        if p.name == first:
            phases.append(PhaseState(name=p.name, status="running", started_at=now).model_dump())
        elif p.name in reset:
            phases.append(PhaseState(name=p.name).model_dump())
        else:
            phases.append(p.model_dump())
    return phases, reset
