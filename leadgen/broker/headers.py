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

from leadgen.broker.base import HeaderValue


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
