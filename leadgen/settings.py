"""Configuration of leadgen, read from ``LEADGEN_*`` environment variables or given explicitly."""

import sys
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_log_format() -> Literal["json", "console"]:
    return "console" if sys.stdout.isatty() else "json"


class Settings(BaseSettings):
    """Every setting of contract section 1, plus the tuning knobs of the worker."""

    model_config = SettingsConfigDict(env_prefix="LEADGEN_", frozen=True, extra="ignore")

    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    mongodb_url: str = "mongodb://localhost:27017"
    mongodb_db: str = "leadgen"
    log_format: Literal["json", "console"] = Field(default_factory=_default_log_format)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    http_port: int = Field(default=8080, ge=0, le=65535)
    lead_source: str = "offline"
    auditor: str = "offline"
    prefetch: int = Field(default=16, ge=1, le=1000)
    audit_concurrency: int = Field(default=4, ge=1, le=100)
    max_attempts: int = Field(default=5, ge=1, le=100)
    queue_type: Literal["classic", "quorum"] = "classic"
    delivery_limit: int = Field(default=20, ge=1, le=1000)
    # The relay publishes outbox entries a stopped worker left unsent this long ago.
    relay_after_seconds: float = Field(default=5.0, gt=0, le=3600)
    # The reconciler re-drives a running job that made no progress for this long.
    stall_seconds: float = Field(default=300.0, gt=0, le=86400)
    # Every MongoDB operation gives up after this long: a frozen store is an outage, not a hang.
    store_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # Users (comma-separated) whose broker-validated user_id may grant credits; empty: anyone.
    grant_users: str = ""

    @property
    def grant_user_names(self) -> frozenset[str]:
        """The users allowed to grant credits; empty when grants are open to any publisher."""
        return frozenset(name.strip() for name in self.grant_users.split(",") if name.strip())

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
