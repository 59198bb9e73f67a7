"""The arguments of ``leadgen`` and of each subcommand, and the handler each one runs
(docs/contract.md, section 6).

Every leaf subcommand sets ``handler``: an async function of the parsed arguments, the
settings and the terminal, returning the exit code (exit_codes.py). Every option has a help
line with its default; errors are one line and exit code 2."""

from pathlib import Path
from typing import Any

from leadgen import constants as c
from leadgen.bench import SIZES
from leadgen.cli import credits, jobs, ops, reads, run, worker
from leadgen.cli.options import (
    AMQP,
    LOGS,
    MONGODB,
    PROVIDERS,
    Parser,
    answer_options,
    bounded,
    credit,
    follow_option,
    format_option,
    job_options,
    package_version,
    positive,
    positive_seconds,
    settings_options,
    sizes,
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
    _ops_parsers(sub)
    return parser


def _worker_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "worker",
        parents=[settings_options(*AMQP, *MONGODB, *LOGS, "http_port", *PROVIDERS)],
        help="run every actor until SIGINT/SIGTERM",
    )
    parser.set_defaults(handler=worker.worker)
    parser.add_argument(
        "--grace",
        type=positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long in-flight work may finish on shutdown (default 30)",
    )


def _job_parsers(sub: Any) -> None:
    with_store = settings_options(*AMQP, *MONGODB, *LOGS)
    start = sub.add_parser("start", parents=[with_store], help="start a job")
    start.set_defaults(handler=jobs.start)
    job_options(start)
    follow_option(start)
    answer_options(start, follows=True)

    resume = sub.add_parser("resume", parents=[with_store], help="resume a paused job")
    resume.set_defaults(handler=jobs.resume)
    resume.add_argument("job_id", metavar="JOB", help="the paused job")
    resume.add_argument("--customer", required=True, help="the job's owner")
    follow_option(resume)
    answer_options(resume, follows=True)

    cancel = sub.add_parser("cancel", parents=[settings_options(*AMQP, *LOGS)], help="cancel a job")
    cancel.set_defaults(handler=jobs.cancel)
    cancel.add_argument("job_id", metavar="JOB", help="the running or paused job")
    cancel.add_argument("--customer", required=True, help="the job's owner")
    cancel.add_argument("--reason", help="why, kept with the job and its event")
    answer_options(cancel)


def _read_parsers(sub: Any) -> None:
    from_store = settings_options(*MONGODB, *LOGS)
    status = sub.add_parser("status", parents=[from_store], help="show a job")
    status.set_defaults(handler=reads.status)
    status.add_argument("job_id", metavar="JOB", help="the job")
    status.add_argument("--json", action="store_true", help="print the job document as JSON")

    leads = sub.add_parser("leads", parents=[from_store], help="show a job's leads and dossiers")
    leads.set_defaults(handler=reads.leads)
    leads.add_argument("job_id", metavar="JOB", help="the job")
    format_option(leads)


def _credits_parser(sub: Any) -> None:
    parser = sub.add_parser("credits", help="top up or show credit balances")
    credits_sub = parser.add_subparsers(
        dest="credits_command", required=True, parser_class=Parser, metavar="grant|show"
    )
    grant = credits_sub.add_parser(
        "grant", parents=[settings_options(*AMQP, *LOGS)], help="top up a balance"
    )
    grant.set_defaults(handler=credits.grant)
    grant.add_argument("customer", metavar="C", help="the customer")
    grant.add_argument(
        "feature", metavar="FEATURE", choices=c.FEATURES, help=" or ".join(c.FEATURES)
    )
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
    answer_options(grant)
    show = credits_sub.add_parser(
        "show", parents=[settings_options(*MONGODB, *LOGS)], help="show balances"
    )
    show.set_defaults(handler=credits.show)
    show.add_argument("customer", metavar="C", help="the customer")


def _run_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        parents=[settings_options(*LOGS, *PROVIDERS)],
        help="run one job in this process (no RabbitMQ, no MongoDB)",
    )
    parser.set_defaults(handler=run.run)
    job_options(parser)
    parser.add_argument(
        "--credits",
        type=credit,
        action="append",
        metavar="FEATURE=N",
        help="the customer's credits, repeatable (default: what the request needs)",
    )
    format_option(parser)

    bench = sub.add_parser(
        "bench",
        parents=[settings_options(*AMQP, *MONGODB, *LOGS)],
        help="measure leadgen against a plain aio-pika chain",
    )
    bench.set_defaults(handler=worker.bench)
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


def _ops_parsers(sub: Any) -> None:
    schema = sub.add_parser(
        "schema", help="write the JSON Schemas and the AsyncAPI document of the contract"
    )
    schema.set_defaults(handler=ops.schema)
    schema.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where to write them (docs/)"
    )

    parent = settings_options(*AMQP, *LOGS)
    dead = sub.add_parser("dead", help=f"inspect, replay or purge {c.DEAD_LETTER_QUEUE}")
    dead_sub = dead.add_subparsers(
        dest="dead_command", required=True, parser_class=Parser, metavar="list|replay|purge"
    )
    listing = dead_sub.add_parser("list", parents=[parent], help="show dead letters, kept")
    listing.set_defaults(handler=ops.dead_list)
    listing.add_argument(
        "--limit", type=positive, default=20, metavar="N", help="show at most N (default 20)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    again = dead_sub.add_parser(
        "replay", parents=[parent], help="republish dead letters where they came from"
    )
    again.set_defaults(handler=ops.dead_replay)
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "message_id", nargs="?", metavar="MESSAGE_ID", help="the dead letter to replay"
    )
    which.add_argument("--all", dest="every", action="store_true", help="replay every one")
    drop = dead_sub.add_parser("purge", parents=[parent], help="drop every dead letter")
    drop.set_defaults(handler=ops.dead_purge)
    drop.add_argument("--yes", action="store_true", help="confirm: purged letters are gone")
