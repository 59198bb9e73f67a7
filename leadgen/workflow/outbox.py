"""What leadgen sends, as outbox entries, and the one way they are published.

Every message is first an ``OutboxEntry``: its exchange, routing key, body ``type``, JSON body,
``correlation_id`` and a ``message_id`` fixed when it is decided, so that sending it again is a
duplicate consumers can recognise. A transition stores the entries it causes in the same write
as the change itself (the transactional outbox, invariant 9); ``Publisher.flush`` publishes a
job's entries and then forgets them. Messages that follow no stored change (a phase actor's
outcome, a refusal) are sent directly with ``Publisher.send``: the handler that sends them
runs again from the start if it stops before its ack. Every message goes out persistently with
``app_id`` ``leadgen``, a timestamp and a JSON content type; internal messages are mandatory
(an unroutable one is an error), events are not (nobody need be bound to ``leadgen.events``)."""

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.broker.base import Broker, Outbound
from leadgen.ids import new_id, utcnow
from leadgen.messages.codec import encode
from leadgen.messages.events import JobEvent
from leadgen.messages.tasks import AuditTask, PhaseOutcome, PhaseTask, WorkflowCompleted
from leadgen.store.base import Store
from leadgen.store.models import Job, OutboxEntry


def entry(
    exchange: str,
    routing_key: str,
    message: BaseModel,
    *,
    message_id: str,
    correlation_id: str | None,
    mandatory: bool = True,
) -> OutboxEntry:
    """``message`` as an outbox entry with the id ``message_id``."""
    return OutboxEntry(
        id=message_id,
        exchange=exchange,
        routing_key=routing_key,
        type=str(getattr(message, "type", type(message).__name__)),
        body=encode(message).decode(),
        correlation_id=correlation_id,
        mandatory=mandatory,
    )


def internal(
    routing_key: str, message: BaseModel, name: str, correlation_id: str | None
) -> OutboxEntry:
    """A message for another actor, with the id ``name`` (fixed by what it is about)."""
    return entry(
        c.INTERNAL_EXCHANGE, routing_key, message, message_id=name, correlation_id=correlation_id
    )


def _attempt(attempt: int) -> str:
    return f":r{attempt}" if attempt else ""


def phase_task(task: PhaseTask, correlation_id: str | None, attempt: int = 0) -> OutboxEntry:
    """Ask the actor of ``task.phase`` to run it; ``attempt`` > 0 for a re-drive."""
    name = f"{task.workflow_id}:task:{task.phase}{_attempt(attempt)}"
    return internal(c.phase_key(task.phase), task, name, correlation_id)


def audit_task(task: AuditTask, correlation_id: str | None, attempt: int = 0) -> OutboxEntry:
    """Ask for the audit of one lead; ``attempt`` > 0 for a re-drive."""
    name = f"{task.workflow_id}:audit:{task.lead_id}{_attempt(attempt)}"
    return internal(c.AUDIT_KEY, task, name, correlation_id)


def outcome(message: PhaseOutcome, correlation_id: str | None) -> OutboxEntry:
    """Report a phase outcome to the supervisor."""
    name = f"{message.workflow_id}:outcome:{message.phase}:{message.status}"
    return internal(c.SUPERVISOR_KEY, message, name, correlation_id)


def completed(message: WorkflowCompleted, correlation_id: str | None) -> OutboxEntry:
    """Tell the completion actor that a run ended: one id per run and result."""
    name = f"{message.workflow_id}:completed:{message.result}"
    return internal(c.COMPLETION_KEY, message, name, correlation_id)


def event(message: JobEvent, message_id: str | None = None) -> OutboxEntry:
    """A lifecycle event for ``leadgen.events``; by default one id per run and event type."""
    kind = message.ROUTING_KEY.removeprefix("job.")
    return entry(
        c.EVENTS_EXCHANGE,
        message.ROUTING_KEY,
        message,
        message_id=message_id or f"{message.workflow_id}:event:{kind}",
        correlation_id=message.correlation_id,
        mandatory=False,
    )


async def send_command(
    broker: Broker,
    routing_key: str,
    command: BaseModel,
    message_id: str | None = None,
    *,
    user_id: str | None = None,
) -> str:
    """Publish a command to ``leadgen.commands`` as any other service would: ``message_id``
    (a fresh one by default) is also its correlation id, ``user_id`` names the connection's
    user (RabbitMQ checks it); returns the message id."""
    message_id = message_id or new_id()
    await Publisher(broker, user_id=user_id).send(
        entry(
            c.COMMANDS_EXCHANGE,
            routing_key,
            command,
            message_id=message_id,
            correlation_id=message_id,
        )
    )
    return message_id


class Publisher:
    """Publishes outbox entries, directly or from a job's outbox."""

    def __init__(
        self, broker: Broker, store: Store | None = None, *, user_id: str | None = None
    ) -> None:
        self.broker = broker
        self.store = store
        self.user_id = user_id  # set on every message: the user of the broker connection

    async def send(self, *entries: OutboxEntry) -> None:
        """Publish ``entries`` in order; returns once the broker confirmed every one."""
        if len(entries) == 1:
            await self._publish(entries[0])
        elif entries:
            # One channel keeps their order; the confirms are awaited together.
            await asyncio.gather(*(self._publish(e) for e in entries))

    async def flush(self, job: Job | None, only: Sequence[str] | None = None) -> None:
        """Publish what ``job``'s outbox holds (or just its entries ``only``), then forget
        what was published (invariant 9).

        Safe to call by several workers at once: a message sent twice keeps its id. A handler
        that wrote concurrently with others on the same job sends ``only`` its own entries,
        leaving theirs to them (or to the relay, should they stop)."""
        if job is None or self.store is None:
            return
        if only is None:
            if job.outbox or job.outbox_since:
                await self.send(*job.outbox.values())
                await self.store.clear_outbox(job.id, list(job.outbox), version=job.version)
            return
        mine = [job.outbox[i] for i in only if i in job.outbox]
        if mine:
            await self.send(*mine)
            await self.store.clear_outbox(job.id, [e.id for e in mine])

    async def _publish(self, item: OutboxEntry) -> None:
        await self.broker.publish(
            item.exchange,
            item.routing_key,
            Outbound(
                body=item.body.encode(),
                type=item.type,
                message_id=item.id,
                correlation_id=item.correlation_id,
                timestamp=utcnow(),
                content_type="application/json",
                app_id=c.APP_ID,
                user_id=self.user_id,
            ),
            mandatory=item.mandatory,
        )
