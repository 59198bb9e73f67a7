"""Where the ``leadgen`` command line writes for people: styled on a terminal, plain lines on
anything else (pipes, CI, the subprocess tests), and the commands that continue a paused job.

Every ``show_*`` function takes the console and picks the rendering from
``console.is_terminal``, so a caller never branches on it; the plain lines are stable enough
for scripts to grep (tests/cli/test_cli.py does)."""

import shlex
from collections.abc import Mapping, Sequence
from typing import IO

from rich.console import Console

from leadgen import constants as c
from leadgen.cli.render.display import (
    credits_table,
    detail_text,
    error_text,
    interrupted_phase,
    leads_table,
    outcome,
    pause_panel,
    shown_status,
    standing_block,
    status_view,
)
from leadgen.store.models import BillingBlock, Job, Lead, PhaseState

RESUME_NOTE = "To continue, top up: the grant resumes the job by itself."
RERUN_NOTE = "A run cannot be resumed once it exits; run it again with the credits it needs:"


def make_console(out: IO[str]) -> Console:
    """A console on ``out``: styled and live when it is a terminal, plain lines otherwise."""
    isatty = getattr(out, "isatty", None)
    return Console(file=out, force_terminal=bool(isatty and isatty()), highlight=False)


def shortfall(block: BillingBlock) -> int:
    """The credits to add so the blocked phase can go on."""
    return max(block.required - block.available, 1)


def resume_commands(
    job: Job, block: BillingBlock, rerun: Mapping[str, int] | None = None
) -> list[str]:
    """The exact command that takes ``job`` past ``block``.

    A job of the worker is topped up: the grant resumes it (its ``auto_resume``). ``rerun``
    holds the credits a job of ``leadgen run`` was given: its process is gone once it exits,
    so the advice is the same run again, with at least what the whole request needs."""
    customer = shlex.quote(job.customer_id)
    if rerun is None:
        return [f"leadgen credits grant {customer} {block.feature_id} {shortfall(block)}"]
    request = job.request
    needs = {c.LEAD_DISCOVERY: 1, c.DOSSIER_RESEARCH: request.max_dossiers}
    credits = {feature: max(rerun.get(feature, 0), needs[feature]) for feature in c.FEATURES}
    credits[block.feature_id] = max(
        credits[block.feature_id], rerun.get(block.feature_id, 0) + shortfall(block)
    )
    words = ["leadgen", "run", "--customer", job.customer_id, "--query", request.query]
    if request.location:
        words += ["--location", request.location]
    words += ["--max-leads", str(request.max_leads), "--max-dossiers", str(request.max_dossiers)]
    for feature in c.FEATURES:
        if credits[feature]:
            words += ["--credits", f"{feature}={credits[feature]}"]
    return [shlex.join(words)]


def phase_line(job: Job, phase: PhaseState) -> str:
    """One phase of ``job`` as a plain line: name, state, detail."""
    status = shown_status(job, phase)
    return f"  {phase.name:<17} {status:<24} {detail_text(phase.detail)}".rstrip()


def summary_line(job: Job, rerun: Mapping[str, int] | None = None) -> str:
    """Where the job stands as plain lines, with what to do about a pause."""
    counts = job.counts
    lines = [
        f"job {job.id}: {job.status} (run {job.runs}; {counts.leads} leads, "
        f"{counts.dossiers_done} dossiers, {counts.dossiers_failed} failed)"
    ]
    block = standing_block(job)
    if block is not None:
        lines.append(
            f"  paused in {block.phase}: {block.feature_id} needs {block.required}, "
            f"{block.available} available"
        )
        [command] = resume_commands(job, block, rerun)
        if rerun is None:
            lines.append(f"  top up (the grant resumes the job): {command}")
        else:
            lines += [f"  {RERUN_NOTE}", f"  {command}"]
    cancelled = cancel_text(job)
    if cancelled is not None:
        lines.append(f"  {cancelled}")
    lines += [f"  {line}" for line in source_report(job)]
    if job.error is not None:
        lines.append(f"  error: {job.error.name}: {job.error.message}")
    return "\n".join(lines)


def source_report(job: Job) -> list[str]:
    """What the source said about what it found: notes, and the rows of the customer's file
    it skipped, with their line numbers."""
    detail = job.phase(c.SOURCE).detail
    lines = [f"note: {note}" for note in detail.get("notes", [])]
    skipped = detail.get("skipped_rows", [])
    if skipped:
        total = detail.get("skipped", len(skipped))
        lines.append(f"skipped {total} row{'s' if total != 1 else ''} of the lead file:")
        lines += [f"  line {row['line']}: {row['reason']}" for row in skipped]
        if total > len(skipped):
            lines.append(f"  ... and {total - len(skipped)} more (see the worker's log)")
    return lines


def cancel_text(job: Job) -> str | None:
    """For a cancelled job: where it stopped, and why, if its owner said."""
    if job.status != "cancelled":
        return None
    where = interrupted_phase(job)
    text = "cancelled" + (f" in {where}" if where else "")
    return text + (f": {job.cancel_reason}" if job.cancel_reason else " (no reason given)")


def show_outcome(console: Console, job: Job, rerun: Mapping[str, int] | None = None) -> None:
    """Where a followed job settled: its counts, the pause and how to continue, its error."""
    if not console.is_terminal:
        console.out(summary_line(job, rerun))
        return
    console.print(outcome(job))
    _print_standing(console, job, rerun)


def _print_standing(console: Console, job: Job, rerun: Mapping[str, int] | None = None) -> None:
    """What a terminal shows under a job: the source's skipped rows, the pause with the command
    that gets past it, the cancel and the error."""
    for line in source_report(job):
        console.print(line, style="yellow", highlight=False)
    block = standing_block(job)
    if block is not None:
        note = RESUME_NOTE if rerun is None else RERUN_NOTE
        console.print(pause_panel(block, note, resume_commands(job, block, rerun)))
    cancelled = cancel_text(job)
    if cancelled is not None:
        console.print(cancelled, style="red")
    error = error_text(job)
    if error is not None:
        console.print(error)


def show_status(console: Console, job: Job) -> None:
    """A readable summary of the job, its phases, counts, pause and error."""
    if console.is_terminal:
        console.print(status_view(job))
        _print_standing(console, job)
        return
    request = job.request
    where = f" in {request.location}" if request.location else ""
    console.out(f"job {job.id} for {job.customer_id}: {request.query!r}{where}")
    console.out(f"  status {job.status}, workflow {job.workflow_status} ({job.workflow_id})")
    for phase in job.phases:
        console.out(phase_line(job, phase))
    console.out(summary_line(job))


def show_leads(console: Console, leads: Sequence[Lead]) -> None:
    """The leads, best first, with their dossier's summary or error."""
    if console.is_terminal:
        console.print(leads_table(leads))
        return
    for lead in sorted(leads, key=lambda ld: (-(ld.score or 0), ld.lead_id)):
        console.out(f"  {lead.score or 0:>3}  {lead.name}  {lead.website or '-'}")
        if lead.dossier is not None:
            console.out(f"       dossier: {lead.dossier.get('summary', '')}")
        elif lead.dossier_error is not None:
            error = lead.dossier_error
            console.out(f"       no dossier: {error.name}: {error.message}")


def show_credits(console: Console, customer_id: str, balances: Mapping[str, int]) -> None:
    """The customer's balance of every feature."""
    if console.is_terminal:
        console.print(credits_table(customer_id, balances))
        return
    console.out(f"credits of {customer_id}:")
    for feature in c.FEATURES:
        console.out(f"  {feature:<18} {balances.get(feature, 0):>6}")
