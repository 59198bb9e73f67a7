"""What became of one command: accepted (with what it left) or refused (with why). The
operation that applies a command fills it in; the commands actor answers with it."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    """What became of one command, filled in by the operation that applied or refused it: the
    worker answers the command with it (``command.accepted`` / ``command.refused``)."""

    accepted: bool = False
    reason: str | None = None
    status: str | None = None  # the job's status once the command was applied
    detail: dict[str, Any] = field(default_factory=dict)

    def accept(self, status: str | None = None, **detail: Any) -> None:
        """The command was applied, or had been by an earlier delivery."""
        self.accepted, self.reason, self.status = True, None, status
        self.detail.update(detail)

    def refuse(self, reason: str, **detail: Any) -> None:
        """The command changed nothing, for ``reason``."""
        self.accepted, self.reason = False, reason
        self.detail.update(detail)
