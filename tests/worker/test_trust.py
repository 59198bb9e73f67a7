"""Trust boundaries on the bus: only the users in LEADGEN_GRANT_USERS grant credits, RabbitMQ
checks who a message says it is from and, with the production permissions of
deploy/rabbitmq-users.sh, who may publish which command; every command's events, answer and
log lines name its sender."""

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aio_pika
import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from leadgen.broker.base import Outbound
from leadgen.broker.memory import MemoryBroker
from leadgen.store.memory import MemoryStore
from tests.support.harness import running
from tests.support.processes import leadgen, running_worker, worker_env
from tests.support.servers import AMQP_PASSWORD, AMQP_USER, MANAGEMENT_URL, management

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("worker", "billing", "services", "operator")

pytestmark = [pytest.mark.amqp]


@pytest.fixture
def users(amqp_url: str) -> Iterator[dict[str, str]]:
    """The production users of deploy/rabbitmq-users.sh on this test's vhost, plus ``other``:
    a user RabbitMQ lets publish any command, who is not a billing user; their AMQP URLs."""
    parts = urlsplit(amqp_url)
    vhost = parts.path.lstrip("/")
    tag = uuid.uuid4().hex[:8]
    names = {role: f"t-{tag}-{role}" for role in (*ROLES, "other")}
    env = {
        **os.environ,
        "RABBITMQ_API": MANAGEMENT_URL,
        "RABBITMQ_USER": AMQP_USER,
        "RABBITMQ_PASSWORD": AMQP_PASSWORD,
        "LEADGEN_VHOST": vhost,
        **{f"LEADGEN_{role.upper()}_USER": names[role] for role in ROLES},
        **{f"LEADGEN_{role.upper()}_PASSWORD": f"pw-{role}" for role in ROLES},
    }
    done = subprocess.run(
        ["sh", str(ROOT / "deploy" / "rabbitmq-users.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    path = f"/{quote(vhost, safe='')}"
    management("PUT", f"/users/{names['other']}", {"password": "pw-other", "tags": ""})
    management(
        "PUT",
        f"/permissions{path}/{names['other']}",
        {"configure": "^leadgen\\.watch\\..*", "write": ".*", "read": ".*"},
    )
    host = parts.netloc.split("@")[-1]
    try:
        yield {
            role: f"amqp://{names[role]}:pw-{role}@{host}/{quote(vhost, safe='')}" for role in names
        } | {f"{role}_name": names[role] for role in names}
    finally:
        for name in names.values():
            management("DELETE", f"/users/{name}")


@pytest.fixture
def worker(
    users: dict[str, str], mongodb_url: str, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Path]]:
    """A ``leadgen worker`` as the worker user, taking grants from the billing user only."""
    env = worker_env(users["worker"], mongodb_url, LEADGEN_GRANT_USERS=users["billing_name"])
    log = tmp_path / "worker.log"
    with running_worker(env, log):
        yield env, log


def logged(log: Path, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == event]


def as_user(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "LEADGEN_AMQP_URL": url}


@pytest.mark.mongo
def test_only_the_billing_user_grants_credits(
    users: dict[str, str], worker: tuple[dict[str, str], Path]
) -> None:
    """The billing user's grant is applied; another user's grant, with its own valid user_id
    and the broker's leave to publish it, is refused with the sender named and no balance
    change."""
    env, log = worker
    billing = leadgen(
        "credits", "grant", "acme", "dossier_research", "5", env=as_user(env, users["billing"])
    )
    assert billing.returncode == 0, billing.stderr
    assert billing.stdout.startswith("grant ") and "acme has 5 dossier_research" in billing.stdout
    other = leadgen(
        "credits", "grant", "acme", "dossier_research", "7", env=as_user(env, users["other"])
    )
    assert other.returncode == 5
    assert other.stderr.strip().endswith(
        f"refused: grants are not accepted from {users['other_name']}"
    )
    shown = leadgen("credits", "show", "acme", env=env)
    assert "dossier_research        5" in shown.stdout
    [refusal] = logged(log, "command_refused")
    assert refusal["user_id"] == users["other_name"] and refusal["command"] == "credits.grant"
    [granted] = logged(log, "credits_granted")
    assert granted["user_id"] == users["billing_name"]
    assert logged(log, "grants_open") == []  # the list is set: grants are not open


async def test_the_broker_rejects_a_grant_that_claims_another_user(
    users: dict[str, str],
) -> None:
    """A message whose user_id is not its connection's user never reaches leadgen: RabbitMQ
    closes the channel (PRECONDITION_FAILED)."""
    connection = await aio_pika.connect(users["other"])
    async with connection:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed) as refused:
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}", user_id=users["billing_name"]), routing_key="anywhere"
            )
    assert "user_id property set to" in str(refused.value)


