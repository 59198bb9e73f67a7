"""The operator's subcommands: ``leadgen schema`` and ``leadgen dead list|replay|purge``.

``dead`` talks to RabbitMQ as the worker does (same ``LEADGEN_QUEUE_TYPE``: declaring the
topology with another queue type would be refused); what it does to the dead letters is
broker/dead_letters.py."""

import argparse
import json

from leadgen import constants as c
from leadgen.broker.dead_letters import DeadLetter, list_dead, purge, replay
from leadgen.cli import exit_codes
from leadgen.cli.terminal import Terminal
from leadgen.contract.files import write_schemas
from leadgen.settings import Settings
from leadgen.worker.backends import connected_broker


async def schema(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Write the JSON Schemas and the AsyncAPI document under ``--out``."""
    written = write_schemas(args.out)
    print(f"wrote {len(written)} files under {args.out}", file=term.out)
    return exit_codes.OK


async def dead_list(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Show the oldest dead letters (kept in the queue), or print them as JSON."""
    async with connected_broker(settings, "cli") as broker:
        total = await broker.message_count(c.DEAD_LETTER_QUEUE)
        letters = await list_dead(broker, args.limit)
    if args.json:
        print(json.dumps([letter.as_json() for letter in letters], indent=2), file=term.out)
        return exit_codes.OK
    print(f"{c.DEAD_LETTER_QUEUE}: {total} message(s), showing {len(letters)}", file=term.out)
    for letter in letters:
        print(show(letter), file=term.out)
    return exit_codes.OK


async def dead_replay(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Republish one dead letter (or ``--all``) where it came from."""
    async with connected_broker(settings, "cli") as broker:
        count = await replay(broker, args.message_id, every=args.every)
    if count == 0 and not args.every:
        term.error(f"error: no dead letter with message id {args.message_id}")
        return exit_codes.NOT_FOUND
    print(f"replayed {count} dead letter(s)", file=term.out)
    return exit_codes.OK


async def dead_purge(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Drop every dead letter, once confirmed with ``--yes``."""
    if not args.yes:
        term.error(
            f"error: purge drops every message of {c.DEAD_LETTER_QUEUE} for good; "
            "add --yes to confirm"
        )
        return exit_codes.USAGE
    async with connected_broker(settings, "cli") as broker:
        count = await purge(broker)
    print(f"purged {count} dead letter(s)", file=term.out)
    return exit_codes.OK


def show(letter: DeadLetter) -> str:
    """A dead letter as three lines for people."""
    origin = f" from {letter.queue}" if letter.queue else ""
    return (
        f"{_age(letter.age_seconds):>5}  {letter.routing_key}{origin}  "
        f"id {letter.message_id or '-'}\n"
        f"       reason: {letter.reason}\n"
        f"       body: {letter.preview}"
    )


def _age(seconds: float | None) -> str:
    """``seconds`` in the largest unit that fits: 42s, 5m, 3h, 2d."""
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
