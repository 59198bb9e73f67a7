"""The knobs of one chaos run, with the defaults of ``python -m chaos``: how many jobs, how
long faults are injected, how many of each fault, and where RabbitMQ answers (the same
``LEADGEN_TEST_*`` variables the test suite reads)."""

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class RabbitEndpoint:
    """Where the RabbitMQ broker and its management API answer, and as whom."""

    host: str = field(default_factory=lambda: _env("LEADGEN_TEST_AMQP_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("LEADGEN_TEST_AMQP_PORT", "5672")))
    management_url: str = field(
        default_factory=lambda: _env("LEADGEN_TEST_MANAGEMENT_URL", "http://127.0.0.1:15672")
    )
    user: str = field(default_factory=lambda: _env("LEADGEN_TEST_AMQP_USER", "guest"))
    password: str = field(default_factory=lambda: _env("LEADGEN_TEST_AMQP_PASSWORD", "guest"))

    def amqp_url(self, vhost: str) -> str:
        """The AMQP URL of ``vhost`` on this broker."""
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/{vhost}"


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run. Times are seconds; counts are how many of each fault are injected."""

    jobs: int = 40
    seed: int = 0
    duration: float = 60.0
    freeze_seconds: float = 6.0
    customers: int = 4
    kills: int = 4
    kills_after_start: int = 1
    kills_after_grant: int = 2
    closes: int = 3
    freezes: int = 2
    hostile: int = 7
    # Share of audits the offline auditor fails on purpose, so refunds are exercised too.
    audit_failure_rate: float = 0.15
    settle_timeout: float = 120.0
    worker_grace: float = 5.0
    workdir: Path | None = None
    keep_logs: bool = False
    rabbit: RabbitEndpoint = field(default_factory=RabbitEndpoint)
