"""Watching a job until it pauses or ends, and the exit code of contract section 6 for where
it stopped.

The store is the source of truth: ``follow`` polls it and shows what it reads, live on a
terminal (phases redrawn in place, a spinner, a dossier bar) and as one plain line per phase
change anywhere else."""

import asyncio
import json
from collections.abc import Mapping
from typing import IO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner

from leadgen import constants as c
from leadgen.cli.render.console import make_console, phase_line, show_outcome
from leadgen.cli.render.display import Dossiers, progress_view, shown_status
from leadgen.errors import LeadgenError
from leadgen.store.base import Store
from leadgen.store.models import Job, Lead

EXIT_OK, EXIT_PAUSED, EXIT_FAILED = 0, 3, 4
SETTLED = ("paused_for_upgrade", "completed", "failed", "cancelled")
# How long a paused job read back unchanged after a resume is taken for "not applied yet"
# rather than for a refusal that left no trace in the job.
RESUME_GRACE = 10.0


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


class Lines:
    """A plain line per phase change: what pipes, CI and logs get."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: dict[str, str] = {}

    def __enter__(self) -> "Lines":
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to tear down: every line is already out."""

    def wants_leads(self, job: Job) -> bool:
        """Plain lines show no dossier bar, so they never read the leads."""
        return False

    def show(self, job: Job, leads: list[Lead], *, done: bool) -> None:
        """Print the phases whose state changed since the last call."""
        for phase in job.phases:
            status = shown_status(job, phase)
            if self.seen.get(phase.name) != status and status != "pending":
                self.seen[phase.name] = status
                self.console.out(phase_line(job, phase))


class LiveView:
    """The job's phases redrawn in place, a spinner on the running one, a dossier bar."""

    def __init__(self, console: Console) -> None:
        self.spinner: Spinner | None = Spinner("dots", style="cyan")
        self.waiting = Spinner("dots", text="waiting for the job…", style="cyan")
        self.job: Job | None = None
        self.dossiers = Dossiers()
        # Redrawn by rich's refresh thread from the latest state, so the spinner turns
        # between polls of the store.
        self.live = Live(console=console, get_renderable=self.render, refresh_per_second=8)

    def __enter__(self) -> "LiveView":
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop redrawing; the last drawing stays on the screen."""
        self.live.stop()

    def wants_leads(self, job: Job) -> bool:
        """The leads are read once dossiers are queued, for the bar."""
        return job.phase(c.GENERATE_DOSSIER).status != "pending"

    def show(self, job: Job, leads: list[Lead], *, done: bool) -> None:
        """Show the job as just read; a settled job stops its spinner."""
        if leads:
            self.dossiers = Dossiers.of(leads)
        self.spinner = None if done else self.spinner
        self.job = job
        self.live.refresh()

    def render(self) -> RenderableType:
        """What the live region shows now."""
        if self.job is None:
            return self.waiting
        return progress_view(self.job, self.dossiers, self.spinner)


async def follow(
    store: Store,
    job_id: str,
    out: IO[str] | Console,
    *,
    poll: float = 0.2,
    timeout: float | None = None,
    rerun: Mapping[str, int] | None = None,
    before: Job | None = None,
) -> Job:
    """Show the job's progress until it settles, then where it settled; the settled job.

    ``out`` is a console, or a stream to make one on. ``timeout``: raise ``NoProgress`` when
    the job does not exist or does not change for that many seconds. ``rerun`` (the credits of
    a ``leadgen run``) turns the advice on a pause into running again. ``before`` is the job as
    read before a resume was sent: while it reads back unchanged, the resume is still on its
    way."""
    console = out if isinstance(out, Console) else make_console(out)
    watch: Lines | LiveView = LiveView(console) if console.is_terminal else Lines(console)
    with watch:
        job = await _poll(store, job_id, watch, poll, timeout, before)
    show_outcome(console, job, rerun)
    return job


class NoProgress(LeadgenError):
    """Raised when a followed job does not exist or does not change for the timeout."""


async def _poll(
    store: Store,
    job_id: str,
    watch: Lines | LiveView,
    poll: float,
    timeout: float | None,
    before: Job | None,
) -> Job:
    loop = asyncio.get_running_loop()
    started = changed = loop.time()
    seen: int | None = None
    while True:
        job = await store.get_job(job_id)
        if job is not None:
            if job.version != seen:
                seen, changed = job.version, loop.time()
            pending = (
                before is not None
                and before.status == "paused_for_upgrade"
                and job.version == before.version
                and loop.time() - started < RESUME_GRACE
            )
            done = settled(job) and not pending
            leads = await store.leads(job_id) if watch.wants_leads(job) else []
            watch.show(job, leads, done=done)
            if done:
                return job
        if timeout is not None and loop.time() - changed > timeout:
            if job is None:
                raise NoProgress(f"no job {job_id} after {timeout:g} s")
            raise NoProgress(
                f"job {job_id} made no progress for {timeout:g} s (status {job.status});"
                " is a worker running? (--timeout waits longer)"
            )
        await asyncio.sleep(poll)


def job_json(job: Job) -> str:
    """The job document as JSON (contract section 3)."""
    return json.dumps(job.model_dump(mode="json", by_alias=True), indent=2)
