"""Real services for the tests: RabbitMQ (one virtual host per test) and a MongoDB-compatible
server (SecantusDB started on a free port, unless ``LEADGEN_MONGODB_URL`` names one).

A missing service is a skip on a laptop and a failure when ``CI`` is set."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

AMQP_HOST = os.environ.get("LEADGEN_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("LEADGEN_TEST_AMQP_PORT", "5672"))
MANAGEMENT_URL = os.environ.get("LEADGEN_TEST_MANAGEMENT_URL", "http://127.0.0.1:15672")
AMQP_USER = os.environ.get("LEADGEN_TEST_AMQP_USER", "guest")
AMQP_PASSWORD = os.environ.get("LEADGEN_TEST_AMQP_PASSWORD", "guest")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def management(method: str, path: str, body: object | None = None) -> object:
    """Call the RabbitMQ management HTTP API and return its decoded JSON (or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{MANAGEMENT_URL}/api{path}", data=data, method=method)
    token = base64.b64encode(f"{AMQP_USER}:{AMQP_PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh virtual host for one test; yields its AMQP URL and deletes it afterwards."""
    if not port_open(AMQP_HOST, AMQP_PORT):
        unavailable(f"RabbitMQ is not answering on {AMQP_HOST}:{AMQP_PORT}")
    vhost = f"leadgen-test-{uuid.uuid4().hex[:12]}"
    try:
        management("PUT", f"/vhosts/{vhost}")
        management(
            "PUT",
            f"/permissions/{vhost}/{AMQP_USER}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
    except (urllib.error.URLError, OSError) as exc:
        unavailable(f"RabbitMQ management API not reachable at {MANAGEMENT_URL}: {exc}")
    try:
        yield f"amqp://{AMQP_USER}:{AMQP_PASSWORD}@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    finally:
        management("DELETE", f"/vhosts/{vhost}")


@contextmanager
def mongodb_server() -> Iterator[str]:
    """A MongoDB-compatible server for the session; yields its URL."""
    url = os.environ.get("LEADGEN_MONGODB_URL")
    if url:
        parts = urlsplit(url)
        if not port_open(parts.hostname or "localhost", parts.port or 27017):
            unavailable(f"MongoDB is not answering at {url}")
        yield url
        return
    temporary = tempfile.TemporaryDirectory(prefix="leadgen-secantus-")
    with temporary as storage, secantus_server(Path(storage)) as (_, served):
        yield served


@contextmanager
def secantus_server(storage: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A SecantusDB server keeping its data and log under ``storage``; yields its process and
    URL once it answers, and stops it afterwards."""
    beside = Path(sys.executable).parent / "secantusd-py"
    executable = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if executable is None:
        unavailable("secantusd-py is not installed (pip install secantusdb)")
        return
    port = free_port()
    argv = [executable, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--storage-path", str(storage / "data"), "--cache-size", "256MB"]
    argv += ["--oplog-max-entries", "10000", "--log-level", "WARNING"]
    log_path = storage / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_bytes()[-2000:].decode(errors="replace")
                unavailable(f"SecantusDB did not start: {tail}")
            time.sleep(0.1)
        yield process, f"mongodb://127.0.0.1:{port}"
    finally:
        process.terminate()  # a stopped (SIGSTOP) process gets SIGKILL below
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def database_name() -> str:
    """A database name no other test uses."""
    return f"leadgen_test_{uuid.uuid4().hex[:12]}"
