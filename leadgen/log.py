"""Structured logging: JSON lines (contract section 7) or a console rendering for people.

leadgen logs through structlog; what libraries log through the standard library's ``logging``
(aio-pika, aiormq, PyMongo, asyncio, warnings) goes through the same processors, so with the
JSON format every line a process writes is one JSON object, tracebacks included (in the
``exception`` field). Libraries speak from ``info`` on (leadgen's ``debug`` is leadgen's own),
aio-pika and aiormq from ``warning`` on and without tracebacks: the RabbitMQ broker reports
each lost connection and its recovery as one event (``broker_connection_lost``,
``broker_reconnected``), so their records of the same loss are dropped.
``install_loop_exception_handler`` turns asyncio's reports of tasks and callbacks that failed
with nobody to tell into one warning each."""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Mapping
from typing import Any, Final

import structlog

log = structlog.get_logger("leadgen")

# The libraries under the RabbitMQ broker, whose reconnect noise AmqpBroker replaces.
AMQP_LIBRARIES: Final = ("aio_pika", "aiormq", "pamqp")

# What aio-pika and aiormq say on every lost connection and its recovery (the format strings,
# as logged), already told by ``broker_connection_lost`` and ``broker_reconnected``.
RECONNECT_NOISE: Final = frozenset(
    {
        'Unexpected connection close from remote "%s", '
        "Connection.Close(reply_code=%r, reply_text=%r)",
        "Cancelling cause reader exited abnormally",
        "Connection to %s closed. Reconnecting after %r seconds.",
        "Failed to execute close callbacks for %s",
    }
)

# How aio-pika reports a callback that raised; every robust channel's close callback does, once
# per lost connection, when it tries to reopen the channel on the connection that just died.
_CALLBACK_FAILED: Final = "Callback %r error: %s: %s"
_CHANNEL_REOPEN: Final = "RobustChannel._on_close"

# A repr longer than this (a task with its coroutine and stack) is cut in a log field.
_REPR_CHARS = 300


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Configure structlog and the standard library's ``logging`` once for the process: ISO
    UTC timestamps, bound context ids, one rendering (``json`` or ``console``) on stdout."""
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[structlog.typing.Processor]
    if fmt == "json":
        # One line per record: a traceback becomes the ``exception`` field.
        rendering = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # The console renderer prints tracebacks itself, readably.
        rendering = [structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())]
    structlog.configure(
        processors=[*shared, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        # No file given: each logger writes to sys.stdout as it is then (a test's capture).
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(shared, rendering, threshold)


def _route_standard_logging(
    shared: list[structlog.typing.Processor],
    rendering: list[structlog.typing.Processor],
    threshold: int,
) -> None:
    """Send every ``logging`` record to stdout through the structlog processors."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(allow=("error",)),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_quiet_amqp_libraries)
    root = logging.getLogger()
    # configure_logging again replaces its handler, and leaves others' (pytest's) in place.
    for old in [h for h in root.handlers if isinstance(h, _StdoutHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries speak from info on: leadgen's own debug events are not PyMongo's command log.
    root.setLevel(max(threshold, logging.INFO))
    for name in AMQP_LIBRARIES:
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))
    # Python's warnings (DeprecationWarning, ResourceWarning) would go to stderr as plain text.
    logging.captureWarnings(True)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record as one line to ``sys.stdout`` as it is when the record comes."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        # Follow a replaced sys.stdout (a test capture), as print() does.
        self.stream = sys.stdout
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        # A record that cannot be formatted (bad %-arguments in a library) still gives one
        # structured line, instead of logging's multi-line report on stderr.
        with contextlib.suppress(Exception):  # stdout itself may be what failed
            log.warning(
                "log_record_unformattable",
                logger=record.name,
                template=_short(str(record.msg)),
                error=describe_error(sys.exc_info()[1]),
            )


def _quiet_amqp_libraries(record: logging.LogRecord) -> bool:
    """Drop aio-pika's and aiormq's reconnect noise and their tracebacks; pass the rest."""
    if record.name.split(".", 1)[0] not in AMQP_LIBRARIES:
        return True
    if record.levelno < logging.WARNING or _reconnect_noise(record):
        return False
    if record.exc_info:
        # What failed, in one field: a traceback of library internals tells an operator nothing.
        record.__dict__["error"] = describe_error(record.exc_info[1])
        record.exc_info = record.exc_text = None
    return True


def _reconnect_noise(record: logging.LogRecord) -> bool:
    """Whether an aio-pika or aiormq record only repeats that a connection was lost."""
    if record.msg in RECONNECT_NOISE:
        return True
    args = record.args if isinstance(record.args, tuple) else ()
    return record.msg == _CALLBACK_FAILED and bool(args) and _CHANNEL_REOPEN in repr(args[0])


def install_loop_exception_handler(loop: asyncio.AbstractEventLoop) -> None:
    """Log what asyncio reports on ``loop`` (a task's exception never retrieved, a failed
    callback) as one ``asyncio_unhandled_exception`` warning each, instead of its traceback
    on stderr."""
    loop.set_exception_handler(_log_loop_exception)


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: Mapping[str, Any]) -> None:
    """The event loop's exception handler: one structured warning per report."""
    exception = context.get("exception")
    fields: dict[str, Any] = {"message": str(context.get("message", ""))}
    if isinstance(exception, BaseException):
        fields["error"] = describe_error(exception)
        # A traceback helps with a bug of ours, not with a connection dropped under aio-pika.
        if type(exception).__module__.split(".", 1)[0] not in AMQP_LIBRARIES:
            fields["exc_info"] = exception
    for key in ("task", "future", "handle"):
        if key in context:
            fields[key] = _short(repr(context[key]))
    log.warning("asyncio_unhandled_exception", **fields)


def describe_error(exception: BaseException | None) -> str:
    """``Type: message`` of ``exception``, on one line, as log fields give an error."""
    if exception is None:
        return "unknown"
    text = " ".join(str(exception).split())
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


def _short(text: str) -> str:
    return text if len(text) <= _REPR_CHARS else text[: _REPR_CHARS - 1] + "…"
