"""What the command line shows: rich renderings on a terminal, plain lines anywhere else."""

import asyncio
import io
import re

import pytest
from rich.console import Console
from rich.spinner import Spinner

from leadgen import constants as c
from leadgen.cli.follow import NoProgress, follow
from leadgen.cli.render.console import (
    make_console,
    resume_commands,
    show_credits,
    show_leads,
    show_outcome,
    show_status,
)
from leadgen.cli.render.display import Dossiers, progress_view
from leadgen.ids import utcnow
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.store.base import Guard
from leadgen.store.memory import MemoryStore
from leadgen.store.models import BillingBlock, Counts, Job, JobRequest, Lead, PhaseState

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER_FRAME = re.compile(r"[\u2800-\u28ff]")  # the braille frames of the "dots" spinner
RUN_CREDITS = {c.LEAD_DISCOVERY: 1, c.DOSSIER_RESEARCH: 1}


def terminal() -> Console:
    """A console that renders as on a 100-column terminal, into a string."""
    return Console(file=io.StringIO(), force_terminal=True, width=100)


def plain() -> Console:
    """A console on a stream that is not a terminal, as in a pipe or CI."""
    return make_console(io.StringIO())


def text_of(console: Console) -> str:
    """What was written to ``console``, without its escape codes."""
    file = console.file
    assert isinstance(file, io.StringIO)
    return ANSI.sub("", file.getvalue())


def line_of(text: str, word: str) -> str:
    """The first line of ``text`` that holds ``word``."""
    return next(line for line in text.splitlines() if word in line)


def job_at(phase: str, phase_status: str = "running", **fields: object) -> Job:
    """A job whose phases before ``phase`` completed and ``phase`` is in ``phase_status``."""
    now = utcnow()
    index = c.PHASES.index(phase)
    phases = [
        PhaseState(name=name, status="completed", started_at=now, finished_at=now)
        if i < index
        else PhaseState.model_validate({"name": name, "status": phase_status, "started_at": now})
        if i == index
        else PhaseState(name=name)
        for i, name in enumerate(c.PHASES)
    ]
    document: dict[str, object] = {
        "_id": "job-1",
        "customer_id": "acme",
        "workflow_id": "run-1",
        "request": JobRequest(query="dentists", location="Austin, TX", max_leads=5, max_dossiers=2),
        "phases": phases,
        **fields,
    }
    return Job.model_validate(document)


def paused_job() -> Job:
    """A job paused in ``generate_dossier``: two dossier credits short."""
    block = BillingBlock(
        feature_id=c.DOSSIER_RESEARCH,
        phase=c.GENERATE_DOSSIER,
        required=2,
        available=0,
        paused_at=utcnow(),
        message="Workflow paused for billing: dossier_research needs 2 credit(s), 0 available",
    )
    return job_at(
        c.GENERATE_DOSSIER,
        "paused",
        status="paused_for_upgrade",
        workflow_status="paused",
        billing_block=block,
        counts=Counts(leads=4, dossiers_done=1),
    )


def lead(lead_id: str, score: int, **fields: object) -> Lead:
    """A lead of ``job-1``."""
    return Lead.model_validate(
        {"job_id": "job-1", "lead_id": lead_id, "name": f"Dental {lead_id}", "score": score}
        | fields
    )


def queued_leads() -> list[Lead]:
    """Three queued leads (one with a dossier, one failed, one waiting) and one not queued."""
    return [
        lead("a", 90, website="https://a.example", queued=True, dossier={"summary": "Solid."}),
        lead(
            "b",
            80,
            queued=True,
            dossier_error=ErrorEnvelope(name="AuditFailed", message="site down"),
        ),
        lead("c", 70, queued=True),
        lead("d", 60),
    ]


def test_progress_marks_each_phase_with_its_state() -> None:
    """The live view marks done phases ✓, the running one with a spinner, the rest pending."""
    console = terminal()
    job = job_at(c.SCORE, detail={})
    console.print(progress_view(job, Dossiers(), Spinner("dots")))
    out = text_of(console)
    assert line_of(out, "source").lstrip().startswith("✓")
    assert SPINNER_FRAME.match(line_of(out, "score").lstrip())
    assert "running" in line_of(out, "score")
    assert line_of(out, "finalize").lstrip().startswith("·")
    assert "pending" in line_of(out, "finalize")


