"""The dead-letter workflow: list without losing, replay where a message came from, purge;
through a running worker on the real services, on both brokers, and from the command line."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.base import Broker, HeaderValue, Outbound
from leadgen.broker.dead_letters import DeadLetterBroker, list_dead, purge, replay
from leadgen.errors import UnroutableMessage
from tests.broker.support import AnyBroker
from tests.support.backends import Backends
from tests.support.harness import running
from tests.support.ops_cli import parse, run_cli

WAIT = 10.0
real = pytest.mark.parametrize("backends", ["real"], indirect=True)

BAD_COMMANDS: list[tuple[str, bytes]] = [
    (c.START_KEY, b"{not json"),
    (c.CANCEL_KEY, b'{"type": "leadgen.explode.v1", "job_id": "j", "customer_id": "c"}'),
    (c.GRANT_KEY, b'{"type": "leadgen.credits.grant.v1", "customer_id": "c", "amount": -5}'),
]


def start_body(job_id: str, customer: str = "cus-dead") -> bytes:
    """A valid start command, as another service would write it."""
    return json.dumps(
        {"type": "leadgen.start.v1", "customer_id": customer, "job_id": job_id, "query": "dentists"}
    ).encode()


async def dead_letter(
    broker: Broker, routing_key: str, body: bytes, queue: str = c.COMMANDS_QUEUE
) -> str:
    """Put a message into leadgen.dead as the worker does it (worker/runner.py); its message id."""
    message_id = uuid.uuid4().hex
    headers: dict[str, HeaderValue] = {
        c.ERROR_HEADER: f"fixture: {routing_key} could not be handled",
        c.QUEUE_HEADER: queue,
        c.ATTEMPTS_HEADER: 3,
    }
    await broker.publish(
        c.DEAD_LETTER_EXCHANGE,
        routing_key,
        Outbound(
            body=body,
            type="",
            message_id=message_id,
            correlation_id=f"corr-{message_id}",
            headers=headers,
        ),
    )
    return message_id


async def dead_count(broker: DeadLetterBroker, expected: int) -> int:
    """The number of dead letters, once it reaches ``expected`` (or the wait ends)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        count = await broker.message_count(c.DEAD_LETTER_QUEUE)
        if count == expected or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.05)


@real
async def test_list_shows_what_the_worker_dead_lettered_and_keeps_it_in_order(
    backends: Backends,
) -> None:
    """Bad commands show with routing key, reason, origin, age and body, and stay queued in
    the same order however often they are listed."""
    async with running(backends.store, backends.broker, backends.client) as harness:
        ids = {await harness.command(key, body): (key, body) for key, body in BAD_COMMANDS}
        client = harness.client
        assert isinstance(client, AmqpBroker)
        assert await dead_count(client, 3) == 3

        first = await list_dead(client, limit=10)
        again = await list_dead(client, limit=10)
        some = await list_dead(client, limit=2)
        remaining = await client.message_count(c.DEAD_LETTER_QUEUE)

    assert {letter.message_id for letter in first} == set(ids)
    for letter in first:
        key, body = ids[str(letter.message_id)]
        assert letter.routing_key == key
        assert letter.queue == c.COMMANDS_QUEUE
        assert letter.reason and "\n" not in letter.reason
        assert letter.age_seconds is not None and letter.age_seconds >= 0
        assert letter.preview == body.decode()
        assert letter.correlation_id == f"corr-{letter.message_id}"
    assert [letter.message_id for letter in again] == [letter.message_id for letter in first]
    assert [letter.message_id for letter in some] == [letter.message_id for letter in first[:2]]
    assert remaining == 3


@real
async def test_replay_of_a_fixed_command_reaches_the_worker_without_dead_letter_headers(
    backends: Backends,
) -> None:
    """A replayed start goes to leadgen.commands with its key, id and correlation, without the
    dead-lettering headers, and the worker then starts the job."""
    client = backends.client
    assert isinstance(client, AmqpBroker)
    await client.connect()
    fixed = await dead_letter(client, c.START_KEY, start_body("job-replayed"))
    assert await dead_count(client, 1) == 1

    assert await replay(client, fixed) == 1

    back = await client.get(c.COMMANDS_QUEUE, timeout=WAIT)
    assert back is not None
    assert (back.exchange, back.routing_key) == (c.COMMANDS_EXCHANGE, c.START_KEY)
    assert (back.message_id, back.correlation_id) == (fixed, f"corr-{fixed}")
    assert not {c.ERROR_HEADER, c.QUEUE_HEADER, c.ATTEMPTS_HEADER} & set(back.headers)
    await back.requeue()
    assert await client.message_count(c.DEAD_LETTER_QUEUE) == 0
    async with running(backends.store, backends.broker, client) as harness:
        job = await harness.job_until("job-replayed", lambda job: job.status != "running")
    assert job.status == "paused_for_upgrade"  # started, then paused: the customer has no credits


