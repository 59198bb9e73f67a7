"""Names shared by every part of leadgen: exchanges, queues, routing keys, phases, features.

One place for each name; the public ones are fixed by the external contract (contract.md)."""

from typing import Final

# Public exchanges and queues (contract sections 2, 4, 5).
COMMANDS_EXCHANGE: Final = "leadgen.commands"
EVENTS_EXCHANGE: Final = "leadgen.events"
DEAD_LETTER_EXCHANGE: Final = "leadgen.dlx"
DEAD_LETTER_QUEUE: Final = "leadgen.dead"
ERROR_HEADER: Final = "x-leadgen-error"
QUEUE_HEADER: Final = "x-leadgen-queue"  # the queue a dead letter was taken from
# The routing key a message was first published with, kept on copies that leadgen republishes
# to a queue directly (retries), so a later dead letter and its replay still know it.
ROUTING_KEY_HEADER: Final = "x-leadgen-routing-key"
# The user that sent a command, kept on a copy leadgen republishes under its own user (retries).
SENDER_HEADER: Final = "x-leadgen-sender"

# Command routing keys and body types (contract section 2).
START_KEY: Final = "leadgen.start"
RESUME_KEY: Final = "leadgen.resume"
CANCEL_KEY: Final = "leadgen.cancel"
GRANT_KEY: Final = "leadgen.credits.grant"

# Internal topology: free to change, never read by other services.
INTERNAL_EXCHANGE: Final = "leadgen.internal"
COMMANDS_QUEUE: Final = "leadgen.commands"
SUPERVISOR_QUEUE: Final = "leadgen.supervisor"
COMPLETION_QUEUE: Final = "leadgen.completion"
AUDIT_QUEUE: Final = "leadgen.audit"
ATTEMPTS_HEADER: Final = "x-leadgen-attempts"
APP_ID: Final = "leadgen"

# Phases, in order (contract section 3).
SOURCE: Final = "source"
ENRICH: Final = "enrich"
SCORE: Final = "score"
QUEUE_AUDITS: Final = "queue_audits"
GENERATE_DOSSIER: Final = "generate_dossier"
FINALIZE: Final = "finalize"
PHASES: Final = (SOURCE, ENRICH, SCORE, QUEUE_AUDITS, GENERATE_DOSSIER, FINALIZE)

# Billing features (contract section 3).
LEAD_DISCOVERY: Final = "lead_discovery"
DOSSIER_RESEARCH: Final = "dossier_research"
FEATURES: Final = (LEAD_DISCOVERY, DOSSIER_RESEARCH)


def phase_queue(phase: str) -> str:
    """Name of the queue that feeds the actor of ``phase``."""
    return f"leadgen.phase.{phase}"


def phase_key(phase: str) -> str:
    """Routing key of a task for ``phase`` on the internal exchange."""
    return f"phase.{phase}"


SUPERVISOR_KEY: Final = "supervisor"
COMPLETION_KEY: Final = "completion"
AUDIT_KEY: Final = "audit"