def test_progress_marks_paused_and_failed_phases() -> None:
    """A paused phase shows ⏸ and a failed one ✗, with no spinner once the job settled."""
    paused, failed = terminal(), terminal()
    paused.print(progress_view(paused_job(), Dossiers(), None))
    failed.print(progress_view(job_at(c.ENRICH, "failed", status="failed"), Dossiers(), None))
    assert line_of(text_of(paused), "generate_dossier").lstrip().startswith("⏸")
    assert line_of(text_of(failed), "enrich").lstrip().startswith("✗")
    assert not SPINNER_FRAME.search(text_of(paused) + text_of(failed))


def test_progress_shows_the_phase_detail() -> None:
    """Each phase's detail is shown beside it as key=value words."""
    job = job_at(c.ENRICH)
    source = job.phase(c.SOURCE).model_copy(update={"detail": {"found": 6, "status": "x"}})
    job = job.model_copy(update={"phases": [source, *job.phases[1:]]})
    console = terminal()
    console.print(progress_view(job, Dossiers(), None))
    line = line_of(text_of(console), "source")
    assert "found=6" in line and "status=" not in line


def test_dossier_progress_counts_done_and_failed_out_of_queued() -> None:
    """The dossier bar counts accounted (done + failed) leads out of the queued ones."""
    dossiers = Dossiers.of(queued_leads())
    assert (dossiers.queued, dossiers.done, dossiers.failed, dossiers.accounted) == (3, 1, 1, 2)
    console = terminal()
    console.print(progress_view(job_at(c.GENERATE_DOSSIER), dossiers, Spinner("dots")))
    line = line_of(text_of(console), "generate_dossier")
    assert "━" in line and "2/3 dossiers" in line and "1 failed" in line


def test_pause_panel_shows_the_block_and_how_to_resume() -> None:
    """A pause shows the billing block and the exact grant, which resumes the job by itself
    (no separate resume to run)."""
    console = terminal()
    show_outcome(console, paused_job())
    out = text_of(console)
    assert "╭" in out and "paused for billing" in out
    for label, value in [
        ("feature", "dossier_research"),
        ("phase", "generate_dossier"),
        ("required", "2"),
        ("available", "0"),
        ("message", "Workflow paused for billing"),
    ]:
        assert value in line_of(out, f"│ {label} ")
    assert "leadgen credits grant acme dossier_research 2" in out
    assert "the grant resumes the job by itself" in out
    assert "leadgen resume" not in out


def test_pause_of_a_run_says_to_run_again_with_the_credits_it_lacked() -> None:
    """A paused ``leadgen run`` cannot be resumed: the advice is the same run with more credits."""
    job = paused_job()
    assert job.billing_block is not None
    commands = resume_commands(job, job.billing_block, RUN_CREDITS)
    assert commands == [
        "leadgen run --customer acme --query dentists --location 'Austin, TX' --max-leads 5 "
        "--max-dossiers 2 --credits lead_discovery=1 --credits dossier_research=3"
    ]
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    show_outcome(console, job, RUN_CREDITS)
    out = text_of(console)
    assert commands[0] in out and "cannot be resumed" in out
    assert "leadgen resume" not in out


def test_plain_outcome_keeps_the_lines_scripts_read() -> None:
    """Off a terminal a pause is plain lines: the block, then the grant that resumes it."""
    console = plain()
    show_outcome(console, paused_job())
    assert text_of(console).splitlines() == [
        "job job-1: paused_for_upgrade (run 1; 4 leads, 1 dossiers, 0 failed)",
        "  paused in generate_dossier: dossier_research needs 2, 0 available",
        "  top up (the grant resumes the job): leadgen credits grant acme dossier_research 2",
    ]


def test_plain_outcome_of_a_run_gives_the_command_to_run_again() -> None:
    """Off a terminal a paused run ends with the full command that runs it again."""
    console = plain()
    show_outcome(console, paused_job(), RUN_CREDITS)
    lines = text_of(console).splitlines()
    assert lines[1] == "  paused in generate_dossier: dossier_research needs 2, 0 available"
    assert lines[-1].endswith("--credits lead_discovery=1 --credits dossier_research=3")


