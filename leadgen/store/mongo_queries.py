"""Job updates in MongoDB's language: the filter a ``Guard`` becomes, and the ``$set`` fields
that add outbox entries, each under its own key so concurrent writers never overwrite them."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadgen.store.base import Guard
from leadgen.store.fields import check_key
from leadgen.store.models import OutboxEntry

Doc = dict[str, Any]

# Every index the store relies on, created at start-up, idempotently: (collection, keys, options).
INDEXES: tuple[tuple[str, list[tuple[str, int]], Doc], ...] = (
    ("leads", [("job_id", 1), ("lead_id", 1)], {"unique": True}),
    # paused_jobs: a customer's jobs paused on one feature, oldest first (grants resume them)
    (
        "jobs",
        [("customer_id", 1), ("status", 1), ("billing_block.feature_id", 1), ("created_at", 1)],
        {},
    ),
    ("jobs", [("outbox_since", 1)], {}),  # the relay: unsent outbox entries
    ("jobs", [("status", 1), ("updated_at", 1)], {}),  # the reconciler: stalled jobs
    ("credit_ledger", [("job_id", 1), ("at", 1)], {}),
    ("credits", [("pending", 1)], {}),  # has_movement of an unrecorded movement
)


def outbox_fields(outbox: Sequence[OutboxEntry], now: datetime) -> Doc:
    """The ``$set`` fields that add ``outbox`` entries to a job, each at its own key."""
    if not outbox:
        return {}
    entries = {f"outbox.{check_key(e.id)}": e.model_dump() for e in outbox}
    return {**entries, "outbox_since": now}


def job_filter(job_id: str, guard: Guard) -> Doc:
    """The filter that matches job ``job_id`` only while ``guard`` admits it."""
    statuses, command = guard.statuses, guard.without_command
    conditions = {
        "workflow_id": guard.workflow_id,
        "status": None if statuses is None else {"$in": list(statuses)},
        "version": guard.version,
        "run_ended": guard.run_ended,
        "customer_id": guard.customer_id,
        "command_ids": None if command is None else {"$ne": command},
    }
    return {"_id": job_id, **{k: v for k, v in conditions.items() if v is not None}}
