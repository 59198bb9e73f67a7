"""The operator's subcommands of ``leadgen``: ``schema`` and ``dead list|replay|purge``.

``add_parsers`` adds them to the parser of leadgen/cli.py, ``run_ops`` runs them once parsed.
``dead`` talks to RabbitMQ as the worker does (same ``LEADGEN_QUEUE_TYPE``: declaring the
topology with another queue type would be refused); the workflow itself is dead_letters.py."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from leadgen import constants as c
from leadgen.broker.dead_letters import DeadLetter, DeadLetterBroker, list_dead, purge, replay
from leadgen.contract.files import write_schemas
from leadgen.settings import Settings
from leadgen.worker.backends import amqp_broker

EXIT_NOT_FOUND = 2  # as `leadgen status` of an unknown job
EXIT_USAGE = 2


def add_parsers(
    subparsers: "argparse._SubParsersAction[Any]", parent: argparse.ArgumentParser
) -> None:
    """Add ``schema`` and ``dead`` to ``subparsers``; ``parent`` holds the settings options."""
    schema = subparsers.add_parser(
        "schema", help="write the JSON Schemas and the AsyncAPI document of the contract"
    )
    schema.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where to write them (docs/)"
    )

    dead = subparsers.add_parser("dead", help=f"inspect, replay or purge {c.DEAD_LETTER_QUEUE}")
    # The parent's class keeps errors to one line (leadgen.cli.Parser) at every level.
    dead_sub = dead.add_subparsers(
        dest="dead_command", required=True, parser_class=type(parent), metavar="list|replay|purge"
    )
    listing = dead_sub.add_parser("list", parents=[parent], help="show dead letters, kept")
    listing.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="show at most N (default 20)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    again = dead_sub.add_parser(
        "replay", parents=[parent], help="republish dead letters where they came from"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "message_id", nargs="?", metavar="MESSAGE_ID", help="the dead letter to replay"
    )
    which.add_argument("--all", dest="every", action="store_true", help="replay every one")
    drop = dead_sub.add_parser("purge", parents=[parent], help="drop every dead letter")
    drop.add_argument("--yes", action="store_true", help="confirm: purged letters are gone")


async def run_ops(
    args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int | None:
    """Run ``schema`` or ``dead``; the exit code, or None for any other subcommand."""
    if args.command == "schema":
        written = write_schemas(args.out)
        print(f"wrote {len(written)} files under {args.out}", file=out)
        return 0
    if args.command != "dead":
        return None
    if args.dead_command == "purge" and not args.yes:
        print(
            f"leadgen: error: purge drops every message of {c.DEAD_LETTER_QUEUE} for good; "
            "add --yes to confirm",
            file=err,
        )
        return EXIT_USAGE
    broker = amqp_broker(settings, "cli")
    await broker.connect()
    try:
        return await _dead(args, broker, out, err)
    finally:
        await broker.close()


async def _dead(
    args: argparse.Namespace, broker: DeadLetterBroker, out: TextIO, err: TextIO
) -> int:
    if args.dead_command == "list":
        total = await broker.message_count(c.DEAD_LETTER_QUEUE)
        letters = await list_dead(broker, args.limit)
        if args.json:
            print(json.dumps([letter.as_json() for letter in letters], indent=2), file=out)
        else:
            print(f"{c.DEAD_LETTER_QUEUE}: {total} message(s), showing {len(letters)}", file=out)
            for letter in letters:
                print(show(letter), file=out)
        return 0
    if args.dead_command == "replay":
        count = await replay(broker, args.message_id, every=args.every)
        if count == 0 and not args.every:
            print(f"leadgen: error: no dead letter with message id {args.message_id}", file=err)
            return EXIT_NOT_FOUND
        print(f"replayed {count} dead letter(s)", file=out)
        return 0
    print(f"purged {await purge(broker)} dead letter(s)", file=out)
    return 0


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


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value
