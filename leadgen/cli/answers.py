"""Commands the command line sends and waits for: the worker answers each command on
``leadgen.events`` (``command.accepted`` / ``command.refused``) with the command's correlation
id, and the command line tells the user what happened instead of "sent".

Before publishing it checks that something consumes ``leadgen.commands``: a command nobody
will read would otherwise wait in the queue and take effect whenever a worker starts."""

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.broker.amqp import AmqpBroker
from leadgen.broker.sender import url_user
from leadgen.errors import LeadgenError
from leadgen.settings import Settings
from leadgen.worker.backends import connected_broker
from leadgen.workflow.outbox import send_command

# Exit codes besides contract section 6's (0 done, 2 bad arguments or not found, 3 paused,
# 4 failed or cancelled, 1 a service unreachable).
EXIT_REFUSED = 5
EXIT_NO_ANSWER = 6
DEFAULT_TIMEOUT = 10.0


class NoAnswer(LeadgenError):
    """Raised when no worker consumes the commands, or none answered within the timeout."""


@dataclass(frozen=True)
class Answer:
    """The worker's answer to one command."""

    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        """True when the command was applied (or had been)."""
        return bool(self.body["type"] == "leadgen.command.accepted.v1")

    @property
    def reason(self) -> str:
        """Why the command was refused, with the figures of a credit shortage."""
        reason = str(self.body.get("reason") or "refused")
        detail = self.body.get("detail") or {}
        if {"feature_id", "required", "available"} <= detail.keys():
            reason += (
                f" ({detail['feature_id']}: {detail['required']} needed,"
                f" {detail['available']} available)"
            )
        return reason


async def send_and_wait(
    settings: Settings, routing_key: str, command: BaseModel, *, wait: bool, timeout: float
) -> Answer | None:
    """Publish ``command`` to ``leadgen.commands``; with ``wait``, its answer.

    Raises ``NoAnswer`` when nothing consumes the commands within ``timeout`` seconds (checked
    before publishing, so a command that would wait for a worker is not left behind) or when
    ``wait`` and no answer came within ``timeout`` seconds more."""
    async with connected_broker(settings, "cli", declare=False) as broker:
        if not await _worker_listening(broker, timeout):
            raise NoAnswer(
                f"no worker consumes {c.COMMANDS_QUEUE} (waited {timeout:g} s); start one"
                " with `leadgen worker` (nothing was sent)"
            )
        answers = await broker.bind_queue(c.EVENTS_EXCHANGE, "command.*") if wait else None
        user = url_user(settings.amqp_url)
        message_id = await send_command(broker, routing_key, command, user_id=user)
        if answers is None:
            return None
        return await _answer(broker, answers, message_id, timeout)


async def _worker_listening(broker: AmqpBroker, timeout: float) -> bool:
    """True once something consumes the commands; a worker that is starting gets
    ``timeout`` seconds to get there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await broker.consumer_count(c.COMMANDS_QUEUE):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def _answer(broker: AmqpBroker, queue: str, correlation_id: str, timeout: float) -> Answer:
    """The answer carrying ``correlation_id``, read from ``queue`` within ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        delivery = await broker.get(queue, timeout=min(left, 1.0))
        if delivery is None:
            continue
        await delivery.ack()
        if delivery.correlation_id == correlation_id:
            return Answer(json.loads(delivery.body))
    raise NoAnswer(
        f"no answer from a worker within {timeout:g} s; the command may still be applied"
        " (see `leadgen status`, or wait longer with --timeout)"
    )
