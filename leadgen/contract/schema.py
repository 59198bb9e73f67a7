"""JSON Schemas of the public messages, generated from their pydantic models.

Commands as leadgen validates them, events and answers as it serialises them (JSON Schema draft
2020-12); ``leadgen schema --out DIR`` writes them as ``DIR/schemas/<body type>.json`` beside
the AsyncAPI document (files.py). The copies committed under ``docs/`` are what other services
validate against; a test keeps them equal to what the models give. Changing a schema is
changing the public contract: only by adding (docs/contract.md)."""

from typing import Any

from pydantic import BaseModel

from leadgen import constants as c
from leadgen.messages.answers import ANSWERS
from leadgen.messages.commands import CancelJob, GrantCredits, ResumeJob, StartJob
from leadgen.messages.events import EVENTS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:leadgen:schema:"
SCHEMAS_DIR = "schemas"

# Routing key -> model of the commands other services send (contract section 2).
COMMANDS: dict[str, type[BaseModel]] = {
    c.START_KEY: StartJob,
    c.RESUME_KEY: ResumeJob,
    c.CANCEL_KEY: CancelJob,
    c.GRANT_KEY: GrantCredits,
}

# Routing key -> model of the events leadgen publishes (contract section 4), and of the
# answers to commands (contract section 2).
EVENT_MODELS: dict[str, type[BaseModel]] = {
    **{event.ROUTING_KEY: event for event in EVENTS},
    **{answer.ROUTING_KEY: answer for answer in ANSWERS},
}

# A body another service could send for each command: published in the AsyncAPI document, and
# checked against the schemas and the models by the tests.
COMMAND_EXAMPLES: dict[str, dict[str, Any]] = {
    c.START_KEY: {
        "type": "leadgen.start.v1",
        "customer_id": "cus_123",
        "job_id": "job_2024_0001",
        "query": "dentists",
        "location": "Austin, TX",
        "max_leads": 25,
        "max_dossiers": 10,
    },
    c.RESUME_KEY: {
        "type": "leadgen.resume.v1",
        "job_id": "job_2024_0001",
        "customer_id": "cus_123",
    },
    c.CANCEL_KEY: {
        "type": "leadgen.cancel.v1",
        "job_id": "job_2024_0001",
        "customer_id": "cus_123",
        "reason": "no longer needed",
    },
    c.GRANT_KEY: {
        "type": "leadgen.credits.grant.v1",
        "customer_id": "cus_123",
        "feature_id": "dossier_research",
        "amount": 10,
        "grant_id": "invoice_98765",
        "auto_resume": True,
    },
}


def body_type(model: type[BaseModel]) -> str:
    """The ``type`` a message of ``model`` carries in its body (``leadgen.start.v1``)."""
    return str(model.model_fields["type"].default)


def schema_file(model: type[BaseModel]) -> str:
    """The path of ``model``'s schema, relative to the output directory."""
    return f"{SCHEMAS_DIR}/{body_type(model)}.json"


def command_schema(model: type[BaseModel]) -> dict[str, Any]:
    """What leadgen accepts for the command ``model``."""
    schema = model.model_json_schema(mode="validation")
    # The model has a default type, but commands are told apart by it: a body without one is
    # dead-lettered (messages/commands.py: the union is discriminated by ``type``).
    schema["required"] = ["type", *schema.get("required", [])]
    return _identified(model, schema)


def event_schema(model: type[BaseModel]) -> dict[str, Any]:
    """What leadgen publishes for the event ``model``."""
    schema = model.model_json_schema(mode="serialization")
    # leadgen's encoder omits nothing (messages/codec.py): every property is always present.
    schema["required"] = list(schema["properties"])
    return _identified(model, schema)


def _identified(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its dialect, its id and the body type as title, those keys first."""
    schema.pop("title", None)
    return {
        "$schema": DIALECT,
        "$id": f"{ID_PREFIX}{body_type(model)}",
        "title": body_type(model),
        **schema,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every public message's schema, by its path relative to the output directory."""
    schemas = {schema_file(model): command_schema(model) for model in COMMANDS.values()}
    schemas.update({schema_file(model): event_schema(model) for model in EVENT_MODELS.values()})
    return schemas
