"""Watching a job until it pauses or ends, printing its progress as plain lines, and the
exit code of contract section 6 for where it stopped."""

import asyncio
import json
from typing import Any, TextIO

from leadgen.store.base import Store
from leadgen.store.models import Job, Lead

EXIT_OK, EXIT_PAUSED, EXIT_FAILED = 0, 3, 4
SETTLED = ("paused_for_upgrade", "completed", "failed", "cancelled")


def exit_code(job: Job) -> int:
    """0 completed (or still running), 3 paused, 4 failed or cancelled."""
    return {"paused_for_upgrade": EXIT_PAUSED, "failed": EXIT_FAILED, "cancelled": EXIT_FAILED}.get(
        job.status, EXIT_OK
    )


def settled(job: Job) -> bool:
    """True when the job will not move without a command: paused, or ended and announced."""
    if job.status == "paused_for_upgrade":
        return True
    return job.status in SETTLED and job.workflow_status == job.status


async def follow(
    store: Store, job_id: str, out: TextIO, *, poll: float = 0.2, timeout: float | None = None
) -> Job:
    """Print each phase change of the job until it settles; the job as it settled."""
    seen: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        job = await store.get_job(job_id)
        if job is not None:
            for phase in job.phases:
                if seen.get(phase.name) != phase.status and phase.status != "pending":
                    seen[phase.name] = phase.status
                    print(
                        f"  {phase.name:<17} {phase.status:<24} {_detail(phase.detail)}", file=out
                    )
            if settled(job):
                print(summary_line(job), file=out)
                return job
        if deadline is not None and loop.time() > deadline:
            raise TimeoutError(f"job {job_id} did not settle within {timeout} s")
        await asyncio.sleep(poll)


def _detail(detail: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in detail.items() if key != "status")


def summary_line(job: Job) -> str:
    """One line saying where the job stands, and what to do about a pause."""
    counts = job.counts
    line = (
        f"job {job.id}: {job.status} (run {job.runs}; {counts.leads} leads, "
        f"{counts.dossiers_done} dossiers, {counts.dossiers_failed} failed)"
    )
    if job.billing_block is not None:
        block = job.billing_block
        line += (
            f"\n  paused in {block.phase}: {block.feature_id} needs {block.required}, "
            f"{block.available} available\n  top up: leadgen credits grant {job.customer_id} "
            f"{block.feature_id} {max(block.required - block.available, 1)}"
            f"\n  then:   leadgen resume {job.id} --customer {job.customer_id}"
        )
    if job.error is not None:
        line += f"\n  error: {job.error.name}: {job.error.message}"
    return line


def job_json(job: Job) -> str:
    """The job document as JSON (contract section 3)."""
    return json.dumps(job.model_dump(mode="json", by_alias=True), indent=2)


def print_status(job: Job, out: TextIO) -> None:
    """A readable summary of the job and its phases."""
    request = job.request
    where = f" in {request.location}" if request.location else ""
    print(f"job {job.id} for {job.customer_id}: {request.query!r}{where}", file=out)
    print(f"  status {job.status}, workflow {job.workflow_status} ({job.workflow_id})", file=out)
    for phase in job.phases:
        print(f"  {phase.name:<17} {phase.status:<24} {_detail(phase.detail)}", file=out)
    print(summary_line(job), file=out)


def print_leads(leads: list[Lead], out: TextIO) -> None:
    """The leads, best first, with their dossier's summary when there is one."""
    for lead in sorted(leads, key=lambda ld: (-(ld.score or 0), ld.lead_id)):
        print(f"  {lead.score or 0:>3}  {lead.name}  {lead.website or '-'}", file=out)
        if lead.dossier is not None:
            print(f"       dossier: {lead.dossier.get('summary', '')}", file=out)
        elif lead.dossier_error is not None:
            print(
                f"       no dossier: {lead.dossier_error.name}: {lead.dossier_error.message}",
                file=out,
            )
