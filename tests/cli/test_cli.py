"""The ``leadgen`` command line as people and scripts use it: a ``leadgen worker`` process
on the real services, driven by ``start``/``resume``/``status``/``credits`` processes."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from tests.support.processes import leadgen, running_worker, worker_env


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["start", "--customer", "acme"],
        ["start", "--customer", "acme", "--query", "x", "--max-leads", "many"],
        ["start", "--customer", "acme", "--query", "x", "--max-leads", "0"],
        ["credits", "grant", "acme", "gold", "3"],
        ["credits", "grant", "acme", "lead_discovery", "-1"],
        ["run", "--customer", "acme", "--query", "x", "--credits", "lead_discovery"],
        ["status"],
        ["worker", "--http-port", "http"],
        ["fly"],
    ],
    ids=repr,
)
def test_bad_arguments_print_one_line_and_exit_2(args: list[str]) -> None:
    """Bad arguments: one clear line on stderr, nothing on stdout, exit code 2."""
    result = leadgen(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "error" in result.stderr


def dossiers_shown(out: str) -> int:
    """How many leads ``run`` printed with a dossier."""
    return sum(line.lstrip().startswith("dossier: ") for line in out.splitlines())


def test_run_completes_on_the_embedded_default() -> None:
    """``leadgen run`` needs no services: it shows the phases, the leads and the dossiers."""
    result = leadgen(
        "run",
        "--customer",
        "demo",
        "--query",
        "dentists",
        "--location",
        "Austin, TX",
        "--max-leads",
        "6",
        "--max-dossiers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for phase in ("source", "enrich", "score", "queue_audits", "generate_dossier", "finalize"):
        assert f"  {phase} " in out
    assert ": completed (run 1;" in out
    assert dossiers_shown(out) == 2


def test_run_exits_3_when_credits_run_out() -> None:
    """With fewer credits than the request needs, ``run`` stops paused and exits 3."""
    result = leadgen(
        "run",
        "--customer",
        "demo",
        "--query",
        "dentists",
        "--max-dossiers",
        "3",
        "--credits",
        "lead_discovery=1",
        "--credits",
        "dossier_research=1",
    )
    assert result.returncode == 3, result.stderr
    assert "paused_for_upgrade" in result.stdout
    assert "dossier_research needs 2, 0 available" in result.stdout
    assert dossiers_shown(result.stdout) == 1


@pytest.fixture
def service_env(amqp_url: str, mongodb_url: str) -> dict[str, str]:
    """Environment pointing every leadgen process at this test's vhost and database."""
    return worker_env(amqp_url, mongodb_url)


