"""Rules both stores apply to the fields callers set, so they refuse the same updates."""

from collections.abc import Collection, Mapping
from typing import Any

# Fields the stores maintain themselves (or identify documents by); never set by callers.
JOB_RESERVED = frozenset(
    {"_id", "id", "version", "updated_at", "outbox", "outbox_since", "audits", "runs"}
)
LEAD_RESERVED = frozenset({"_id", "job_id", "lead_id"})


def check_fields(fields: Mapping[str, Any], reserved: Collection[str]) -> None:
    """Refuse names that are reserved or not top-level, so both stores reject the same updates.

    MongoDB would read ``a.b`` as a path and ``$x`` as an operator, where a dict would not."""
    bad = [k for k in fields if k in reserved or "." in k or k.startswith("$")]
    if bad:
        raise ValueError(f"cannot set fields {bad}")


def job_reserved(*, add_commands: Collection[str]) -> frozenset[str]:
    """The job fields ``update_job`` may not set, given what else the update changes."""
    return JOB_RESERVED | {"command_ids"} if add_commands else JOB_RESERVED


def check_key(name: str) -> str:
    """``name`` as the key of a sub-document (an outbox entry, an audited lead): MongoDB would
    read a dot as a path and a leading ``$`` as an operator."""
    if not name or "." in name or name.startswith("$"):
        raise ValueError(f"cannot use {name!r} as a key")
    return name


def audit_field(
    dossier: Mapping[str, Any] | None, error: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """Which lead field ``record_audit`` sets, and to what; exactly one must be given."""
    if dossier is not None and error is None:
        return "dossier", dict(dossier)
    if error is not None and dossier is None:
        return "dossier_error", dict(error)
    raise ValueError("record_audit takes exactly one of dossier and error")