async def test_replay_all_returns_commands_to_their_exchange_and_internal_messages_to_their_queue(
    broker: AnyBroker,
) -> None:
    """``replay --all`` sends a command back through leadgen.commands and an internal message
    straight to the queue it was taken from, and empties leadgen.dead."""
    command = await dead_letter(broker, c.GRANT_KEY, b'{"type": "leadgen.credits.grant.v1"}')
    task_queue = c.phase_queue(c.SOURCE)
    task = await dead_letter(broker, c.phase_key(c.SOURCE), b'{"phase": "source"}', task_queue)
    assert await dead_count(broker, 2) == 2

    assert await replay(broker, every=True) == 2

    assert await broker.message_count(c.DEAD_LETTER_QUEUE) == 0
    in_commands = await broker.get(c.COMMANDS_QUEUE, timeout=WAIT)
    in_tasks = await broker.get(task_queue, timeout=WAIT)
    assert in_commands is not None and in_commands.message_id == command
    assert in_tasks is not None and in_tasks.message_id == task
    assert in_tasks.routing_key == task_queue  # through the default exchange
    await in_commands.ack()
    await in_tasks.ack()


async def test_replay_of_an_unknown_id_changes_nothing(broker: AnyBroker) -> None:
    """Replaying an id that is not there replays nothing and keeps the others in order."""
    ids = [await dead_letter(broker, c.START_KEY, start_body(f"job-{n}")) for n in range(3)]
    assert await dead_count(broker, 3) == 3

    assert await replay(broker, "no-such-id") == 0

    assert [letter.message_id for letter in await list_dead(broker, 10)] == ids


async def test_replay_of_one_leaves_the_others_in_order(broker: AnyBroker) -> None:
    """Replaying the middle dead letter takes only it; the others keep their order."""
    ids = [await dead_letter(broker, c.START_KEY, start_body(f"job-{n}")) for n in range(3)]
    assert await dead_count(broker, 3) == 3

    assert await replay(broker, ids[1]) == 1

    assert [letter.message_id for letter in await list_dead(broker, 10)] == [ids[0], ids[2]]


async def test_purge_empties_the_dead_letter_queue(broker: AnyBroker) -> None:
    """``purge`` drops every dead letter and says how many."""
    for n in range(2):
        await dead_letter(broker, c.START_KEY, start_body(f"job-{n}"))
    assert await dead_count(broker, 2) == 2

    assert await purge(broker) == 2

    assert await broker.message_count(c.DEAD_LETTER_QUEUE) == 0
    assert await list_dead(broker) == []


async def test_replay_to_a_destination_that_takes_it_no_more_raises_and_keeps_it(
    broker: AnyBroker,
) -> None:
    """A dead command whose routing key no binding takes any more is not lost on replay: the
    replay raises UnroutableMessage and every dead letter stays, in order."""
    ids = [
        await dead_letter(broker, c.START_KEY, start_body("job-first")),
        await dead_letter(broker, "elsewhere.start", start_body("job-stray")),
        await dead_letter(broker, c.START_KEY, start_body("job-last")),
    ]
    assert await dead_count(broker, 3) == 3

    with pytest.raises(UnroutableMessage):
        await replay(broker, ids[1])

    assert [letter.message_id for letter in await list_dead(broker, 10)] == ids
    assert await broker.message_count(c.COMMANDS_QUEUE) == 0


