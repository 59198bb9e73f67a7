"""The arguments of ``leadgen`` and of each subcommand (contract section 6).

Every option has a help line with its default. Each subcommand offers only the settings it
uses (``leadgen status`` has no ``--amqp-url``); a setting given as an option wins over its
``LEADGEN_*`` variable. Errors are one line and exit code 2."""

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

from leadgen.bench import SIZES
from leadgen.cli.answers import DEFAULT_TIMEOUT
from leadgen.cli.ops import add_parsers
from leadgen.cli.render.leads_export import FORMATS
from leadgen.constants import FEATURES
from leadgen.settings import Settings

# Each setting a subcommand may take as an option: what it is, for the help line.
SETTING_HELP = {
    "amqp_url": "RabbitMQ URL",
    "mongodb_url": "MongoDB URL",
    "mongodb_db": "MongoDB database",
    "log_format": "log lines as json or console",
    "log_level": "debug, info, warning or error",
    "http_port": "port of /healthz, /readyz and /metrics (0: none)",
    "lead_source": "where leads come from: offline, file:PATH or osm",
    "auditor": "who writes the dossiers: offline or website",
}
SETTING_OPTIONS = tuple(SETTING_HELP)
# Shorter spellings people reach for first.
ALIASES = {"lead_source": ("--source",)}

AMQP, MONGODB, LOGS = ("amqp_url",), ("mongodb_url", "mongodb_db"), ("log_format", "log_level")
PROVIDERS = ("lead_source", "auditor")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def package_version() -> str:
    """The installed version of leadgen."""
    try:
        return version("leadgen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def positive(text: str) -> int:
    """An int greater than zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value


def bounded(low: int, high: int) -> Any:
    """The type of an int option that must lie in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}: {text}")
        return value

    return parse


