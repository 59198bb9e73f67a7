"""The figures a run reports, which of them must be zero, and how they are printed: as
aligned lines for people or as one JSON object (``--json``) for scripts."""

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Each of these must be 0 for the run to pass.
MUST_BE_ZERO = (
    "stuck_jobs",
    "missing_jobs",
    "duplicate_jobs",
    "broken_pauses",
    "unexpected_failures",
    "double_charges",
    "spend_mismatches",
    "discovery_mismatches",
    "ledger_balance_mismatches",
    "pending_keys",
    "non_json_lines",
    "worker_crashes",
    "unclean_shutdowns",
    "hostile_not_dead_lettered",
    "unexpected_dead_letters",
)


@dataclass
class Figures:
    """What happened in one run; ``details`` names the offenders behind non-zero figures."""

    seed: int = 0
    jobs: int = 0
    completed: int = 0
    paused: int = 0
    failed: int = 0
    cancelled: int = 0
    resumed_jobs: int = 0
    kills: int = 0
    connection_closes: int = 0
    freezes: int = 0
    hostile_sent: int = 0
    stuck_jobs: int = 0
    missing_jobs: int = 0
    duplicate_jobs: int = 0
    broken_pauses: int = 0
    unexpected_failures: int = 0
    double_charges: int = 0
    spend_mismatches: int = 0
    discovery_mismatches: int = 0
    ledger_balance_mismatches: int = 0
    pending_keys: int = 0
    non_json_lines: int = 0
    worker_crashes: int = 0
    worker_start_failures: int = 0
    unclean_shutdowns: int = 0
    hostile_not_dead_lettered: int = 0
    unexpected_dead_letters: int = 0
    dossiers: int = 0
    settled: bool = False
    recovery_seconds: float | None = None
    elapsed_seconds: float = 0.0
    logs: str = ""
    details: dict[str, list[str]] = field(default_factory=dict)

    def note(self, figure: str, *offenders: str) -> None:
        """Add offenders to a figure that must be zero, and count them."""
        setattr(self, figure, getattr(self, figure) + len(offenders))
        if offenders:
            self.details.setdefault(figure, []).extend(offenders)

    def failures(self) -> list[str]:
        """The names of the figures that must be zero and are not."""
        failed = [name for name in MUST_BE_ZERO if getattr(self, name)]
        return failed if self.settled or "stuck_jobs" in failed else [*failed, "settled"]

    def ok(self) -> bool:
        """True when every check passed."""
        return not self.failures()

    def as_dict(self) -> dict[str, Any]:
        """Every figure, plus ``ok`` and ``failures``."""
        return {**asdict(self), "ok": self.ok(), "failures": self.failures()}

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(self.as_dict(), sort_keys=True)

    def render(self, max_details: int = 8) -> str:
        """Aligned ``name: value`` lines, then the first offenders of each failed figure."""
        values = {k: v for k, v in asdict(self).items() if k != "details"}
        if self.recovery_seconds is not None:
            values["recovery_seconds"] = round(self.recovery_seconds, 1)
        values["elapsed_seconds"] = round(self.elapsed_seconds, 1)
        width = max(len(name) for name in values)
        lines = [f"{name:<{width}}  {value}" for name, value in values.items()]
        for name, offenders in self.details.items():
            lines.append(f"{name}:")
            lines += [f"  {offender}" for offender in offenders[:max_details]]
            if len(offenders) > max_details:
                lines.append(f"  ... and {len(offenders) - max_details} more")
        verdict = "PASS" if self.ok() else "FAIL: " + ", ".join(self.failures())
        return "\n".join([*lines, verdict])
