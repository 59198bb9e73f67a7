"""The error envelope: how an error crosses an actor boundary, as data ``{name, message}``.

The Python class is lost on the wire, exactly as a JavaScript prototype is lost across a
runtime boundary; receivers recognise errors by ``name`` and ``message`` only."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgen.errors import BillingError

# What an envelope leadgen makes says it is, decided from the exception's type where it was
# raised: receivers trust it before reading names or texts (a text may quote anything).
ErrorCode = Literal["billing_pause", "error"]
BILLING_PAUSE: ErrorCode = "billing_pause"


class ErrorEnvelope(BaseModel):
    """An error as it travels between actors and is stored on jobs and leads.

    ``code`` is set on every envelope leadgen makes; envelopes from other runtimes have none."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(default="Error", max_length=200)
    message: str = Field(default="", max_length=4000)
    code: ErrorCode | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> "ErrorEnvelope":
        """Build the envelope of ``exc``: its class name, its text and its code."""
        code: ErrorCode = BILLING_PAUSE if isinstance(exc, BillingError) else "error"
        return cls(name=type(exc).__name__, message=str(exc)[:4000], code=code)

    @classmethod
    def failure(cls, name: str, message: str) -> "ErrorEnvelope":
        """An envelope leadgen makes for a failure that is not a billing pause."""
        return cls(name=name, message=message[:4000], code="error")