def positive_seconds(text: str) -> float:
    """A number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
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


def _settings(*names: str) -> Parser:
    """A parent parser with the settings ``names`` as options."""
    parent = Parser(add_help=False)
    if not names:
        return parent
    group = parent.add_argument_group("settings (an option wins over its LEADGEN_* variable)")
    for name in names:
        options = ["--" + name.replace("_", "-"), *ALIASES.get(name, ())]
        field = Settings.model_fields[name]
        default = "json off a terminal, else console" if name == "log_format" else field.default
        group.add_argument(
            *options,
            dest=name,
            type=int if name == "http_port" else str,
            default=None,
            metavar=name.split("_")[-1].upper(),
            help=f"{SETTING_HELP[name]} (default: $LEADGEN_{name.upper()} or {default})",
        )
    return parent


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer the job is for")
    parser.add_argument("--query", required=True, help='what to look for, e.g. "dentists"')
    parser.add_argument("--location", help='where, e.g. "Austin, TX" (default: anywhere)')
    parser.add_argument(
        "--max-leads", type=bounded(1, 1000), default=25, metavar="N", help="1..1000 (default 25)"
    )
    parser.add_argument(
        "--max-dossiers",
        type=bounded(0, 1000),
        default=10,
        metavar="N",
        help="dossiers on the best leads, 0..1000 (default 10)",
    )
    parser.add_argument("--job-id", metavar="JOB", help="the job's id (default: a new one)")


def _follow_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow",
        action="store_true",
        help="show progress until the job pauses or ends (exit 0 completed, 3 paused,"
        " 4 failed or cancelled)",
    )


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
        help="how to print the leads: table for people (default); json, jsonl or csv for"
        " files and pipes, with progress on stderr",
    )


def build_parser() -> Parser:
    """The parser of every subcommand."""
    parser = Parser(prog="leadgen", description="Lead-generation jobs as durable workflows.")
    parser.add_argument("-V", "--version", action="version", version=f"leadgen {package_version()}")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    _worker_parser(sub)
    _job_parsers(sub)
    _read_parsers(sub)
    _credits_parser(sub)
    _run_parsers(sub)
    add_parsers(sub, _settings(*AMQP, *LOGS))  # schema, dead
    return parser


def _worker_parser(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        parents=[_settings(*AMQP, *MONGODB, *LOGS, "http_port", *PROVIDERS)],
        help="run every actor until SIGINT/SIGTERM",
    )
    worker.add_argument(
        "--grace",
        type=positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long in-flight work may finish on shutdown (default 30)",
    )


def _job_parsers(sub: Any) -> None:
    with_store = _settings(*AMQP, *MONGODB, *LOGS)
    start = sub.add_parser("start", parents=[with_store], help="start a job")
    _job_options(start)
    _follow_option(start)
    _answer_options(start, follows=True)

    resume = sub.add_parser("resume", parents=[with_store], help="resume a paused job")
    resume.add_argument("job_id", metavar="JOB", help="the paused job")
    resume.add_argument("--customer", required=True, help="the job's owner")
    _follow_option(resume)
    _answer_options(resume, follows=True)

    cancel = sub.add_parser("cancel", parents=[_settings(*AMQP, *LOGS)], help="cancel a job")
    cancel.add_argument("job_id", metavar="JOB", help="the running or paused job")
    cancel.add_argument("--customer", required=True, help="the job's owner")
    cancel.add_argument("--reason", help="why, kept with the job and its event")
    _answer_options(cancel)


def _read_parsers(sub: Any) -> None:
    reads = _settings(*MONGODB, *LOGS)
    status = sub.add_parser("status", parents=[reads], help="show a job")
    status.add_argument("job_id", metavar="JOB", help="the job")
    status.add_argument("--json", action="store_true", help="print the job document as JSON")

    leads = sub.add_parser("leads", parents=[reads], help="show a job's leads and dossiers")
    leads.add_argument("job_id", metavar="JOB", help="the job")
    _format_option(leads)


def _credits_parser(sub: Any) -> None:
    credits = sub.add_parser("credits", help="top up or show credit balances")
    credits_sub = credits.add_subparsers(
        dest="credits_command", required=True, parser_class=Parser, metavar="grant|show"
    )
    grant = credits_sub.add_parser(
        "grant", parents=[_settings(*AMQP, *LOGS)], help="top up a balance"
    )
    grant.add_argument("customer", metavar="C", help="the customer")
    grant.add_argument("feature", metavar="FEATURE", choices=FEATURES, help=" or ".join(FEATURES))
    grant.add_argument("amount", metavar="AMOUNT", type=positive, help="credits to add (> 0)")
    grant.add_argument(
        "--grant-id", metavar="ID", help="idempotency key: a grant id is applied once"
    )
    grant.add_argument(
        "--no-auto-resume",
        dest="auto_resume",
        action="store_false",
        help="leave the customer's jobs paused on FEATURE paused (default: resume them)",
    )
    _answer_options(grant)
    show = credits_sub.add_parser(
        "show", parents=[_settings(*MONGODB, *LOGS)], help="show balances"
    )
    show.add_argument("customer", metavar="C", help="the customer")


def _run_parsers(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        parents=[_settings(*LOGS, *PROVIDERS)],
        help="run one job in this process (no RabbitMQ, no MongoDB)",
    )
    _job_options(run)
    run.add_argument(
        "--credits",
        type=credit,
        action="append",
        metavar="FEATURE=N",
        help="the customer's credits, repeatable (default: what the request needs)",
    )
    _format_option(run)

    bench = sub.add_parser(
        "bench",
        parents=[_settings(*AMQP, *MONGODB, *LOGS)],
        help="measure leadgen against a plain aio-pika chain",
    )
    bench.add_argument("--jobs", type=positive, default=50, help="jobs per round (default 50)")
    bench.add_argument("--rounds", type=positive, default=3, help="rounds of each (default 3)")
    bench.add_argument("--leads", type=positive, default=25, help="leads per job (default 25)")
    bench.add_argument(
        "--dossiers", type=bounded(0, 1000), default=10, help="dossiers per job (default 10)"
    )
    bench.add_argument(
        "--sizes",
        type=sizes,
        default=SIZES,
        metavar="N,N,...",
        help=f"leads of the scaling jobs (default {','.join(map(str, SIZES))})",
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
