"""Rich renderables of jobs, leads and balances: what the command line shows on a terminal.

Pure functions of the documents of contract section 3, so they can be rendered and tested
without a store; console.py decides when to use them and prints plain lines instead
when the output is not a terminal."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from leadgen import constants as c
from leadgen.store.models import BillingBlock, Job, Lead, PhaseState

PHASE_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "completed": "green",
    "completed_with_failures": "yellow",
    "paused": "yellow",
    "failed": "red",
    "interrupted": "red",
}
JOB_STYLES = {
    "running": "cyan",
    "paused_for_upgrade": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "red",
}
MARKS = {
    "pending": "·",
    "running": "■",  # a running phase of a job that stopped moving: no spinner to show
    "completed": "✓",
    "completed_with_failures": "✓",
    "paused": "⏸",
    "failed": "✗",
    "interrupted": "✗",
}
BAR_WIDTH = 30


@dataclass(frozen=True)
class Dossiers:
    """How far a job's dossiers are: the queued leads, and those done or failed."""

    queued: int = 0
    done: int = 0
    failed: int = 0

    @classmethod
    def of(cls, leads: Sequence[Lead]) -> "Dossiers":
        """Count the queued leads of a job and their outcomes."""
        queued = [lead for lead in leads if lead.queued]
        return cls(
            queued=len(queued),
            done=sum(lead.dossier is not None for lead in queued),
            failed=sum(lead.dossier_error is not None for lead in queued),
        )

    @property
    def accounted(self) -> int:
        """Queued leads whose audit produced a dossier or failed for good."""
        return self.done + self.failed


def detail_text(detail: Mapping[str, object]) -> str:
    """A phase's detail as ``key=value`` words (its ``status`` is shown apart)."""
    return " ".join(
        f"{key}={value}"
        for key, value in detail.items()
        if key != "status" and not isinstance(value, list | dict)  # reported apart
    )


def dossier_bar(dossiers: Dossiers) -> Table:
    """A bar of the accounted dossiers out of the queued ones, with the numbers."""
    row = Table.grid(padding=(0, 1))
    row.add_row(
        ProgressBar(total=dossiers.queued, completed=dossiers.accounted, width=BAR_WIDTH),
        Text(f"{dossiers.accounted}/{dossiers.queued} dossiers"),
        Text(f"{dossiers.failed} failed", style="red") if dossiers.failed else Text(""),
    )
    return row


def shown_status(job: Job, phase: PhaseState) -> str:
    """The phase's state as people should read it: the phase a cancel stopped is
    ``interrupted``, not still running or paused."""
    if job.status == "cancelled" and phase.status in ("running", "paused"):
        return "interrupted"
    return phase.status


def interrupted_phase(job: Job) -> str | None:
    """The phase a cancel stopped, if the job was cancelled while one ran or was paused."""
    return next((p.name for p in job.phases if shown_status(job, p) == "interrupted"), None)


def standing_block(job: Job) -> BillingBlock | None:
    """The billing block, while the job is paused by it (a cancelled job keeps its last)."""
    return job.billing_block if job.status == "paused_for_upgrade" else None


def phase_mark(job: Job, phase: PhaseState, spinner: Spinner | None) -> RenderableType:
    """The spinner for the running phase of a moving job, else a mark of the phase's state."""
    status = shown_status(job, phase)
    if status == "running" and spinner is not None:
        return spinner
    return Text(MARKS[status], style=PHASE_STYLES[status])


def _state(job: Job, phase: PhaseState) -> Text:
    status = shown_status(job, phase)
    return Text(status, style=PHASE_STYLES[status])


def progress_view(job: Job, dossiers: Dossiers, spinner: Spinner | None) -> Group:
    """The job, its six phases with their state and detail, and the dossier bar.

    ``spinner`` turns on the running phase while the job moves; ``None`` once it settled."""
    phases = Table.grid(padding=(0, 2))
    for phase in job.phases:
        detail: RenderableType = Text(detail_text(phase.detail), style="dim")
        if phase.name == c.GENERATE_DOSSIER and dossiers.queued and phase.status != "pending":
            detail = dossier_bar(dossiers)
        phases.add_row(
            phase_mark(job, phase, spinner),
            Text(phase.name, style="bold"),
            _state(job, phase),
            detail,
        )
    return Group(headline(job), phases)


