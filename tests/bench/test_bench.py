"""``leadgen bench``: a tiny run completes and prints every figure (never a timing
threshold: figures are for people, the README and ``--json`` readers)."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

TINY = ["--jobs", "2", "--rounds", "2", "--leads", "4", "--dossiers", "2", "--sizes", "4,8"]
TINY += ["--rss-jobs", "20"]


def bench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadgen", "bench", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def positive(figures: dict[str, Any], *names: str) -> None:
    for name in names:
        assert figures[name] > 0, f"{name} = {figures[name]}"


@pytest.mark.amqp
@pytest.mark.mongo
def test_bench_json_has_every_figure(amqp_url: str, mongodb_url: str) -> None:
    """A tiny bench on RabbitMQ and MongoDB prints, as JSON, throughput, CPU, latency and
    store calls of both contenders with their ratios, the embedded pair, and the scaling rows
    of each size with store calls and MongoDB commands per dossier."""
    done = bench(
        *TINY,
        "--mongodb",
        "--json",
        env={"LEADGEN_AMQP_URL": amqp_url, "LEADGEN_MONGODB_URL": mongodb_url},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["plan"]["jobs"] == 2 and result["plan"]["sizes"] == [4, 8]
    for section in ("throughput", "one_in_flight", "one_in_flight_no_dossiers"):
        figures = result[section]
        for name in ("chain", "leadgen"):
            positive(
                figures[name],
                "messages_per_job",
                "messages_per_second",
                "cpu_ms_per_message",
                "latency_p50_ms",
                "latency_p99_ms",
            )
            assert figures[name]["rounds"] == 2
        assert figures["chain"]["messages_per_job"] == pytest.approx(
            figures["leadgen"]["messages_per_job"], abs=1
        )
        positive(figures["leadgen"], "store_calls_per_job")
        positive(figures["ratio"], "messages_per_second", "cpu_per_message", "latency_p50")
    positive(result["embedded"], "messages_per_second", "store_calls_per_job")
    memory = result["memory"]
    assert memory["jobs"] == 20
    positive(memory, "rss_first_batch_mib", "rss_last_batch_mib")
    assert memory["growth"] == pytest.approx(
        memory["rss_last_batch_mib"] / memory["rss_first_batch_mib"] - 1
    )
    assert [row["leads"] for row in result["scaling"]] == [4, 8]
    for row in result["scaling"]:
        assert row["dossiers"] == row["leads"] // 2
        positive(row, "messages", "cpu_ms_per_dossier", "store_calls_per_dossier")
    mongodb = result["mongodb"]
    positive(mongodb, "store_calls_per_job", "commands_per_job", "commands_per_dossier")
    assert [row["leads"] for row in mongodb["scaling"]] == [4, 8]
    for row in mongodb["scaling"]:
        positive(row, "commands_per_dossier", "store_calls_per_dossier")


@pytest.mark.amqp
def test_bench_prints_tables_for_people(amqp_url: str) -> None:
    """Without ``--json`` the bench prints its tables and the ratios of leadgen to the chain."""
    done = bench(*TINY, env={"LEADGEN_AMQP_URL": amqp_url})
    assert done.returncode == 0, done.stderr
    assert "leadgen/chain:" in done.stdout and "x messages/s" in done.stdout
    assert "without dossiers" in done.stdout
    assert "scaling (embedded" in done.stdout and "MongoDB" not in done.stdout
    assert "memory:" in done.stdout and "of 20 jobs" in done.stdout
    assert done.stdout.count("\n") > 10


@pytest.mark.parametrize("sizes", ["0", "a,b", "10,2000", ""])
def test_bad_sizes_are_one_line_and_exit_2(sizes: str) -> None:
    """Sizes out of 1..1000, or not numbers, are refused before anything runs."""
    done = bench("--sizes", sizes, env={})
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "--sizes" in done.stderr
