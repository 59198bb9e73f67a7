"""The ``leadgen`` command line (contract section 6).

Bad arguments print one line on stderr and exit 2; so does any error leadgen can explain."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from pydantic import ValidationError

from leadgen.bench import SIZES
from leadgen.cli_answers import DEFAULT_TIMEOUT, EXIT_NO_ANSWER, NoAnswer
from leadgen.cli_ops import add_parsers
from leadgen.constants import FEATURES
from leadgen.errors import BrokerUnavailable, LeadgenError, StoreUnavailable
from leadgen.leads_export import FORMATS
from leadgen.log import configure_logging, log
from leadgen.settings import Settings

SETTING_OPTIONS = (
    "amqp_url",
    "mongodb_url",
    "mongodb_db",
    "log_format",
    "log_level",
    "http_port",
    "lead_source",
    "auditor",
)


# Shorter spellings people reach for first.
ALIASES = {"lead_source": ("--source",)}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive(text: str) -> int:
    """An int greater than zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value


def sizes(text: str) -> tuple[int, ...]:
    """A comma-separated list of job sizes (leads, 1..1000)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values or any(not 1 <= v <= 1000 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be 1..1000: {text!r}")
    return values


def credit(text: str) -> tuple[str, int]:
    """A ``FEATURE=N`` pair."""
    feature, _, amount = text.partition("=")
    if feature not in FEATURES or not amount.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected FEATURE=N with FEATURE one of {', '.join(FEATURES)}: {text!r}"
        )
    return feature, int(amount)


def _settings_parent() -> Parser:
    parent = Parser(add_help=False)
    group = parent.add_argument_group("settings (default: LEADGEN_* environment variables)")
    for name in SETTING_OPTIONS:
        options = ["--" + name.replace("_", "-"), *ALIASES.get(name, ())]
        kind = int if name == "http_port" else str
        group.add_argument(*options, dest=name, type=kind, default=None, metavar=name.upper())
    return parent


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--location")
    parser.add_argument("--max-leads", type=int, default=25)
    parser.add_argument("--max-dossiers", type=int, default=10)
    parser.add_argument("--job-id")


def _answer_options(parser: argparse.ArgumentParser, *, follows: bool = False) -> None:
    """--timeout and --no-wait of a command the worker answers."""
    waits = "for the worker's answer" + (
        " and, with --follow, for the job to progress" if follows else ""
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait {waits} (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="publish and return without waiting for the answer",
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="how to print the leads: table for people (default), json, jsonl or csv for"
        " files and pipes (progress then goes to stderr)",
    )


def positive_seconds(text: str) -> float:
    """A number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value


