"""``leadgen`` run as people and services run it, through the real entry point
(``python -m leadgen``): one command to completion, and a worker process for the length of a
block, pointed at a test's RabbitMQ virtual host and MongoDB database."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import database_name

LEADGEN = [sys.executable, "-m", "leadgen"]


def leadgen(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one ``leadgen`` command to completion; its exit code and output."""
    return subprocess.run(
        [*LEADGEN, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def worker_env(amqp_url: str, mongodb_url: str, **settings: str) -> dict[str, str]:
    """This environment, with leadgen pointed at ``amqp_url`` and a fresh database of
    ``mongodb_url``, logging JSON, with no HTTP port unless ``settings`` give one."""
    return {
        **os.environ,
        "LEADGEN_AMQP_URL": amqp_url,
        "LEADGEN_MONGODB_URL": mongodb_url,
        "LEADGEN_MONGODB_DB": database_name(),
        "LEADGEN_HTTP_PORT": "0",
        "LEADGEN_LOG_FORMAT": "json",
        **settings,
    }


@contextmanager
def running_worker(
    env: dict[str, str], log: Path, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``leadgen worker`` writing its output to ``log``, once it logged ``worker_started``;
    stopped with SIGTERM after the block (if it is still running)."""
    with log.open("wb") as out:
        process = subprocess.Popen([*LEADGEN, "worker"], env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + timeout
            while b"worker_started" not in log.read_bytes():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the worker did not start"
                time.sleep(0.1)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
