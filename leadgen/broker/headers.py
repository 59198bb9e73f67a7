"""Message headers as AMQP carries them: the one conversion both brokers share.

A header value travels as an AMQP field-table value, encoded by pamqp (the codec under
aio-pika), so it comes back the way RabbitMQ hands it over: timestamps as whole-second UTC
datetimes (a naive one is taken as UTC), floats with 32-bit precision, byte strings as
``bytes``. pamqp only encodes ``bytearray`` as a byte array, so ``bytes`` are converted on the
way out and back on the way in; that is what lets a delivery's headers, ``x-death`` included,
be published again unchanged. A value AMQP cannot carry (a set, an integer beyond 64 bits)
raises ``TypeError`` naming the header, on either broker."""

from collections.abc import Mapping

from pamqp import decode, encode
from pamqp.common import FieldTable, FieldValue

from leadgen import constants as c
from leadgen.broker.base import Delivery, HeaderValue


def original_routing_key(delivery: Delivery) -> str:
    """The routing key the message was first published with, also on a copy leadgen
    republished to its queue directly (a retry)."""
    kept = delivery.headers.get(c.ROUTING_KEY_HEADER)
    return kept if isinstance(kept, str) else delivery.routing_key


def attempt(delivery: Delivery) -> int:
    """Which attempt of its message ``delivery`` is (1 for the first), as retries count them."""
    counted = delivery.headers.get(c.ATTEMPTS_HEADER, 1)
    return counted if isinstance(counted, int) and counted > 0 else 1


def is_replay(delivery: Delivery) -> bool:
    """True when the message may have been handled before: redelivered, or a retried copy."""
    return delivery.redelivered or attempt(delivery) > 1


def to_field_table(headers: Mapping[str, HeaderValue]) -> FieldTable:
    """``headers`` in the types pamqp encodes: ``bytes`` become ``bytearray``, at any depth."""
    return {key: _to_field_value(value) for key, value in headers.items()}


def from_field_table(table: Mapping[str, FieldValue]) -> dict[str, HeaderValue]:
    """A decoded field table as leadgen headers: ``bytearray`` becomes ``bytes``, at any depth."""
    return {key: _to_header_value(value) for key, value in table.items()}


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    """``headers`` as the bytes of an AMQP field table."""
    return encode.field_table(to_field_table(headers))


def decode_headers(data: bytes) -> dict[str, HeaderValue]:
    """Headers from the bytes of an AMQP field table; a fresh dict on every call."""
    _, table = decode.field_table(data)
    return from_field_table(table)


def _to_field_value(value: HeaderValue) -> FieldValue:
    if isinstance(value, bytes):
        return bytearray(value)
    if isinstance(value, list):
        return [_to_field_value(item) for item in value]
    if isinstance(value, dict):
        return to_field_table(value)
    return value


def _to_header_value(value: FieldValue) -> HeaderValue:
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, list):
        return [_to_header_value(item) for item in value]
    if isinstance(value, dict):
        return from_field_table(value)
    return value
