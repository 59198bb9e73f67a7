"""What ``leadgen worker`` writes with ``LEADGEN_LOG_FORMAT=json``: only JSON lines, on stdout
and stderr alike, even while RabbitMQ drops its connection; one warning per lost connection."""

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from tests.support.processes import worker_env
from tests.support.servers import free_port, management

LEADGEN = [sys.executable, "-m", "leadgen"]
WAIT = 60.0
FORCED_CLOSES = 2


async def api(method: str, path: str) -> Any:
    """Call the management API without blocking the event loop."""
    return await asyncio.to_thread(management, method, path)


async def worker_connection(vhost: str, closed: set[str]) -> str:
    """The name of the worker's AMQP connection in ``vhost`` not among ``closed``, once listed."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        for connection in await api("GET", f"/vhosts/{quote(vhost, safe='')}/connections"):
            shown = connection.get("client_properties", {}).get("connection_name", "")
            if shown.startswith("leadgen-worker@") and connection["name"] not in closed:
                return str(connection["name"])
        assert asyncio.get_running_loop().time() < deadline, "worker connection never listed"
        await asyncio.sleep(0.2)


async def ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the worker's ``/readyz`` answers 200."""
    deadline = asyncio.get_running_loop().time() + WAIT
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        while True:
            assert process.poll() is None, "worker exited"
            try:
                async with session.get("/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass  # not serving yet
            assert asyncio.get_running_loop().time() < deadline, "worker never ready"
            await asyncio.sleep(0.1)


def spawn_worker(env: dict[str, str], stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """Start ``leadgen worker`` with its stdout and stderr going to files of their own."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        return subprocess.Popen([*LEADGEN, "worker"], env=env, stdout=out, stderr=err)


def lines(path: Path) -> list[str]:
    """The non-empty lines of an output file."""
    return [line for line in path.read_text().splitlines() if line.strip()]


def not_json(path: Path) -> list[str]:
    """The lines of ``path`` that are not one JSON object each."""
    bad = []
    for line in lines(path):
        try:
            parsed = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(parsed, dict):
            bad.append(line)
    return bad


async def test_worker_writes_only_json_lines_through_forced_reconnects(
    amqp_url: str, mongodb_url: str, tmp_path: Path
) -> None:
    """A JSON-logging worker whose connection RabbitMQ closes twice comes back ready each
    time, logs exactly one ``broker_connection_lost`` warning (and no other warning or error)
    and one ``broker_reconnected`` per close, and writes nothing but JSON lines on stdout and
    stderr up to its exit."""
    port = free_port()
    env = worker_env(
        amqp_url,
        mongodb_url,
        LEADGEN_HTTP_PORT=str(port),
        LEADGEN_LOG_LEVEL="info",
        # Warnings shown, not silenced: they too must come out as JSON.
        PYTHONWARNINGS="default",
        # Grants closed to all but billing: the worker has no `grants_open` warning to give.
        LEADGEN_GRANT_USERS="billing",
    )
    vhost = urlsplit(amqp_url).path.lstrip("/")
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    process = spawn_worker(env, stdout, stderr)
    try:
        await ready(port, process)
        closed: set[str] = set()
        for _ in range(FORCED_CLOSES):
            name = await worker_connection(vhost, closed)
            await api("DELETE", f"/connections/{quote(name, safe='')}")
            closed.add(name)
            await worker_connection(vhost, closed)  # a new connection is open
            await ready(port, process)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = f"stdout:\n{stdout.read_text()[-4000:]}\nstderr:\n{stderr.read_text()[-4000:]}"
    assert not_json(stdout) == [], output
    assert not_json(stderr) == [], output
    events = [json.loads(line) for line in lines(stdout) + lines(stderr)]
    lost = [e for e in events if e["event"] == "broker_connection_lost"]
    back = [e for e in events if e["event"] == "broker_reconnected"]
    assert len(lost) == FORCED_CLOSES, output
    assert all(e["level"] == "warning" and e["reason"] for e in lost), output
    assert len(back) == FORCED_CLOSES, output
    # Nothing else complains: aio-pika's and aiormq's own reports of the same loss are dropped.
    complaints = [e for e in events if e["level"] in ("warning", "error", "critical")]
    assert complaints == lost, output
    assert "worker_stopped" in [e["event"] for e in events], output
