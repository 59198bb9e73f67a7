"""``is_billing_pause_error`` recognises a billing pause in every form it can arrive in,
and nothing else."""

import pytest

from leadgen.errors import BillingError, LeadgenError
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.workflow.billing import is_billing_pause_error, pause_message

MESSAGE = pause_message("dossier_research", 3, 0)


class BillingErrorLookalike(Exception):
    """An exception from another module that happens to share the name."""


BillingErrorLookalike.__name__ = "BillingError"


@pytest.mark.parametrize(
    "err",
    [
        BillingError(MESSAGE),
        BillingError("no text at all"),
        BillingErrorLookalike("rebuilt on the other side of a wire"),
        RuntimeError(f"wrapped: {MESSAGE}"),
        ErrorEnvelope(name="BillingError", message=""),
        ErrorEnvelope(name="Error", message=MESSAGE),
        {"name": "BillingError"},
        {"message": MESSAGE},
        {"name": "Error", "message": f"activity failed: {MESSAGE}"},
        ErrorEnvelope(name="Error", message=f"Uncaught BillingError: {MESSAGE}"),
        {"name": "Error", "message": f"Uncaught BillingError: {MESSAGE}", "code": None},
        ErrorEnvelope(name="BillingError", message=MESSAGE, code="billing_pause"),
        ErrorEnvelope(name="Anything", message="", code="billing_pause"),
        {"name": "Error", "message": "", "code": "billing_pause"},
        MESSAGE,
        "Workflow paused for billing",
    ],
    ids=repr,
)
def test_accepts_every_form(err: object) -> None:
    """An instance, a name, or the message text, as exception, envelope, dict or string."""
    assert is_billing_pause_error(err)


@pytest.mark.parametrize(
    "err",
    [
        None,
        "",
        0,
        [],
        ["BillingError"],
        LeadgenError(),
        ValueError("payment required"),
        ErrorEnvelope(name="billingerror", message="lowercase name"),
        ErrorEnvelope(name="BillingErrors", message=""),
        ErrorEnvelope(name="NotBillingError", message="a different class"),
        ErrorEnvelope(name="Error", message="workflow paused for billing"),
        ErrorEnvelope(name="Error", message="Workflow paused"),
        {"name": None, "message": None},
        {"name": "Error", "message": 42},
        {"error": {"name": "BillingError"}},
        "Workflow paused for bill",
        "BillingError",
        b"Workflow paused for billing",
        # leadgen's own envelopes carry their code: a failure quoting the marker is a failure.
        ErrorEnvelope(name="ProviderError", message=f"upstream said: {MESSAGE}", code="error"),
        ErrorEnvelope(name="BillingError", message=MESSAGE, code="error"),
        {"name": "Error", "message": MESSAGE, "code": "error"},
    ],
    ids=repr,
)
def test_rejects_near_misses(err: object) -> None:
    """Other names, other texts, other cases and other types are not billing pauses."""
    assert not is_billing_pause_error(err)


def test_envelope_of_billing_error_keeps_name_and_message() -> None:
    """A BillingError turned into data still reads as a billing pause on the other side."""
    envelope = ErrorEnvelope.from_exception(BillingError(MESSAGE))
    rebuilt = ErrorEnvelope.model_validate_json(envelope.model_dump_json())
    assert (rebuilt.name, rebuilt.message) == ("BillingError", MESSAGE)
    assert is_billing_pause_error(rebuilt)
    assert is_billing_pause_error(rebuilt.model_dump())


def test_envelope_code_comes_from_the_exception_type() -> None:
    """leadgen's envelopes say what they are from the type raised, not from their text."""
    echoed = ErrorEnvelope.from_exception(RuntimeError(f"provider echoed: {MESSAGE}"))
    assert echoed.code == "error" and not is_billing_pause_error(echoed)
    assert ErrorEnvelope.from_exception(BillingError("short")).code == "billing_pause"
