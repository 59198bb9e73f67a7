"""The exception tree of leadgen: everything it raises on purpose derives from LeadgenError."""


class LeadgenError(Exception):
    """Raised when leadgen itself detects a failure; the root of every leadgen error."""


class BillingError(LeadgenError):
    """Raised when a job runs out of credits and has been paused for an upgrade."""


class PausedForBilling(BillingError):
    """Raised when leadgen stored a job's billing pause together with the outcome reporting it:
    the actor that raised it has nothing left to report."""


class DecodeError(LeadgenError):
    """Raised when a message body cannot be decoded into its model; keeps the raw body."""

    def __init__(self, reason: str, body: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.body = body


class ConfigurationError(LeadgenError):
    """Raised when a setting or a provider name cannot be used."""


class ProviderError(LeadgenError):
    """Raised when a lead source or an auditor fails for a reason of its own."""


class StoreUnavailable(LeadgenError):
    """Raised when the store cannot be reached; the message is retried, not dead-lettered."""


class BrokerUnavailable(LeadgenError):
    """Raised when the broker cannot be reached, refuses an operation, or a delivery can no
    longer be settled (already settled, or its connection closed)."""


class UnroutableMessage(LeadgenError):
    """Raised when a published message reaches no queue."""


class Superseded(LeadgenError):
    """Raised when a message belongs to a run that is no longer current; it is acked as done.

    Control flow, not a failure (invariant 4: a superseded run never changes the job)."""
