"""Command validation (contract section 2): what is accepted, defaulted, tolerated, refused."""

import json

import pytest

from leadgen.errors import DecodeError
from leadgen.messages.codec import decode, encode
from leadgen.messages.commands import COMMAND, GrantCredits, StartJob


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_start_defaults_and_tolerates_unknown_fields() -> None:
    """A minimal start gets the contract's defaults; fields leadgen does not know are ignored."""
    command = decode(
        COMMAND, body(type="leadgen.start.v1", customer_id="acme", query="dentists", tier="gold")
    )
    assert isinstance(command, StartJob)
    assert (command.max_leads, command.max_dossiers, command.job_id, command.location) == (
        25,
        10,
        None,
        None,
    )


def test_grant_auto_resume_defaults_to_true() -> None:
    """``auto_resume`` is true unless the grant says otherwise."""
    command = decode(
        COMMAND,
        body(
            type="leadgen.credits.grant.v1",
            customer_id="a",
            feature_id="dossier_research",
            amount=3,
            grant_id="g",
        ),
    )
    assert isinstance(command, GrantCredits) and command.auto_resume is True


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"max_leads": 1001}, "max_leads"),
        ({"max_leads": 0}, "max_leads"),
        ({"max_dossiers": -1}, "max_dossiers"),
        ({"max_dossiers": 1001}, "max_dossiers"),
        ({"query": ""}, "query"),
        ({"query": "x" * 501}, "query"),
        ({"customer_id": ""}, "customer_id"),
        ({"customer_id": "a b"}, "customer_id"),
        ({"job_id": "x" * 201}, "job_id"),
        ({"location": "x" * 201}, "location"),
        ({"max_leads": "many"}, "max_leads"),
    ],
    ids=repr,
)
def test_start_out_of_range_is_refused(fields: dict[str, object], where: str) -> None:
    """Lengths and ranges are enforced; the error names the field and keeps the raw body."""
    raw = body(**{"type": "leadgen.start.v1", "customer_id": "acme", "query": "dentists", **fields})
    with pytest.raises(DecodeError) as caught:
        decode(COMMAND, raw)
    assert where in caught.value.reason
    assert caught.value.body == raw


@pytest.mark.parametrize("amount", [0, -5, 1.5, "3"])
def test_grant_amount_must_be_a_positive_int(amount: object) -> None:
    """A grant of zero, a negative, a fraction or a string is refused."""
    raw = body(
        type="leadgen.credits.grant.v1",
        customer_id="a",
        feature_id="lead_discovery",
        amount=amount,
        grant_id="g",
    )
    with pytest.raises(DecodeError, match="amount"):
        decode(COMMAND, raw)


@pytest.mark.parametrize("kind", ["leadgen.start.v2", "leadgen.pause.v1", None, 7])
def test_unknown_type_is_refused(kind: object) -> None:
    """Only the four command types of the contract decode."""
    with pytest.raises(DecodeError):
        decode(COMMAND, body(type=kind, customer_id="acme", query="x", job_id="j"))


def test_encode_decode_round_trip() -> None:
    """What leadgen encodes, it decodes to an equal command."""
    command = StartJob(customer_id="acme", query="dentists", location="Austin, TX", job_id="j-1")
    assert decode(COMMAND, encode(command)) == command