def test_status_summary_shows_phases_counts_block_and_error() -> None:
    """``status`` on a terminal: a phase table, the counts, the billing block and the error."""
    job = paused_job().model_copy(
        update={"error": ErrorEnvelope(name="ProviderError", message="quota exceeded")}
    )
    console = terminal()
    show_status(console, job)
    out = text_of(console)
    assert "phase" in line_of(out, "state")
    assert "completed" in line_of(out, "queue_audits") and "⏸" in line_of(out, "generate_dossier")
    assert "4 leads · 1 dossiers done · 0 failed" in out
    assert "leadgen credits grant acme dossier_research 2" in out
    assert "error ProviderError: quota exceeded" in out


def test_plain_status_is_one_line_per_fact() -> None:
    """``status`` off a terminal prints the job, its phases and its summary as plain lines."""
    console = plain()
    show_status(console, paused_job())
    lines = text_of(console).splitlines()
    assert lines[0] == "job job-1 for acme: 'dentists' in Austin, TX"
    assert lines[1] == "  status paused_for_upgrade, workflow paused (run-1)"
    assert [line.split()[0] for line in lines[2:8]] == list(c.PHASES)
    assert (
        "  top up (the grant resumes the job): leadgen credits grant acme dossier_research 2"
        in lines
    )


def test_credits_show_is_a_table_on_a_terminal() -> None:
    """``credits show`` on a terminal is a table of every feature and its balance."""
    console = terminal()
    show_credits(console, "acme", {c.DOSSIER_RESEARCH: 7})
    out = text_of(console)
    assert "credits of acme" in out
    assert re.search(r"feature\s+balance", out)
    assert re.search(r"lead_discovery\s+0", out) and re.search(r"dossier_research\s+7", out)
    assert "─" in out


def test_plain_credits_keep_their_columns() -> None:
    """``credits show`` off a terminal keeps its aligned lines."""
    console = plain()
    show_credits(console, "acme", {c.DOSSIER_RESEARCH: 2})
    assert text_of(console).splitlines() == [
        "credits of acme:",
        "  lead_discovery          0",
        "  dossier_research        2",
    ]


def test_leads_table_shows_score_name_website_and_dossier() -> None:
    """The leads, best first, with the dossier summary or the dossier error."""
    console = terminal()
    show_leads(console, queued_leads())
    out = text_of(console)
    header = line_of(out, "score")
    assert all(word in header for word in ("lead", "website", "dossier"))
    rows = [line for line in out.splitlines() if "Dental " in line]
    assert [row.split()[0] for row in rows] == ["90", "80", "70", "60"]
    assert "https://a.example" in rows[0] and "Solid." in rows[0]
    assert "no dossier: AuditFailed: site down" in rows[1]


def test_plain_leads_keep_their_lines() -> None:
    """Off a terminal each lead is a line, its dossier or error on the next."""
    console = plain()
    show_leads(console, queued_leads()[:2])
    assert text_of(console).splitlines() == [
        "   90  Dental a  https://a.example",
        "       dossier: Solid.",
        "   80  Dental b  -",
        "       no dossier: AuditFailed: site down",
    ]


def test_plain_output_has_no_escape_codes() -> None:
    """Nothing written off a terminal carries an ANSI escape code."""
    console = plain()
    show_status(console, paused_job())
    show_outcome(console, paused_job(), RUN_CREDITS)
    show_credits(console, "acme", {})
    show_leads(console, queued_leads())
    file = console.file
    assert isinstance(file, io.StringIO)
    assert "\x1b" not in file.getvalue()


async def test_follow_prints_plain_phase_changes_and_returns_the_settled_job() -> None:
    """Off a terminal ``follow`` prints a line per phase change and the summary, no live view."""
    store = MemoryStore()
    await store.insert_job(paused_job())
    out = io.StringIO()
    job = await follow(store, "job-1", out, poll=0.01, timeout=5)
    assert job.status == "paused_for_upgrade"
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["source", "completed"]
    assert lines[4].split() == ["generate_dossier", "paused"]
    assert (
        "  top up (the grant resumes the job): leadgen credits grant acme dossier_research 2"
        in lines
    )
    assert "\x1b" not in out.getvalue()


async def test_follow_on_a_terminal_draws_progress_then_the_pause_panel() -> None:
    """On a terminal ``follow`` draws the phases and dossier bar, then the pause panel."""
    store = MemoryStore()
    await store.insert_job(paused_job())
    await store.add_leads(queued_leads())
    console = terminal()
    job = await follow(store, "job-1", console, poll=0.01, timeout=5)
    assert job.status == "paused_for_upgrade"
    out = text_of(console)
    assert "2/3 dossiers" in line_of(out, "generate_dossier")
    assert "leadgen credits grant acme dossier_research 2" in out