@pytest.fixture
def worker(service_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``leadgen worker`` process, stopped with SIGTERM after the test."""
    with running_worker(service_env, tmp_path / "worker.log") as process:
        yield process


def test_worker_and_commands_end_to_end(
    worker: subprocess.Popen[bytes], service_env: dict[str, str], tmp_path: Path
) -> None:
    """start --follow pauses (3), status shows the block, a top-up and resume --follow
    complete the job (0), and SIGTERM stops the worker cleanly (0)."""
    env = service_env
    assert leadgen("credits", "grant", "acme", "lead_discovery", "1", env=env).returncode == 0
    started = leadgen(
        "start",
        "--customer",
        "acme",
        "--query",
        "dentists",
        "--location",
        "Austin, TX",
        "--max-leads",
        "5",
        "--max-dossiers",
        "2",
        "--job-id",
        "cli-job",
        "--follow",
        env=env,
    )
    assert started.returncode == 3, started.stdout + started.stderr
    assert "paused in generate_dossier" in started.stdout

    status = leadgen("status", "cli-job", "--json", env=env)
    assert status.returncode == 0
    document = json.loads(status.stdout)
    assert document["_id"] == "cli-job" and document["status"] == "paused_for_upgrade"
    assert document["billing_block"]["feature_id"] == "dossier_research"

    granted = leadgen(
        "credits", "grant", "acme", "dossier_research", "2", "--no-auto-resume", env=env
    )
    assert granted.returncode == 0
    deadline = time.monotonic() + 30
    while "dossier_research        2" not in leadgen("credits", "show", "acme", env=env).stdout:
        assert time.monotonic() < deadline, "the grant never landed"
        time.sleep(0.2)
    resumed = leadgen("resume", "cli-job", "--customer", "acme", "--follow", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "completed (run 2;" in resumed.stdout

    shown = leadgen("credits", "show", "acme", env=env)
    assert shown.returncode == 0
    assert "dossier_research" in shown.stdout and "lead_discovery" in shown.stdout
    assert leadgen("status", "no-such-job", env=env).returncode == 2

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    events = {line["event"] for line in lines}
    assert {
        "job_paused_for_billing",
        "billing_pause_detected",
        "on_complete_skipped_paused",
        "job_resumed",
        "job_completed",
        "worker_stopped",
    } <= events
    paused = next(line for line in lines if line["event"] == "job_paused_for_billing")
    assert paused["job_id"] == "cli-job" and paused["customer_id"] == "acme"
    assert paused["timestamp"].endswith("Z") and paused["level"] == "warning"


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_commands_say_what_the_worker_made_of_them(
    worker: subprocess.Popen[bytes], service_env: dict[str, str]
) -> None:
    """start, resume, cancel and credits grant wait for the worker's answer: a refusal is one
    line with its reason and exit 5; a grant says the balance and the jobs it resumed, and a
    repeated grant that it was applied before."""
    env = service_env
    unknown = leadgen("resume", "no-such-job", "--customer", "acme", "--follow", env=env)
    assert unknown.returncode == 5
    assert one_line(unknown) == (
        "leadgen: resume of job no-such-job refused: unknown job for this customer"
    )
    started = leadgen("start", "--customer", "acme", "--query", "q", "--job-id", "cli-r", env=env)
    assert (started.returncode, started.stdout.strip()) == (0, "job cli-r started")
    paused = leadgen("resume", "cli-r", "--customer", "acme", "--follow", env=env)
    while paused.returncode == 5 and "is running" in paused.stderr:  # not paused yet
        time.sleep(0.2)
        paused = leadgen("resume", "cli-r", "--customer", "acme", env=env)
    assert paused.returncode == 5
    assert one_line(paused) == (
        "leadgen: resume of job cli-r refused: insufficient_credits"
        " (lead_discovery: 1 needed, 0 available)"
    )
    foreign = leadgen("cancel", "cli-r", "--customer", "mallory", env=env)
    assert foreign.returncode == 5 and "unknown job for this customer" in one_line(foreign)

    grant = ["credits", "grant", "acme", "lead_discovery", "1", "--grant-id", "g-cli"]
    granted = leadgen(*grant, env=env)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.splitlines() == [
        "grant g-cli applied: acme has 1 lead_discovery",
        "resumed: cli-r",
    ]
    again = leadgen(*grant, env=env)
    assert again.returncode == 0
    assert again.stdout.startswith("grant g-cli was already applied: acme has")

    cancelled = leadgen("cancel", "cli-r", "--customer", "acme", "--reason", "done", env=env)
    assert (cancelled.returncode, cancelled.stdout.strip()) == (0, "job cli-r cancelled")
    late = leadgen("resume", "cli-r", "--customer", "acme", "--follow", env=env)
    assert late.returncode == 5 and one_line(late).endswith("refused: job is cancelled")
    sent = leadgen("cancel", "cli-r", "--customer", "acme", "--no-wait", env=env)
    assert (sent.returncode, sent.stdout.strip()) == (0, "cancel of job cli-r sent")


def test_a_command_nobody_consumes_is_not_sent(service_env: dict[str, str]) -> None:
    """With no worker on the commands queue, start, resume, cancel and grant say so in one
    line, exit 6, and publish nothing that a worker started later would apply."""
    env = service_env
    for args in (
        ["start", "--customer", "acme", "--query", "q", "--job-id", "lonely", "--no-wait"],
        ["resume", "lonely", "--customer", "acme"],
        ["cancel", "lonely", "--customer", "acme"],
        ["credits", "grant", "acme", "lead_discovery", "5"],
    ):
        result = leadgen(*args, "--timeout", "0.5", env=env)
        assert result.returncode == 6, (args, result.stderr)
        assert "no worker consumes leadgen.commands" in one_line(result)
        assert "nothing was sent" in result.stderr
    assert asyncio.run(commands_waiting(env["LEADGEN_AMQP_URL"])) == 0


async def commands_waiting(amqp_url: str) -> int:
    """Messages waiting in the commands queue."""
    broker = AmqpBroker(amqp_url)
    await broker.connect()
    try:
        return await broker.message_count(c.COMMANDS_QUEUE)
    finally:
        await broker.close()


def test_run_reports_the_rows_of_a_lead_file_it_skipped(tmp_path: Path) -> None:
    """A lead file's bad rows are listed with their line numbers and reasons (a byte that is
    not UTF-8 costs only its row), and a website given by address is kept as a website."""
    leads = tmp_path / "leads.csv"
    leads.write_bytes(
        b"name,website,location\n"
        b"Good Dental,https://good.example,Austin\n"
        b",https://noname.example,Austin\n"
        b"Caf\xe9 Dental,https://cafe.example,Austin\n"
        b"Intranet Dental,http://10.0.0.7/,Austin\n"
    )
    done = leadgen(
        "run", "--customer", "acme", "--query", "dental", "--source", f"file:{leads}",
        "--max-dossiers", "0", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {(lead["name"], lead["website"]) for lead in json.loads(done.stdout)} == {
        ("Good Dental", "https://good.example/"),
        ("Intranet Dental", "http://10.0.0.7/"),
    }
    assert "skipped 2 rows of the lead file:" in done.stderr
    assert "line 3: name is empty" in done.stderr
    assert "line 4: name is not UTF-8 text (byte 0xe9); save the file as UTF-8" in done.stderr


def test_run_says_when_the_offline_source_gives_fewer_leads_than_asked() -> None:
    """Asking the offline source for more than it invents says so instead of a silent cap."""
    done = leadgen(
        "run", "--customer", "acme", "--query", "dentists", "--max-leads", "250",
        "--max-dossiers", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "note: the offline source invents at most 200 leads" in done.stdout


def test_follow_ends_when_the_job_makes_no_progress(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    """A job stuck in a phase (its lead file is a pipe nobody writes) ends ``start --follow``
    after ``--timeout`` seconds without progress: one line, exit 6."""
    fifo = tmp_path / "leads.csv"
    os.mkfifo(fifo)
    env = {**service_env, "LEADGEN_LEAD_SOURCE": f"file:{fifo}"}
    with running_worker(env, tmp_path / "worker.log"):
        try:
            granted = leadgen("credits", "grant", "acme", "lead_discovery", "1", env=env)
            assert granted.returncode == 0, granted.stderr
            stuck = leadgen(
                "start", "--customer", "acme", "--query", "dentists", "--job-id", "stuck",
                "--follow", "--timeout", "2", env=env,
            )  # fmt: skip
        finally:
            with suppress(OSError):  # lets the source's read end, and so the worker stop
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.write(writer, b"name,website\n")
                os.close(writer)
    assert stuck.returncode == 6, stuck.stdout + stuck.stderr
    assert one_line(stuck) == (
        "leadgen: error: job stuck made no progress for 2 s (status running);"
        " is a worker running? (--timeout waits longer)"
    )


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["start", "--customer", "a", "--query", ""], {}, "--query: "),
        (["start", "--customer", "", "--query", "q"], {}, "--customer: "),
        (["start", "--customer", "a", "--query", "q", "--max-leads", "0"], {}, "--max-leads: "),
        (["status", "j", "--log-level", "loud"], {}, "--log-level: "),
        (["status", "j"], {"LEADGEN_LOG_LEVEL": "loud"}, "LEADGEN_LOG_LEVEL: "),
        (["credits"], {}, "required: grant|show"),
        (["dead"], {}, "required: list|replay|purge"),
        ([], {}, "a command is required: worker, start, resume, cancel, status, leads"),
    ],
    ids=repr,
)
def test_errors_name_what_was_typed(args: list[str], env: dict[str, str], named: str) -> None:
    """An error names the option, argument or variable the user gave, never an internal
    field or destination, in one line with exit 2."""
    result = leadgen(*args, env={**os.environ, **env})
    assert result.returncode == 2
    assert named in one_line(result)
    assert "_command" not in result.stderr and "customer_id" not in result.stderr


def test_version_help_and_settings_that_do_not_apply() -> None:
    """``--version`` and ``-V`` print the version; each command's help shows only its
    settings, with defaults; a bad value of a setting a command does not use is ignored."""
    for flag in ("--version", "-V"):
        version = leadgen(flag)
        assert version.returncode == 0 and version.stdout.startswith("leadgen ")
    status_help = " ".join(leadgen("status", "--help").stdout.split())
    assert "--mongodb-url" in status_help and "--amqp-url" not in status_help
    assert "(default: $LEADGEN_MONGODB_URL or mongodb://localhost:27017)" in status_help
    assert "--http-port" in leadgen("worker", "--help").stdout
    ignored = leadgen(
        "status", "j", "--mongodb-url", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200",
        env={**os.environ, "LEADGEN_HTTP_PORT": "abc"},
    )  # fmt: skip
    assert ignored.returncode == 1 and one_line(ignored).startswith(
        "leadgen: error: MongoDB at mongodb://127.0.0.1:1"
    )


def test_every_subcommand_runs_a_handler_of_its_own() -> None:
    """Each leaf subcommand of the parser names the coroutine that runs it, a different one
    for each."""
    import argparse
    import inspect

    from leadgen.cli.parser import build_parser

    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[Any, Any]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser.get_default("handler")
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, (*path, name))

    found = dict(leaves(build_parser(), ()))
    # worker, start, resume, cancel, status, leads, credits grant|show, run, bench, schema and
    # dead list|replay|purge
    assert len(found) == 14
    assert all(inspect.iscoroutinefunction(handler) for handler in found.values()), found
    assert len(set(found.values())) == len(found)
