"""The AsyncAPI 3.0 document of leadgen's public contract, and a small YAML writer for it.

It describes, from leadgen's point of view, the commands it receives on ``leadgen.commands``,
the events it sends to ``leadgen.events`` and the dead letters it sends to ``leadgen.dead``
(contract sections 2, 4 and 5): one channel per routing key, with its AMQP binding, and one
message per body type, whose payload is the JSON Schema file schema.py writes beside it.
The document is plain dicts, lists and scalars, so YAML needs no library: ``to_yaml`` writes
block style and double-quotes (JSON-escapes) every string that is not obviously plain."""

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.broker.topology import EXCHANGES
from leadgen.contract.schema import COMMAND_EXAMPLES, COMMANDS, EVENT_MODELS, body_type, schema_file

BINDING_VERSION = "0.3.0"
SCHEMA_FORMAT = "application/schema+json;version=2020-12"
CONTRACT_VERSION = "1.0.0"
EXCHANGE_TYPES = {exchange.name: exchange.type for exchange in EXCHANGES}

DESCRIPTION = """\
Lead-generation jobs as durable, pausable workflows. Other services send commands to the \
topic exchange leadgen.commands and watch lifecycle events on the topic exchange \
leadgen.events; messages leadgen cannot handle go, unchanged, through the fanout exchange \
leadgen.dlx to the queue leadgen.dead with the header x-leadgen-error. Payload schemas are \
JSON Schema draft 2020-12 files in ./schemas."""


def document() -> dict[str, Any]:
    """The whole AsyncAPI document."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for key, model in COMMANDS.items():
        _add(channels, operations, messages, key, c.COMMANDS_EXCHANGE, model, "receive")
    for key, model in EVENT_MODELS.items():
        _add(channels, operations, messages, key, c.EVENTS_EXCHANGE, model, "send")
    channels[c.DEAD_LETTER_QUEUE] = _dead_letter_channel()
    operations[f"send.{c.DEAD_LETTER_QUEUE}"] = _operation(
        "send", c.DEAD_LETTER_QUEUE, "deadLetter"
    )
    messages["deadLetter"] = _dead_letter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "leadgen", "version": CONTRACT_VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The broker of LEADGEN_AMQP_URL.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "correlationIds": {
                "correlationId": {
                    "description": "The AMQP correlation_id property: set by the sender of "
                    "a command, copied by leadgen onto every message, event and log line the "
                    "command causes (events also carry it in their body).",
                    "location": "$message.header#/correlation_id",
                }
            },
            "messageTraits": {
                "commandProperties": _trait(sent_by="the sending service"),
                "leadgenProperties": _trait(sent_by="leadgen"),
            },
        },
    }


def _add(
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
    key: str,
    exchange: str,
    model: type[BaseModel],
    action: str,
) -> None:
    """Add the channel of routing key ``key``, leadgen's operation on it, and its message."""
    name = body_type(model)
    channels[key] = {
        "address": key,
        "title": f"{key} on {exchange}",
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": EXCHANGE_TYPES[exchange],
                    "durable": True,
                    "autoDelete": False,
                },
                "bindingVersion": BINDING_VERSION,
            }
        },
    }
    operations[f"{action}.{key}"] = _operation(action, key, name)
    messages[name] = _message(model, key, action)


def _operation(action: str, channel: str, message: str) -> dict[str, Any]:
    """The ``action`` (send or receive) by leadgen of ``message`` on ``channel``."""
    amqp: dict[str, Any] = (
        {"ack": True} if action == "receive" else {"deliveryMode": 2, "timestamp": True}
    )
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{_pointer(channel)}"},
        "messages": [{"$ref": f"#/channels/{_pointer(channel)}/messages/{_pointer(message)}"}],
        "bindings": {"amqp": {**amqp, "bindingVersion": BINDING_VERSION}},
    }


def _message(model: type[BaseModel], key: str, action: str) -> dict[str, Any]:
    name = body_type(model)
    trait = "commandProperties" if action == "receive" else "leadgenProperties"
    message: dict[str, Any] = {
        "name": name,
        "title": model.__name__,
        "summary": (model.__doc__ or name).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"./{schema_file(model)}"}},
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "traits": [{"$ref": f"#/components/messageTraits/{trait}"}],
        "bindings": {"amqp": {"messageType": name, "bindingVersion": BINDING_VERSION}},
    }
    if key in COMMAND_EXAMPLES:
        message["examples"] = [{"name": key, "payload": COMMAND_EXAMPLES[key]}]
    return message


def _trait(sent_by: str) -> dict[str, Any]:
    """The AMQP properties of a message sent by ``sent_by``.

    AsyncAPI headers are application headers only, and its AMQP bindings name only some
    properties, so the properties are listed under an ``x-amqp-properties`` extension."""
    by_leadgen = sent_by == "leadgen"
    return {
        "contentType": "application/json",
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "x-amqp-properties": {
            "content_type": {"value": "application/json", "required": True},
            "delivery_mode": {"value": 2, "required": True, "description": "persistent"},
            "message_id": {
                "required": by_leadgen,
                "description": "a fresh id for every message leadgen publishes"
                if by_leadgen
                else "optional idempotency key: a command re-sent with the same message_id "
                "has no second effect",
            },
            "correlation_id": {"required": False, "description": "see correlationId"},
            "type": {"required": by_leadgen, "description": "the body type"},
            "app_id": {"required": by_leadgen, "description": f"set by {sent_by}"},
            "timestamp": {"required": by_leadgen, "description": "when it was published"},
        },
    }


def _dead_letter_channel() -> dict[str, Any]:
    return {
        "address": c.DEAD_LETTER_QUEUE,
        "title": f"{c.DEAD_LETTER_QUEUE}, fed by the fanout exchange {c.DEAD_LETTER_EXCHANGE}",
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": c.DEAD_LETTER_QUEUE,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                },
                "bindingVersion": BINDING_VERSION,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "deadLetter",
        "title": "Dead letter",
        "summary": "A message leadgen could not handle, unchanged, with the reason.",
        "description": "The original body, routing key and properties are kept. Inspect, "
        "replay and purge with `leadgen dead list|replay|purge`.",
        "headers": {
            "type": "object",
            "properties": {
                c.ERROR_HEADER: {"type": "string", "description": "one-line reason"},
                "x-leadgen-queue": {"type": "string", "description": "queue it was taken from"},
                c.ATTEMPTS_HEADER: {"type": "integer", "description": "attempts made"},
                "x-death": {
                    "type": "array",
                    "description": "set by RabbitMQ instead when a quorum queue's delivery "
                    "limit dead-lettered the message",
                },
            },
        },
        "payload": {"description": "The original body, which may not be valid JSON."},
    }


def _pointer(token: str) -> str:
    """``token`` escaped for a JSON pointer (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


# A string written without quotes: starts with a letter, then only safe characters.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/ ]*[A-Za-z0-9_.\-/]|[A-Za-z_]")
# Plain words YAML 1.1 readers take for booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def to_yaml(value: Any) -> str:
    """``value`` (dicts, lists, str, int, bool, None) as a YAML document."""
    return "\n".join(_lines(value, "")) + "\n"


def _lines(value: Any, pad: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_block(item):
                yield f"{pad}{_scalar(key)}:"
                yield from _lines(item, pad + "  ")
            else:
                yield f"{pad}{_scalar(key)}: {_scalar(item)}"
    else:
        for item in value:
            if _is_block(item):
                first, *rest = _lines(item, pad + "  ")
                yield f"{pad}- {first.lstrip()}"
                yield from rest
            else:
                yield f"{pad}- {_scalar(item)}"


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)