def build_parser() -> Parser:
    """The parser of every subcommand."""
    parent = _settings_parent()
    parser = Parser(prog="leadgen", description="Lead-generation jobs as durable workflows.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    worker = sub.add_parser("worker", parents=[parent], help="run every actor until SIGTERM")
    worker.add_argument(
        "--grace", type=float, default=30.0, help="seconds to finish in-flight work"
    )

    start = sub.add_parser("start", parents=[parent], help="start a job")
    _job_options(start)
    start.add_argument("--follow", action="store_true")
    _answer_options(start, follows=True)

    resume = sub.add_parser("resume", parents=[parent], help="resume a paused job")
    resume.add_argument("job_id", metavar="JOB")
    resume.add_argument("--customer", required=True)
    resume.add_argument("--follow", action="store_true")
    _answer_options(resume, follows=True)

    cancel = sub.add_parser("cancel", parents=[parent], help="cancel a job")
    cancel.add_argument("job_id", metavar="JOB")
    cancel.add_argument("--customer", required=True)
    cancel.add_argument("--reason")
    _answer_options(cancel)

    status = sub.add_parser("status", parents=[parent], help="show a job")
    status.add_argument("job_id", metavar="JOB")
    status.add_argument("--json", action="store_true")

    leads = sub.add_parser("leads", parents=[parent], help="show a job's leads and dossiers")
    leads.add_argument("job_id", metavar="JOB")
    _format_option(leads)

    credits = sub.add_parser("credits", help="top up or show credit balances")
    credits_sub = credits.add_subparsers(dest="credits_command", required=True, parser_class=Parser)
    grant = credits_sub.add_parser("grant", parents=[parent], help="top up a balance")
    grant.add_argument("customer", metavar="C")
    grant.add_argument("feature", metavar="FEATURE", choices=FEATURES)
    grant.add_argument("amount", metavar="AMOUNT", type=positive)
    grant.add_argument("--grant-id")
    grant.add_argument("--no-auto-resume", dest="auto_resume", action="store_false")
    _answer_options(grant)
    show = credits_sub.add_parser("show", parents=[parent], help="show balances")
    show.add_argument("customer", metavar="C")

    run = sub.add_parser("run", parents=[parent], help="run one job in-process (no services)")
    _job_options(run)
    run.add_argument("--credits", type=credit, action="append", metavar="FEATURE=N")
    _format_option(run)
    bench = sub.add_parser(
        "bench", parents=[parent], help="measure leadgen against a plain aio-pika chain"
    )
    bench.add_argument("--jobs", type=positive, default=50, help="jobs per round (default 50)")
    bench.add_argument("--rounds", type=positive, default=3, help="rounds of each (default 3)")
    bench.add_argument("--leads", type=positive, default=25, help="leads per job (default 25)")
    bench.add_argument("--dossiers", type=int, default=10, help="dossiers per job (default 10)")
    bench.add_argument(
        "--sizes", type=sizes, default=SIZES, metavar="N,N,...", help="leads of the scaling jobs"
    )
    bench.add_argument(
        "--rss-jobs",
        type=positive,
        default=5000,
        metavar="N",
        help="jobs over which the worker's memory is sampled (default 5000)",
    )
    bench.add_argument(
        "--mongodb", action="store_true", help="also count MongoDB commands (--mongodb-url)"
    )
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_parsers(sub, parent)  # schema, dead
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the options given."""
    given = {
        name: getattr(args, name)
        for name in SETTING_OPTIONS
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``leadgen`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        parser.error(_first_error(exc))
    configure_logging(settings.log_format, settings.log_level)
    if args.command != "worker":
        # A client command reports a connection failure in its own one line.
        for name in ("aio_pika", "aiormq"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    sys.exit(_run(args, settings))


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed command; its exit code, any error told in one line on stderr."""
    from leadgen.cli_commands import run_command

    try:
        return asyncio.run(run_command(args, settings))
    except KeyboardInterrupt:
        # Ctrl-C is the user's own doing: exit as shells expect, without a traceback.
        return 130
    except BrokenPipeError:
        # The reader left (``leadgen status J | head``): point stdout at /dev/null so the
        # final flush cannot fail again, and exit as a process killed by SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        # A worker's crash keeps its traceback for the operator, as does --log-level debug.
        unexpected = not isinstance(exc, LeadgenError | ValidationError | ValueError)
        if unexpected and (args.command == "worker" or settings.log_level.lower() == "debug"):
            raise
        message, code = _explained(exc, settings)
        # A worker logging JSON keeps every line JSON, its last words too.
        if args.command == "worker" and settings.log_format == "json":
            log.error("worker_failed", reason=message)
        else:
            print(f"leadgen: error: {message}", file=sys.stderr)
        return code


def _explained(exc: Exception, settings: Settings) -> tuple[str, int]:
    """The one line that tells the user what went wrong, and the exit code."""
    from leadgen.follow import NoProgress

    if isinstance(exc, NoAnswer | NoProgress):
        return str(exc), EXIT_NO_ANSWER
    if isinstance(exc, StoreUnavailable):
        return f"MongoDB at {settings.mongodb_url}: {_short(exc)}", 1
    if isinstance(exc, BrokerUnavailable):
        return f"RabbitMQ at {_redacted(settings.amqp_url)}: {_short(exc)}", 1
    if isinstance(exc, ValidationError):
        return _first_error(exc), 2
    if isinstance(exc, LeadgenError | ValueError):
        return str(exc), 1 if isinstance(exc, LeadgenError) else 2
    return f"unexpected {type(exc).__name__}: {_short(exc)} (--log-level debug shows where)", 1


def _short(exc: Exception) -> str:
    """The first clause of a driver's error: enough to act on, short enough to read."""
    text = str(exc)
    for tail in (" (configured", ", Timeout:", "\n"):
        text = text.split(tail)[0]
    return text[:200]


def _redacted(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _first_error(exc: ValidationError) -> str:
    err: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
