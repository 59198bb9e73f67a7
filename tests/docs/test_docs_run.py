"""The README and docs/ work as written: their shell blocks that can run here (the quick
start's commands, the tour's paused run, the session against services you already run) and
the contract's Python snippet, run as a script, against this test's RabbitMQ virtual host and
MongoDB database."""

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import running_worker, worker_env
from tests.support.servers import database_name

ROOT = Path(__file__).resolve().parents[2]
# Everything a reader is given to copy: the README and the documents under docs/.
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
BIN = Path(sys.executable).parent  # where this environment's `leadgen` is


def blocks(language: str) -> list[str]:
    """The fenced code blocks in ``language`` of the README and docs/."""
    return re.findall(rf"```{language}\n(.*?)```", DOCS, flags=re.DOTALL)


def block_with(language: str, text: str) -> str:
    """The one ``language`` block that contains ``text``."""
    [found] = [block for block in blocks(language) if text in block]
    return found


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def services(amqp_url: str, mongodb_url: str) -> Iterator[dict[str, str]]:
    """The environment of a shell on this machine, with leadgen on the PATH."""
    yield {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "LEADGEN_HTTP_PORT": "0",
        "LEADGEN_MONGODB_DB": database_name(),
        "TEST_AMQP_URL": amqp_url,
        "TEST_MONGODB_URL": mongodb_url,
    }


def test_the_tour_run_pauses_where_it_says(tmp_path: Path) -> None:
    """The tour's `leadgen run` with credits for one dossier pauses in generate_dossier (exit
    3) and prints the command that would finish it."""
    script = block_with("sh", "--credits dossier_research=1").replace(
        ".venv/bin/leadgen", f"{BIN}/leadgen"
    )
    done = bash(script, tmp_path, dict(os.environ))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "paused in generate_dossier" in done.stdout
    assert "leadgen run --customer demo" in done.stdout


def test_the_quick_start_commands_run(tmp_path: Path) -> None:
    """The quick start's `.venv/bin/leadgen run` commands work, the second writing a CSV."""
    script = block_with("sh", "> leads.csv").replace(".venv/bin/leadgen", f"{BIN}/leadgen")
    done = bash(script, tmp_path, dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dossier: " in done.stdout
    rows = list(csv.DictReader(io.StringIO((tmp_path / "leads.csv").read_text())))
    assert 3 <= len(rows) <= 8 and sum(bool(row["dossier"]) for row in rows) == 3


@pytest.mark.amqp
@pytest.mark.mongo
def test_the_session_against_your_own_services_runs(
    services: dict[str, str], tmp_path: Path
) -> None:
    """Worker, grants, `start --follow`, `leads` and stopping the worker, as written, with only
    the two URLs pointed at this test's services."""
    script = block_with("sh", "leadgen worker &")
    script = re.sub(
        r"(?m)^export LEADGEN_AMQP_URL=.*$", 'export LEADGEN_AMQP_URL="$TEST_AMQP_URL"', script
    )
    script = re.sub(
        r"(?m)^export LEADGEN_MONGODB_URL=.*$",
        'export LEADGEN_MONGODB_URL="$TEST_MONGODB_URL"',
        script,
    )
    done = bash(script + "wait\n", tmp_path, services)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job acme-1 started" in done.stdout
    assert "job acme-1: completed" in done.stdout
    assert done.stdout.count("dossier: ") == 10


@pytest.mark.amqp
@pytest.mark.mongo
def test_the_python_snippet_runs_as_a_script(services: dict[str, str], tmp_path: Path) -> None:
    """The integration snippet, saved as a file, starts a job and prints leadgen's answer."""
    script = tmp_path / "start_job.py"
    script.write_text(block_with("python", "leadgen.start.v1"))
    env = worker_env(services["TEST_AMQP_URL"], services["TEST_MONGODB_URL"])
    # Once the worker has started, its exchanges are declared for the snippet to publish to.
    with running_worker(env, tmp_path / "worker.log"):
        done = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leadgen.command.accepted.v1 running"
