"""The commands actor: consumes ``leadgen.commands`` and applies start, resume, cancel and
credit grants (contract section 2). A body that is not a valid command is dead-lettered."""

import structlog

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job
from leadgen.broker.base import Delivery
from leadgen.broker.headers import is_replay, original_routing_key
from leadgen.errors import DecodeError
from leadgen.lifecycle import cancel_job, grant_credits, refused, resume_job, start_job
from leadgen.messages.codec import decode
from leadgen.messages.commands import (
    COMMAND,
    CancelJob,
    Command,
    GrantCredits,
    ResumeJob,
    StartJob,
)
from leadgen.publisher import new_id

TYPE_OF_KEY = {
    c.START_KEY: "leadgen.start.v1",
    c.RESUME_KEY: "leadgen.resume.v1",
    c.CANCEL_KEY: "leadgen.cancel.v1",
    c.GRANT_KEY: "leadgen.credits.grant.v1",
}


class CommandsActor(Actor[Command]):
    """Applies one command; commands about a job another customer owns change nothing."""

    queue = c.COMMANDS_QUEUE
    adapter = COMMAND

    def decode(self, delivery: Delivery) -> Command:
        """Decode the command; its ``type`` must agree with the routing key when both exist."""
        command: Command = decode(COMMAND, delivery.body)
        routing_key = original_routing_key(delivery)
        expected = TYPE_OF_KEY.get(routing_key)
        if expected is not None and command.type != expected:
            raise DecodeError(
                f"type {command.type!r} does not match routing key {routing_key!r}",
                delivery.body,
            )
        return command

    async def handle(self, message: Command, delivery: Delivery) -> None:
        # A command without a correlation id gets one, so what it causes can still be traced.
        correlation_id = delivery.correlation_id or delivery.message_id or new_id()
        structlog.contextvars.bind_contextvars(
            command=message.type, customer_id=message.customer_id, correlation_id=correlation_id
        )
        if isinstance(message, StartJob):
            await start_job(
                self.services,
                message,
                message_id=delivery.message_id,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
            )
        elif isinstance(message, GrantCredits):
            await grant_credits(self.services, message, correlation_id=correlation_id)
        else:
            await self._job_command(message, delivery, correlation_id)

    async def _job_command(
        self, message: ResumeJob | CancelJob, delivery: Delivery, correlation_id: str
    ) -> None:
        job = await self.services.store.get_job(message.job_id)
        kind = "resume" if isinstance(message, ResumeJob) else "cancel"
        if job is None or job.customer_id != message.customer_id:
            # Same answer for "unknown" and "not yours": nothing to learn about other jobs.
            refused(kind, "unknown job for this customer", job_id=message.job_id)
            return
        bind_job(job)
        if isinstance(message, ResumeJob):
            await resume_job(
                self.services,
                job,
                message_id=delivery.message_id,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
            )
        else:
            await cancel_job(
                self.services,
                job,
                message,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
            )
