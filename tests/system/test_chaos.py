"""The chaos scenario in short (chaos/): two real ``leadgen worker`` processes on RabbitMQ and
SecantusDB, one of them killed, one's connection closed and the store frozen while jobs run
and pause for billing, must settle every job with every credit counted once."""

import pytest

from chaos import ChaosConfig, run_chaos
from chaos.figures import MUST_BE_ZERO
from chaos.rabbit import ServiceUnavailable
from tests.support.servers import unavailable

SHORT = ChaosConfig(
    jobs=8,
    seed=20240601,
    duration=12.0,
    freeze_seconds=3.0,
    kills=1,
    kills_after_start=0,
    kills_after_grant=0,
    closes=1,
    freezes=1,
    hostile=3,
    settle_timeout=40.0,
)


@pytest.mark.amqp
@pytest.mark.mongo
@pytest.mark.timeout(180)
async def test_short_chaos_run_settles_every_job_and_counts_every_credit_once() -> None:
    """After a kill, a closed connection and a 3 s store freeze, no job is left running or
    missing, no credit is charged twice or lost, hostile commands are dead-lettered and the
    workers write nothing but JSON lines."""
    try:
        figures = await run_chaos(SHORT)
    except ServiceUnavailable as exc:
        unavailable(str(exc))
        return
    report = figures.render()
    assert (figures.kills, figures.freezes, figures.hostile_sent) == (1, 1, 3), report
    assert figures.connection_closes == 1, report
    must_be_zero = {name: getattr(figures, name) for name in MUST_BE_ZERO}
    assert must_be_zero == dict.fromkeys(MUST_BE_ZERO, 0), report
    assert figures.settled, report
    assert figures.completed + figures.paused == SHORT.jobs, report
