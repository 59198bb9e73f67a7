"""JSON logging takes in what libraries log through ``logging``, Python's warnings and
asyncio's reports of failed tasks: every line is one JSON object, and the RabbitMQ libraries'
reconnect noise is dropped."""

import asyncio
import gc
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from aiormq.exceptions import ChannelInvalidStateError
from structlog.testing import capture_logs

from leadgen.log import configure_logging, install_loop_exception_handler

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Lines]:
    """JSON logging at level info; a function that parses what was written so far (each line
    must be one JSON object). The session's configuration comes back afterwards."""
    configure_logging("json", "info")

    def parsed() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines()]

    try:
        yield parsed
    finally:
        configure_logging("json", "debug")  # as tests/conftest.py has it


def failing() -> BaseException:
    """An exception that was raised, with its traceback."""
    try:
        raise ValueError("disk on fire")
    except ValueError as exc:
        return exc


def test_library_record_is_one_json_line_with_its_traceback_in_a_field(
    json_lines: Lines,
) -> None:
    """A library's error with a traceback is one JSON line: message, level, logger, ISO time,
    and the traceback as the ``exception`` field."""
    error = failing()
    logging.getLogger("pymongo.pool").error("pool %s failed", "p1", exc_info=error)

    [line] = json_lines()
    assert (line["event"], line["level"], line["logger"]) == (
        "pool p1 failed",
        "error",
        "pymongo.pool",
    )
    assert line["timestamp"].endswith("Z")
    assert "Traceback" in line["exception"] and "ValueError: disk on fire" in line["exception"]


def test_library_record_carries_the_bound_context_ids(json_lines: Lines) -> None:
    """Ids bound with structlog.contextvars show on library records too."""
    structlog.contextvars.bind_contextvars(job_id="job-7", correlation_id="corr-7")
    logging.getLogger("pymongo.topology").warning("server selection slow")

    [line] = json_lines()
    assert (line["job_id"], line["correlation_id"]) == ("job-7", "corr-7")


def test_library_records_below_the_level_are_not_written(json_lines: Lines) -> None:
    """At level info a library's debug record is not written; its info record is."""
    logging.getLogger("pymongo.command").debug("noise")
    logging.getLogger("pymongo.command").info("kept")

    assert [line["event"] for line in json_lines()] == ["kept"]


def test_amqp_libraries_reconnect_noise_is_dropped(json_lines: Lines) -> None:
    """What aio-pika and aiormq say about each lost connection (the broker's own
    broker_connection_lost says it once) is not written, nor their info records."""

    class RobustChannel:
        def _on_close(self) -> None: ...

    logging.getLogger("aio_pika.tools").error(
        "Callback %r error: %s: %s", RobustChannel()._on_close, "RuntimeError", "closed"
    )
    logging.getLogger("aiormq.connection").warning(
        "Cancelling cause reader exited abnormally", exc_info=failing()
    )
    logging.getLogger("aio_pika.robust_connection").warning(
        "Connection to %s closed. Reconnecting after %r seconds.", "amqp://h", 5
    )
    logging.getLogger("aio_pika.channel").info("Channel opened")

    assert json_lines() == []


def test_amqp_libraries_other_errors_stay_without_traceback(json_lines: Lines) -> None:
    """Other aio-pika errors are written, with what failed as an ``error`` field instead of a
    traceback."""
    logging.getLogger("aiormq.channel").error("Consumer callback failed", exc_info=failing())

    [line] = json_lines()
    assert (line["event"], line["logger"]) == ("Consumer callback failed", "aiormq.channel")
    assert line["error"] == "ValueError: disk on fire"
    assert "exception" not in line


async def lost_task_exception(exception: BaseException) -> None:
    """Make asyncio report a task whose exception nobody retrieved."""

    async def fail() -> None:
        raise exception

    task = asyncio.get_running_loop().create_task(fail())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert task.done()
    del task
    gc.collect()  # the report comes when the task is destroyed


async def test_loop_handler_logs_an_unretrieved_channel_error_as_one_warning() -> None:
    """A task that died of ChannelInvalidStateError with nobody awaiting it is logged as one
    asyncio_unhandled_exception warning with the error, without a traceback."""
    loop = asyncio.get_running_loop()
    install_loop_exception_handler(loop)
    try:
        with capture_logs() as logs:
            await lost_task_exception(ChannelInvalidStateError("channel closed"))
    finally:
        loop.set_exception_handler(None)

    [entry] = logs
    assert (entry["event"], entry["log_level"]) == ("asyncio_unhandled_exception", "warning")
    assert entry["message"] == "Task exception was never retrieved"
    assert entry["error"] == "ChannelInvalidStateError: channel closed"
    assert "fail()" in entry["future"]
    assert "exc_info" not in entry


async def test_loop_handler_keeps_the_traceback_of_other_errors() -> None:
    """An error that is not a RabbitMQ library's keeps its traceback for the log line."""
    loop = asyncio.get_running_loop()
    install_loop_exception_handler(loop)
    try:
        with capture_logs() as logs:
            await lost_task_exception(KeyError("job"))
    finally:
        loop.set_exception_handler(None)

    [entry] = logs
    assert entry["error"] == "KeyError: 'job'"
    assert isinstance(entry["exc_info"], KeyError)


# Logs through every channel a worker's libraries use, after configure_logging("json").
EVERY_CHANNEL = textwrap.dedent(
    """
    import asyncio, gc, logging, warnings

    from leadgen.log import configure_logging, install_loop_exception_handler, log

    configure_logging("json", "info")
    log.info("own_event", n=1)
    logging.getLogger("pymongo.pool").error("pool failed", exc_info=ValueError("x"))
    logging.getLogger("asyncio").warning("Executing %s took %.3f seconds", "<Handle>", 0.2)
    warnings.warn("old api", DeprecationWarning)
    logging.getLogger("somelib").warning("needs two %s %s", "only-one")

    async def main():
        async def fail():
            raise RuntimeError("lost")

        task = asyncio.get_running_loop().create_task(fail())
        await asyncio.sleep(0.01)
        del task
        gc.collect()

    loop = asyncio.new_event_loop()
    install_loop_exception_handler(loop)
    loop.run_until_complete(main())
    loop.close()
    """
)


def test_a_process_writes_nothing_but_json_lines() -> None:
    """A process with JSON logging writes its own events, library records, Python warnings,
    a library record that cannot be formatted, and asyncio's reports as JSON lines on stdout,
    and nothing on stderr."""
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", EVERY_CHANNEL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    events = [line["event"] for line in lines]
    assert events[:3] == ["own_event", "pool failed", "Executing <Handle> took 0.200 seconds"]
    assert "DeprecationWarning: old api" in events[3]
    assert events[4:] == ["log_record_unformattable", "asyncio_unhandled_exception"]
    assert lines[4]["logger"] == "somelib" and lines[4]["error"].startswith("TypeError")