async def test_follow_after_a_resume_waits_for_the_job_to_change() -> None:
    """The paused job read back before the resume applies is not where the job settled."""
    store = MemoryStore()
    before = paused_job()
    await store.insert_job(before)
    watching = asyncio.create_task(
        follow(store, "job-1", io.StringIO(), poll=0.01, timeout=5, before=before)
    )
    await asyncio.sleep(0.1)
    assert not watching.done()
    await store.update_job(
        "job-1",
        Guard(),
        {"status": "completed", "workflow_status": "completed", "billing_block": None},
    )
    job = await asyncio.wait_for(watching, 5)
    assert job.status == "completed"


@pytest.mark.parametrize("terminal_out", [True, False])
def test_make_console_follows_the_stream(terminal_out: bool) -> None:
    """The console is a terminal exactly when its stream is one."""

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return terminal_out

    assert make_console(Stream()).is_terminal is terminal_out


async def test_follow_ends_when_the_job_makes_no_progress() -> None:
    """A running job that does not change for ``timeout`` ends the follow with NoProgress,
    while a job that keeps changing is followed past that time until it settles."""
    store = MemoryStore()
    running = paused_job().model_copy(
        update={"status": "running", "workflow_status": "running", "billing_block": None}
    )
    await store.insert_job(running)
    with pytest.raises(NoProgress, match=re.escape("job-1 made no progress for 0.3 s")):
        await follow(store, "job-1", io.StringIO(), poll=0.01, timeout=0.3)

    async def progress() -> None:
        for _ in range(8):
            await asyncio.sleep(0.1)
            await store.update_job("job-1", Guard(), {"redrives": 0})
        await store.update_job(
            "job-1", Guard(), {"status": "completed", "workflow_status": "completed"}
        )

    moving = asyncio.create_task(progress())
    job = await follow(store, "job-1", io.StringIO(), poll=0.01, timeout=0.3)
    await moving
    assert job.status == "completed"


async def test_follow_of_a_job_that_never_appears_ends() -> None:
    """Following a job id nobody created ends with NoProgress naming the job."""
    with pytest.raises(NoProgress, match=re.escape("no job ghost after 0.2 s")):
        await follow(MemoryStore(), "ghost", io.StringIO(), poll=0.01, timeout=0.2)


def test_a_cancelled_job_shows_where_it_stopped_and_why() -> None:
    """A cancelled job shows no pause panel (its last block is history), the phase the cancel
    stopped as interrupted, and the reason."""
    job = paused_job().model_copy(
        update={"status": "cancelled", "workflow_status": "cancelled", "cancel_reason": "moved"}
    )
    console = plain()
    show_status(console, job)
    lines = text_of(console).splitlines()
    assert line_of("\n".join(lines), "generate_dossier").split()[1] == "interrupted"
    assert "  cancelled in generate_dossier: moved" in lines
    assert not any("paused in" in line or "top up" in line for line in lines)
    rich = terminal()
    show_outcome(rich, job)
    out = text_of(rich)
    assert "paused for billing" not in out and "cancelled in generate_dossier: moved" in out


def test_a_completed_job_missing_dossiers_has_no_check_mark() -> None:
    """A job that completed with failed dossiers is marked ``!``, not a green check."""
    job = paused_job().model_copy(
        update={
            "status": "completed",
            "workflow_status": "completed",
            "billing_block": None,
            "counts": Counts(leads=4, dossiers_done=0, dossiers_failed=3),
        }
    )
    console = terminal()
    show_outcome(console, job)
    assert text_of(console).startswith("! job job-1 completed")


def test_the_rerun_of_a_paused_run_has_every_credit_the_request_needs() -> None:
    """A run given only dossier credits pauses in source; the advice adds lead discovery and
    keeps enough dossier credits for the whole request, so the rerun does not pause again."""
    job = paused_job().model_copy(
        update={
            "billing_block": BillingBlock(
                feature_id=c.LEAD_DISCOVERY,
                phase=c.SOURCE,
                required=1,
                available=0,
                paused_at=utcnow(),
                message="Workflow paused for billing",
            )
        }
    )
    assert job.billing_block is not None
    [command] = resume_commands(job, job.billing_block, {c.DOSSIER_RESEARCH: 1})
    assert command.endswith("--credits lead_discovery=1 --credits dossier_research=2")