def headline(job: Job) -> Text:
    """``job ID  STATUS  run N · 'query' in location``."""
    where = f" in {job.request.location}" if job.request.location else ""
    return Text.assemble(
        ("job ", "dim"),
        (job.id, "bold"),
        "  ",
        (job.status, JOB_STYLES[job.status]),
        (f"  run {job.runs} · {job.request.query!r}{where}", "dim"),
    )


def outcome(job: Job) -> Text:
    """Where the job stands once it settled, with its counts."""
    counts = job.counts
    mark = {"completed": "✓", "paused_for_upgrade": "⏸"}.get(job.status, "✗")
    style = JOB_STYLES[job.status]
    if job.status == "completed" and counts.dossiers_failed:
        mark, style = "!", "yellow"  # completed, but not every dossier was delivered
    text = Text.assemble(
        (f"{mark} job {job.id} {job.status}", f"bold {style}"),
        f" · run {job.runs} · {counts.leads} leads · {counts.dossiers_done} dossiers",
    )
    text.append(
        f" · {counts.dossiers_failed} failed", style="red" if counts.dossiers_failed else ""
    )
    return text


def pause_panel(block: BillingBlock, note: str, commands: Sequence[str]) -> Panel:
    """The billing block of a paused job and the commands that continue it."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("feature", Text(block.feature_id, style="bold"))
    grid.add_row("phase", block.phase)
    grid.add_row("required", str(block.required))
    grid.add_row("available", str(block.available))
    grid.add_row("message", block.message)
    lines = [Text(command, style="bold cyan") for command in commands]
    return Panel(
        Group(grid, Text(""), Text(note), *lines),
        title="⏸ paused for billing",
        title_align="left",
        border_style="yellow",
        expand=False,
    )


def error_text(job: Job) -> Text | None:
    """The job's error as one red line, or None."""
    if job.error is None:
        return None
    return Text.assemble(("error ", "bold red"), f"{job.error.name}: {job.error.message}")


def status_view(job: Job) -> Group:
    """A summary of the job: who and what, its phases as a table, its counts."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    table.add_column("phase", style="bold")
    table.add_column("state")
    table.add_column("started")
    table.add_column("took", justify="right")
    table.add_column("detail", style="dim")
    for phase in job.phases:
        table.add_row(
            phase_mark(job, phase, None),
            phase.name,
            _state(job, phase),
            _clock(phase.started_at),
            _took(phase.started_at, phase.finished_at),
            detail_text(phase.detail),
        )
    counts = job.counts
    return Group(
        headline(job),
        Text(f"customer {job.customer_id} · workflow {job.workflow_status} ({job.workflow_id})"),
        table,
        Text(
            f"{counts.leads} leads · {counts.dossiers_done} dossiers done · "
            f"{counts.dossiers_failed} failed"
        ),
    )


def _clock(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def _took(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return ""
    return f"{(finished - started).total_seconds():.1f}s"


def credits_table(customer_id: str, balances: Mapping[str, int]) -> Table:
    """The customer's balance of every feature."""
    table = Table(title=f"credits of {customer_id}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("feature")
    table.add_column("balance", justify="right")
    for feature in c.FEATURES:
        balance = balances.get(feature, 0)
        table.add_row(feature, Text(str(balance), style="bold" if balance else "dim"))
    return table


def leads_table(leads: Sequence[Lead]) -> Table:
    """The leads, best first: score, name, website, and the dossier's summary or error."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("lead", style="bold")
    table.add_column("website", overflow="fold")
    table.add_column("dossier")
    for lead in sorted(leads, key=lambda ld: (-(ld.score or 0), ld.lead_id)):
        dossier = Text("-", style="dim")
        if lead.dossier is not None:
            dossier = Text(str(lead.dossier.get("summary", "")))
        elif lead.dossier_error is not None:
            error = lead.dossier_error
            dossier = Text(f"no dossier: {error.name}: {error.message}", style="red")
        table.add_row(str(lead.score or 0), lead.name, lead.website or "-", dossier)
    return table
