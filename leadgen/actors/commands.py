"""The commands actor: consumes ``leadgen.commands`` and applies start, resume, cancel and
credit grants (contract section 2), then answers each command on ``leadgen.events``
(``command.accepted`` or ``command.refused``, with its correlation id). A body that is not a
valid command is dead-lettered."""

import structlog
from typing_extensions import override

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job
from leadgen.broker.base import Delivery
from leadgen.broker.headers import is_replay, original_routing_key
from leadgen.broker.sender import Sender, sender_of, sent_by, url_user
from leadgen.errors import DecodeError
from leadgen.ids import digest, new_id, utcnow
from leadgen.messages.answers import CommandAccepted, CommandAnswer, CommandName, CommandRefused
from leadgen.messages.codec import decode
from leadgen.messages.commands import (
    COMMAND,
    CancelJob,
    Command,
    GrantCredits,
    ResumeJob,
    StartJob,
)
from leadgen.workflow.lifecycle import cancel_job, grant_credits, refused, start_job
from leadgen.workflow.outbox import entry
from leadgen.workflow.resume import resume_job
from leadgen.workflow.verdict import Verdict

NAME_OF_TYPE: dict[str, CommandName] = {
    "leadgen.start.v1": "start",
    "leadgen.resume.v1": "resume",
    "leadgen.cancel.v1": "cancel",
    "leadgen.credits.grant.v1": "credits.grant",
}

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

    @override
    async def handle(self, message: Command, delivery: Delivery) -> None:
        # A command without a correlation id gets one, so what it causes can still be traced.
        correlation_id = delivery.correlation_id or delivery.message_id or new_id()
        structlog.contextvars.bind_contextvars(
            command=message.type, customer_id=message.customer_id, correlation_id=correlation_id
        )
        sender = sender_of(delivery, url_user(self.services.settings.amqp_url))
        with sent_by(sender):
            await self._apply(message, delivery, correlation_id, sender)

    async def _apply(
        self, message: Command, delivery: Delivery, correlation_id: str, sender: Sender
    ) -> None:
        verdict = Verdict()
        job_id: str | None = getattr(message, "job_id", None)
        if isinstance(message, GrantCredits) and not self._may_grant(sender):
            # Credits are money: only the users named in LEADGEN_GRANT_USERS may grant them.
            reason = f"grants are not accepted from {sender.user_id or 'a sender without user_id'}"
            refused("credits.grant", reason)
            verdict.refuse(reason)
        elif isinstance(message, StartJob):
            job = await start_job(
                self.services,
                message,
                message_id=delivery.message_id,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
                verdict=verdict,
            )
            job_id = job.id
        elif isinstance(message, GrantCredits):
            await grant_credits(
                self.services, message, correlation_id=correlation_id, verdict=verdict
            )
        else:
            await self._job_command(message, delivery, correlation_id, verdict)
        await self._answer(message, delivery, correlation_id, job_id, verdict, sender)

    def _may_grant(self, sender: Sender) -> bool:
        allowed = self.services.settings.grant_user_names
        return not allowed or sender.user_id in allowed

    async def _job_command(
        self,
        message: ResumeJob | CancelJob,
        delivery: Delivery,
        correlation_id: str,
        verdict: Verdict,
    ) -> None:
        job = await self.services.store.get_job(message.job_id)
        kind = "resume" if isinstance(message, ResumeJob) else "cancel"
        if job is None or job.customer_id != message.customer_id:
            # Same answer for "unknown" and "not yours": nothing to learn about other jobs.
            refused(kind, "unknown job for this customer", job_id=message.job_id)
            verdict.refuse("unknown job for this customer")
            return
        bind_job(job)
        if isinstance(message, ResumeJob):
            await resume_job(
                self.services,
                job,
                message_id=delivery.message_id,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
                verdict=verdict,
            )
        else:
            await cancel_job(
                self.services,
                job,
                message,
                correlation_id=correlation_id,
                replay=is_replay(delivery),
                verdict=verdict,
            )

    async def _answer(
        self,
        message: Command,
        delivery: Delivery,
        correlation_id: str,
        job_id: str | None,
        verdict: Verdict,
        sender: Sender,
    ) -> None:
        """Publish the command's answer; a redelivered command answers again with the same
        message id (its own, else one made from its body), so the caller sees one answer."""
        common: dict[str, object] = {
            "command": NAME_OF_TYPE[message.type],
            "customer_id": message.customer_id,
            "job_id": job_id,
            "message_id": delivery.message_id,
            "correlation_id": correlation_id,
            **sender.fields(),
            "at": utcnow(),
        }
        answer: CommandAnswer
        if verdict.accepted:
            answer = CommandAccepted(
                **common,
                status=verdict.status,
                already=bool(verdict.detail.get("already", False)),
                balance=verdict.detail.get("balance"),
                resumed_jobs=verdict.detail.get("resumed_jobs", []),
            )
        else:
            answer = CommandRefused(
                **common, reason=verdict.reason or "refused", detail=verdict.detail
            )
        await self.services.publisher.send(
            entry(
                c.EVENTS_EXCHANGE,
                answer.ROUTING_KEY,
                answer,
                message_id=f"answer:{delivery.message_id or digest(delivery.body)}",
                correlation_id=correlation_id,
                mandatory=False,
            )
        )
