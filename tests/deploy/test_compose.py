"""docker-compose.yml as users run it: nothing published beyond this machine, a worker that
reports its readiness and is given time to finish its work when stopped."""

import re
from pathlib import Path
from typing import Any

import yaml

from leadgen.cli.parser import build_parser

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def seconds(duration: str) -> float:
    """A compose duration such as ``45s`` or ``1m30s`` in seconds."""
    parts = re.findall(r"(\d+)(h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def test_every_published_port_is_bound_to_localhost() -> None:
    """RabbitMQ, MongoDB and the worker's metrics port listen on 127.0.0.1 only."""
    ports = [port for service in services().values() for port in service.get("ports", [])]
    assert ports, "the stack publishes no port"
    assert all(str(port).startswith("127.0.0.1:") for port in ports), ports


def test_worker_stop_grace_outlasts_its_own_grace() -> None:
    """Docker waits longer than the worker's default grace before killing it."""
    grace = build_parser().parse_args(["worker"]).grace
    assert seconds(services()["worker"]["stop_grace_period"]) > grace


def test_worker_healthcheck_asks_readyz() -> None:
    """The worker's healthcheck is its readiness endpoint on the port it serves."""
    worker = services()["worker"]
    check = " ".join(worker["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/readyz" in check
    assert worker["environment"]["LEADGEN_HTTP_PORT"] == "8080"


def script_default(name: str) -> str:
    """The default of ``name`` in deploy/rabbitmq-users.sh."""
    script = (COMPOSE.parent / "deploy" / "rabbitmq-users.sh").read_text()
    [value] = re.findall(rf"\$\{{{name}:=([^}}]+)\}}", script)
    return str(value)


def test_the_stack_runs_the_worker_as_its_own_user_and_takes_grants_from_billing() -> None:
    """The stack creates leadgen's users with deploy/rabbitmq-users.sh before the worker
    starts; the worker logs in as the worker user and accepts grants from the billing user."""
    stack = services()
    setup = stack["rabbitmq-users"]
    assert any("deploy/rabbitmq-users.sh" in volume for volume in setup["volumes"])
    worker = stack["worker"]
    assert worker["depends_on"]["rabbitmq-users"]["condition"] == "service_completed_successfully"
    user = worker["environment"]["LEADGEN_AMQP_URL"].split("//")[1].split(":")[0]
    assert user == script_default("LEADGEN_WORKER_USER")
    assert worker["environment"]["LEADGEN_GRANT_USERS"] == script_default("LEADGEN_BILLING_USER")