def death(queue: str, reason: str, routing_key: str) -> dict[str, HeaderValue]:
    """An ``x-death`` entry as RabbitMQ writes it when it dead-letters a message."""
    return {
        "count": 1,
        "exchange": "",
        "queue": queue,
        "reason": reason,
        "routing-keys": [routing_key],
        "time": datetime(2026, 1, 1, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("published_with", "headers", "original"),
    [
        # A retried copy (default exchange, key = queue name) RabbitMQ then dead-lettered.
        (
            c.COMMANDS_QUEUE,
            {
                c.ROUTING_KEY_HEADER: c.CANCEL_KEY,
                "x-death": [death(c.COMMANDS_QUEUE, "delivery_limit", c.COMMANDS_QUEUE)],
            },
            c.CANCEL_KEY,
        ),
        # Dead-lettered by RabbitMQ under another key than it was published with.
        (
            "dead.key",
            {"x-death": [death(c.COMMANDS_QUEUE, "expired", c.RESUME_KEY)]},
            c.RESUME_KEY,
        ),
        # Nothing says otherwise: the key it arrived with.
        (c.GRANT_KEY, {c.ERROR_HEADER: "bad", c.QUEUE_HEADER: c.COMMANDS_QUEUE}, c.GRANT_KEY),
    ],
    ids=["header", "x-death", "delivery"],
)
async def test_original_routing_key_comes_from_the_header_then_x_death_then_the_delivery(
    broker: AnyBroker, published_with: str, headers: dict[str, HeaderValue], original: str
) -> None:
    """A dead command is listed and replayed with its original routing key: the header leadgen
    keeps on retried copies first, then RabbitMQ's x-death, then its own routing key; the
    replayed copy has none of those headers."""
    await broker.publish(
        c.DEAD_LETTER_EXCHANGE,
        published_with,
        Outbound(body=b"{}", type="", message_id="m-original", headers=headers),
    )
    assert await dead_count(broker, 1) == 1

    [letter] = await list_dead(broker)
    assert (letter.routing_key, letter.queue) == (original, c.COMMANDS_QUEUE)
    assert await replay(broker, "m-original") == 1
    back = await broker.get(c.COMMANDS_QUEUE, timeout=WAIT)
    assert back is not None
    assert (back.exchange, back.routing_key) == (c.COMMANDS_EXCHANGE, original)
    assert not {c.ROUTING_KEY_HEADER, "x-death", c.ERROR_HEADER} & set(back.headers)
    await back.ack()


async def test_cli_purge_without_yes_is_refused_in_one_line() -> None:
    """``dead purge`` without ``--yes`` prints one error line and exits 2, touching nothing."""
    code, out, err = await run_cli("dead", "purge")

    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "--yes" in err


@pytest.mark.parametrize("argv", [["dead", "replay"], ["dead", "replay", "m-1", "--all"]], ids=repr)
def test_cli_replay_needs_exactly_one_of_an_id_and_all(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``dead replay`` with neither or both of MESSAGE_ID and --all is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as exited:
        parse(*argv)

    assert exited.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


async def test_cli_lists_replays_and_purges_on_the_real_broker(
    amqp_broker: AmqpBroker, amqp_url: str
) -> None:
    """``dead list`` (plain and --json), ``dead replay ID`` and ``dead purge --yes`` work
    against RabbitMQ and report what they did."""
    first = await dead_letter(amqp_broker, c.START_KEY, start_body("job-cli-1"))
    await dead_letter(amqp_broker, c.START_KEY, start_body("job-cli-2"))
    assert await dead_count(amqp_broker, 2) == 2

    listed = await run_cli("dead", "list", "--amqp-url", amqp_url)
    as_json = await run_cli("dead", "list", "--json", "--limit", "1", "--amqp-url", amqp_url)
    missing = await run_cli("dead", "replay", "nope", "--amqp-url", amqp_url)
    replayed = await run_cli("dead", "replay", first, "--amqp-url", amqp_url)
    purged = await run_cli("dead", "purge", "--yes", "--amqp-url", amqp_url)

    assert listed[0] == 0 and "2 message(s)" in listed[1] and "fixture: leadgen.start" in listed[1]
    assert as_json[0] == 0
    assert [entry["message_id"] for entry in json.loads(as_json[1])] == [first]
    assert missing[0] == 2 and "nope" in missing[2]  # not found, as for `leadgen status`
    assert replayed[:2] == (0, "replayed 1 dead letter(s)\n")
    assert purged[:2] == (0, "purged 1 dead letter(s)\n")
    assert await amqp_broker.message_count(c.COMMANDS_QUEUE) == 1
