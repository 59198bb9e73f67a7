"""The answer to every command, on ``leadgen.events`` (contract section 2: "every command is
answered ... with the command's correlation_id, so a caller can wait for the outcome").

One answer per command delivery that was handled: ``command.accepted`` when it was applied
(or had been, for a repeated command), ``command.refused`` with the reason when it changed
nothing. Both carry the command's ``message_id`` and ``correlation_id``."""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

CommandName = Literal["start", "resume", "cancel", "credits.grant"]


class CommandAnswer(BaseModel):
    """Fields every answer carries."""

    model_config = ConfigDict(frozen=True)
    ROUTING_KEY: ClassVar[str]

    type: str
    command: CommandName
    customer_id: str
    job_id: str | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    # The user that published the command, as RabbitMQ validated it, and its app, when set.
    user_id: str | None = None
    app_id: str | None = None
    at: datetime


class CommandAccepted(CommandAnswer):
    """The command was applied (or had been: a repeated command is accepted again)."""

    ROUTING_KEY = "command.accepted"
    type: Literal["leadgen.command.accepted.v1"] = "leadgen.command.accepted.v1"
    # The job's status once the command was applied (start, resume, cancel).
    status: str | None = None
    # True for a command applied before: a repeated grant, start, resume or cancel.
    already: bool = False
    # Grants: the balance after, and the jobs the grant resumed.
    balance: int | None = None
    resumed_jobs: list[str] = Field(default_factory=list)


class CommandRefused(CommandAnswer):
    """The command changed nothing, for ``reason``."""

    ROUTING_KEY = "command.refused"
    type: Literal["leadgen.command.refused.v1"] = "leadgen.command.refused.v1"
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)


ANSWERS: tuple[type[CommandAnswer], ...] = (CommandAccepted, CommandRefused)
