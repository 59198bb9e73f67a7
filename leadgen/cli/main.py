"""The ``leadgen`` console script: parse, build the settings, run the subcommand's handler,
and turn whatever went wrong into one line and an exit code (docs/contract.md, section 6)."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from pydantic import ValidationError

from leadgen.cli import exit_codes
from leadgen.cli.answers import NoAnswer
from leadgen.cli.follow import NoProgress
from leadgen.cli.options import SETTING_OPTIONS
from leadgen.cli.parser import build_parser
from leadgen.cli.terminal import Terminal
from leadgen.errors import BrokerUnavailable, LeadgenError, StoreUnavailable
from leadgen.log import configure_logging, log
from leadgen.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the options given.

    A bad value of a setting this command does not use is left out (``LEADGEN_HTTP_PORT=abc``
    does not stop ``leadgen status``); a bad value of one it uses raises ``SettingError``
    naming the option or the variable it came from."""
    given = {
        name: getattr(args, name)
        for name in SETTING_OPTIONS
        if getattr(args, name, None) is not None
    }
    ignored: dict[str, Any] = {}
    while True:
        try:
            return Settings(**{**ignored, **given})
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else ""
            if name and name not in given and not _uses(args, name) and name not in ignored:
                ignored[name] = Settings.model_fields[name].get_default(call_default_factory=True)
                continue
            source = "--" + name.replace("_", "-") if name in given else f"LEADGEN_{name.upper()}"
            raise SettingError(f"{source}: {error['msg']}") from None


class SettingError(LeadgenError):
    """Raised when a setting the command uses has a value leadgen cannot take."""


def _uses(args: argparse.Namespace, name: str) -> bool:
    """True when the parsed command takes setting ``name`` (the worker takes every one)."""
    return args.command == "worker" or hasattr(args, name)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``leadgen`` console script."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.error(f"a command is required: {', '.join(commands(parser))} (--help tells more)")
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except SettingError as exc:
        parser.error(str(exc))
    configure_logging(settings.log_format, settings.log_level)
    if args.command != "worker":
        # A client command reports a connection failure in its own one line.
        for name in ("aio_pika", "aiormq"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    sys.exit(_run(args, settings))


def commands(parser: argparse.ArgumentParser) -> list[str]:
    """The subcommands of ``parser``, in the order of its help."""
    return [
        name
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]


async def run_command(
    args: argparse.Namespace,
    settings: Settings,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the parsed subcommand's handler, writing to ``out`` and ``err`` (stdout, stderr);
    its exit code."""
    return int(await args.handler(args, settings, Terminal.of(args, out, err)))


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed command; its exit code, any error told in one line on stderr."""
    try:
        return asyncio.run(run_command(args, settings))
    except KeyboardInterrupt:
        # Ctrl-C is the user's own doing: exit as shells expect, without a traceback.
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # The reader left (``leadgen status J | head``): point stdout at /dev/null so the
        # final flush cannot fail again, and exit as a process killed by SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.BROKEN_PIPE
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
    if isinstance(exc, NoAnswer | NoProgress):
        return str(exc), exit_codes.NO_ANSWER
    if isinstance(exc, StoreUnavailable):
        return f"MongoDB at {settings.mongodb_url}: {_short(exc)}", exit_codes.FAILURE
    if isinstance(exc, BrokerUnavailable):
        return f"RabbitMQ at {_redacted(settings.amqp_url)}: {_short(exc)}", exit_codes.FAILURE
    if isinstance(exc, ValidationError):
        return _first_error(exc), exit_codes.USAGE
    if isinstance(exc, LeadgenError | ValueError):
        failure = isinstance(exc, LeadgenError)
        return str(exc), exit_codes.FAILURE if failure else exit_codes.USAGE
    return (
        f"unexpected {type(exc).__name__}: {_short(exc)} (--log-level debug shows where)",
        exit_codes.FAILURE,
    )


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


# The option (or argument) of each command field, so that errors speak of what was typed.
OPTION_OF_FIELD = {
    "customer_id": "--customer",
    "query": "--query",
    "location": "--location",
    "max_leads": "--max-leads",
    "max_dossiers": "--max-dossiers",
    "job_id": "JOB",
    "reason": "--reason",
    "feature_id": "FEATURE",
    "amount": "AMOUNT",
    "grant_id": "--grant-id",
}


def _first_error(exc: ValidationError) -> str:
    err: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(p) for p in err["loc"])
    where = OPTION_OF_FIELD.get(where, where)
    return f"{where}: {err['msg']}" if where else str(err["msg"])