@pytest.mark.mongo
def test_topic_permissions_keep_grants_to_billing_and_commands_name_their_sender(
    users: dict[str, str], worker: tuple[dict[str, str], Path]
) -> None:
    """With the production permissions a service may start a job but not grant credits (the
    broker refuses the publish); the job's events, the answer and the log name the sender."""
    env, log = worker
    services = as_user(env, users["services"])
    refused = leadgen("credits", "grant", "acme", "lead_discovery", "1", env=services)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "ACCESS_REFUSED" in line and "leadgen.credits.grant" in line
    started = leadgen(
        "start", "--customer", "acme", "--query", "q", "--job-id", "j-s", env=services
    )
    assert started.returncode == 0, started.stderr
    [job_started] = logged(log, "job_started")
    assert (job_started["user_id"], job_started["app_id"]) == (users["services_name"], "leadgen")


async def test_the_open_default_and_a_closed_list_on_the_embedded_pair() -> None:
    """Without LEADGEN_GRANT_USERS a grant from anyone is applied and the worker warns that
    grants are open; with it, a grant from a user not named is refused, balance unchanged.
    The job.started event names the user and app that sent the start."""
    broker = MemoryBroker()
    with capture_logs() as logs:
        async with running(MemoryStore(), broker, broker) as harness:
            events = broker.bind(c.EVENTS_EXCHANGE, "#")
            await harness.grant("acme", c.LEAD_DISCOVERY, 1)
            start = {"type": "leadgen.start.v1", "customer_id": "acme", "query": "q"}
            await broker.publish(
                c.COMMANDS_EXCHANGE,
                c.START_KEY,
                Outbound(
                    body=json.dumps({**start, "job_id": "job-e"}).encode(),
                    type="",
                    message_id="m-e",
                    app_id="crm",
                    user_id="svc-a",
                ),
            )
            await harness.job_until("job-e", lambda job: job.status != "running")
            published = broker.messages(events)  # the queue goes with the connection
    assert any(line["event"] == "grants_open" for line in logs)
    started = [json.loads(m.body) for m in published if m.routing_key == "job.started"]
    assert [(e["user_id"], e["app_id"]) for e in started] == [("svc-a", "crm")]

    broker = MemoryBroker()
    async with running(MemoryStore(), broker, broker, grant_users="billing") as harness:
        answers = broker.bind(c.EVENTS_EXCHANGE, "command.*")
        await harness.command(
            c.GRANT_KEY,
            {
                "type": "leadgen.credits.grant.v1",
                "customer_id": "acme",
                "feature_id": c.LEAD_DISCOVERY,
                "amount": 3,
                "grant_id": "g-x",
            },
        )
        await harness.until(lambda: broker.messages(answers))
        balances = await harness.store.balances("acme")
        [answer] = [json.loads(m.body) for m in broker.messages(answers)]
    assert answer["reason"] == "grants are not accepted from a sender without user_id"
    assert balances.get(c.LEAD_DISCOVERY, 0) == 0
