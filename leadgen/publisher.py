"""Publishing with the properties every leadgen message carries (ids, type, correlation).

The one place that knows which exchange and routing key each kind of message goes to. Every
message gets a fresh ``message_id`` (unless one is chosen on purpose, as for completions), the
``correlation_id`` of the command that caused it (the job keeps it; a resume brings its own),
its body ``type``, ``app_id`` ``leadgen``, a timestamp and a JSON content type; the broker
publishes it persistently."""

import uuid

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.broker.base import Broker, Outbound
from leadgen.messages.codec import encode
from leadgen.messages.events import JobEvent
from leadgen.messages.tasks import AuditTask, PhaseOutcome, PhaseTask, WorkflowCompleted
from leadgen.store.models import utcnow


def new_id() -> str:
    """A fresh unique id (workflow ids, message ids, generated job ids)."""
    return uuid.uuid4().hex


class Publisher:
    """Sends tasks, outcomes, completions and events for the actors."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def send(
        self,
        exchange: str,
        routing_key: str,
        message: BaseModel,
        *,
        correlation_id: str | None,
        message_id: str | None = None,
    ) -> None:
        """Publish ``message`` persistently with a message id, its type and a timestamp."""
        await self.broker.publish(
            exchange,
            routing_key,
            Outbound(
                body=encode(message),
                type=str(getattr(message, "type", type(message).__name__)),
                message_id=message_id or new_id(),
                correlation_id=correlation_id,
                timestamp=utcnow(),
                content_type="application/json",
                app_id=c.APP_ID,
            ),
        )

    async def phase_task(self, task: PhaseTask, correlation_id: str | None) -> None:
        """Ask the actor of ``task.phase`` to run it."""
        await self.send(
            c.INTERNAL_EXCHANGE, c.phase_key(task.phase), task, correlation_id=correlation_id
        )

    async def audit_task(self, task: AuditTask, correlation_id: str | None) -> None:
        """Ask for the audit of one lead."""
        await self.send(c.INTERNAL_EXCHANGE, c.AUDIT_KEY, task, correlation_id=correlation_id)

    async def outcome(self, outcome: PhaseOutcome, correlation_id: str | None) -> None:
        """Report a phase outcome to the supervisor."""
        await self.send(
            c.INTERNAL_EXCHANGE, c.SUPERVISOR_KEY, outcome, correlation_id=correlation_id
        )

    async def completed(self, message: WorkflowCompleted, correlation_id: str | None) -> None:
        """Tell the completion actor that a run ended."""
        await self.send(
            c.INTERNAL_EXCHANGE,
            c.COMPLETION_KEY,
            message,
            correlation_id=correlation_id,
            # One id per run and result: consumers can drop a re-sent completion.
            message_id=f"{message.workflow_id}.{message.result}",
        )

    async def event(self, event: JobEvent) -> None:
        """Publish a lifecycle event to ``leadgen.events``."""
        await self.send(
            c.EVENTS_EXCHANGE,
            event.ROUTING_KEY,
            event,
            correlation_id=event.correlation_id,
        )
