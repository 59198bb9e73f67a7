"""Bad commands are dead-lettered with their reason, unchanged, and the worker goes on
serving the next valid command (contract sections 2 and 5)."""

import pytest
from structlog.testing import capture_logs

from leadgen import constants as c
from tests.support.backends import Backends
from tests.support.harness import running

BAD = [
    (c.START_KEY, b"{not json", "Invalid JSON"),
    (
        c.START_KEY,
        b'{"type": "leadgen.explode.v1", "customer_id": "x"}',
        "does not match any of the expected tags",
    ),
    (c.START_KEY, b'{"type": "leadgen.start.v1", "customer_id": "acme"}', "query"),
    (c.RESUME_KEY, b'{"type": "leadgen.resume.v1", "customer_id": "acme"}', "job_id"),
    (
        c.START_KEY,
        b'{"type": "leadgen.start.v1", "customer_id": "acme", "query": "x", "max_leads": 0}',
        "max_leads",
    ),
    (
        c.GRANT_KEY,
        b'{"type": "leadgen.credits.grant.v1", "customer_id": "a", "feature_id": "gold", '
        b'"amount": 1, "grant_id": "g"}',
        "feature_id",
    ),
    (
        c.CANCEL_KEY,
        b'{"type": "leadgen.start.v1", "customer_id": "acme", "query": "x"}',
        "does not match routing key",
    ),
    (c.START_KEY, b"\xff\xfe", "Invalid JSON"),
    (c.START_KEY, b"[]", "body"),
]


@pytest.mark.parametrize(
    ("routing_key", "body", "reason"), BAD, ids=[b[2] + str(i) for i, b in enumerate(BAD)]
)
async def test_bad_command_is_dead_lettered(
    backends: Backends, routing_key: str, body: bytes, reason: str
) -> None:
    """The message lands in ``leadgen.dead`` as sent, with a reason naming what is wrong."""
    with capture_logs() as logs:
        async with running(backends.store, backends.broker, backends.client) as harness:
            message_id = await harness.command(routing_key, body)
            dead = await harness.client.get(c.DEAD_LETTER_QUEUE, timeout=10)  # type: ignore[attr-defined]
            assert dead is not None
            await dead.ack()
            await harness.start("acme", "job-after")
            job = await harness.job_until(
                "job-after", lambda job: job.status == "paused_for_upgrade"
            )
    assert dead.body == body
    assert dead.routing_key == routing_key
    assert dead.message_id == message_id
    assert reason in str(dead.headers[c.ERROR_HEADER])
    assert "\n" not in str(dead.headers[c.ERROR_HEADER])
    rejected = [e for e in logs if e["event"] == "message_rejected"]
    assert [e["queue"] for e in rejected] == [c.COMMANDS_QUEUE]
    assert job.billing_block is not None  # the next valid command was served


async def test_worker_survives_a_burst_of_bad_commands(backends: Backends) -> None:
    """Every bad message of a burst is dead-lettered; a valid one after them still runs."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        for routing_key, body, _ in BAD:
            await harness.command(routing_key, body)
        await harness.start("acme", "job-after")
        await harness.job_until("job-after", lambda job: job.status == "paused_for_upgrade")
        reasons = []
        for _ in BAD:
            dead = await harness.client.get(c.DEAD_LETTER_QUEUE, timeout=10)  # type: ignore[attr-defined]
            assert dead is not None
            reasons.append(dead.headers[c.ERROR_HEADER])
            await dead.ack()
    assert len(reasons) == len(BAD)
    assert all(isinstance(reason, str) and reason for reason in reasons)  # readable by any client
