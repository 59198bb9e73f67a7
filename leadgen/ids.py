"""Ids and the clock: every id leadgen makes, and the one notion of "now".

Ids that name an effect are derived from what the effect is about (a job, a lead, a paused
run, a message), so that doing the same thing twice yields the same id and the second time is
recognised as a duplicate (invariants 5 and 6). Only what has no such origin gets a fresh id."""

import hashlib
import uuid
from datetime import UTC, datetime

from leadgen.constants import DOSSIER_RESEARCH

JOB_ID_NAMESPACE = uuid.UUID("7d9c3d5e-2f61-4c1e-9a57-3b0c6a1e5f20")


def utcnow() -> datetime:
    """The current time in UTC, at the millisecond precision MongoDB keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    """A fresh unique id (workflow ids, message ids, generated job ids)."""
    return uuid.uuid4().hex


def job_id_of_message(message_id: str) -> str:
    """The job id of a start that names none: the same for every copy of the message."""
    return uuid.uuid5(JOB_ID_NAMESPACE, message_id).hex


def lead_id_of(source_id: str) -> str:
    """A lead id stable across re-runs of the source: derived from the source's own id."""
    return "ld_" + hashlib.sha256(source_id.encode()).hexdigest()[:12]


def digest(body: bytes, length: int = 32) -> str:
    """An id derived from ``body``: the same for every copy of a message without an id."""
    return hashlib.sha256(body).hexdigest()[:length]


def charge_key(job_id: str, lead_id: str, feature_id: str = DOSSIER_RESEARCH) -> str:
    """Idempotency key of the one charge of ``feature_id`` for a lead of a job (invariant 5)."""
    return f"charge:{job_id}:{lead_id}:{feature_id}"


def refund_key(job_id: str, lead_id: str, feature_id: str = DOSSIER_RESEARCH) -> str:
    """Idempotency key of the one refund of that charge."""
    return f"refund:{job_id}:{lead_id}:{feature_id}"


def resume_key(paused_workflow_id: str) -> str:
    """The idempotency key of a resume without message id: the paused run it resumes."""
    return f"resume:{paused_workflow_id}"
