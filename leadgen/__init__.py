"""leadgen: lead-generation jobs as durable, pausable workflows over RabbitMQ and MongoDB."""

from leadgen.errors import (
    BillingError,
    ConfigurationError,
    DecodeError,
    LeadgenError,
    ProviderError,
    Superseded,
)
from leadgen.messages.commands import CancelJob, GrantCredits, ResumeJob, StartJob
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import WorkflowCompleted
from leadgen.settings import Settings
from leadgen.store.models import Job, Lead
from leadgen.workflow.billing import PAUSE_MARKER, is_billing_pause_error, pause_for_billing
from leadgen.workflow.jobs import complete_flow

__all__ = [
    "PAUSE_MARKER",
    "BillingError",
    "CancelJob",
    "ConfigurationError",
    "DecodeError",
    "ErrorEnvelope",
    "GrantCredits",
    "Job",
    "Lead",
    "LeadgenError",
    "ProviderError",
    "ResumeJob",
    "Settings",
    "StartJob",
    "Superseded",
    "WorkflowCompleted",
    "complete_flow",
    "is_billing_pause_error",
    "pause_for_billing",
]
