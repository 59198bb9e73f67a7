"""The options ``leadgen``'s subcommands share, their value types, and a parser whose
errors are one line.

Each type raises ``ArgumentTypeError`` with what was wrong, which argparse prints as the one
line of a usage error (exit code 2). Each subcommand offers only the settings it uses
(``leadgen status`` has no ``--amqp-url``); a setting given as an option wins over its
``LEADGEN_*`` variable."""

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

from typing_extensions import override

from leadgen.cli import exit_codes
from leadgen.cli.answers import DEFAULT_TIMEOUT
from leadgen.cli.render.leads_export import FORMATS
from leadgen.constants import FEATURES
from leadgen.settings import Settings


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit code 2."""

    @override
    def error(self, message: str) -> NoReturn:
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {message}\n")


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


def settings_options(*names: str) -> Parser:
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


def job_options(parser: argparse.ArgumentParser) -> None:
    """The options of a new job: who it is for and what it looks for."""
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


def follow_option(parser: argparse.ArgumentParser) -> None:
    """--follow of a command that starts a run."""
    parser.add_argument(
        "--follow",
        action="store_true",
        help="show progress until the job pauses or ends (exit 0 completed, 3 paused,"
        " 4 failed or cancelled)",
    )


def answer_options(parser: argparse.ArgumentParser, *, follows: bool = False) -> None:
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


def format_option(parser: argparse.ArgumentParser) -> None:
    """--format of a command that prints leads."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="how to print the leads: table for people (default); json, jsonl or csv for"
        " files and pipes, with progress on stderr",
    )
