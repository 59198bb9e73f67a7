"""The published schemas: up to date with the models, usable by other services, complete."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from leadgen import constants as c
from leadgen.actors.commands import TYPE_OF_KEY
from leadgen.contract.asyncapi import document, to_yaml
from leadgen.contract.files import write_schemas
from leadgen.contract.schema import COMMAND_EXAMPLES, DIALECT, json_schemas
from leadgen.errors import DecodeError
from leadgen.messages.answers import ANSWERS, CommandAnswer
from leadgen.messages.codec import decode
from leadgen.messages.commands import COMMAND
from leadgen.messages.events import EVENTS, JobEvent
from tests.support.ops_cli import run_cli

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "run `leadgen schema --out docs` and commit the result"

# Straight from contract sections 2 and 4, not from the code under test.
COMMAND_KEYS = {"leadgen.start", "leadgen.resume", "leadgen.cancel", "leadgen.credits.grant"}
EVENT_KEYS = {
    "job.started",
    "job.paused",
    "job.resumed",
    "job.resume_refused",
    "job.completed",
    "job.failed",
    "job.cancelled",
    "command.accepted",
    "command.refused",
}


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root``, by its relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def validate(schema: dict[str, Any], value: Any) -> list[str]:
    """What ``value`` breaks in ``schema``, by the jsonschema library (draft 2020-12, formats
    such as ``date-time`` checked)."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [error.message for error in validator.iter_errors(value)]


def schema_of(body_type: str) -> dict[str, Any]:
    """The generated schema of the message whose body type is ``body_type``."""
    return json_schemas()[f"schemas/{body_type}.json"]


def test_committed_schemas_are_up_to_date_with_the_models(tmp_path: Path) -> None:
    """docs/ holds exactly the files `leadgen schema` generates now, byte for byte."""
    write_schemas(tmp_path)
    generated = files_under(tmp_path)
    committed = {
        name: data
        for name, data in files_under(DOCS).items()
        if name.startswith("schemas/") or name == "asyncapi.yaml"
    }

    assert sorted(committed) == sorted(generated), f"docs/ has other files: {REGENERATE}"
    stale = [name for name in generated if committed[name] != generated[name]]
    assert not stale, f"out of date with the models: {', '.join(stale)}; {REGENERATE}"


def test_every_public_message_has_an_identified_2020_12_schema() -> None:
    """Four commands, seven events and two command answers, each a draft 2020-12 schema with
    its $id and title."""
    schemas = json_schemas()

    expected = {
        *TYPE_OF_KEY.values(),
        *(event.model_fields["type"].default for event in (*EVENTS, *ANSWERS)),
    }
    assert {schema["title"] for schema in schemas.values()} == expected
    assert len(expected) == 13
    for path, schema in schemas.items():
        assert schema["$schema"] == DIALECT
        assert schema["$id"].endswith(schema["title"])
        assert path == f"schemas/{schema['title']}.json"
        assert schema["required"][0] == "type"


@pytest.mark.parametrize("routing_key", sorted(COMMAND_EXAMPLES))
def test_example_command_validates_and_leadgen_accepts_it(routing_key: str) -> None:
    """Each published example command satisfies its schema and decodes as the worker does."""
    example = COMMAND_EXAMPLES[routing_key]

    assert validate(schema_of(example["type"]), example) == []
    command = decode(COMMAND, _json_bytes(example))
    assert command.type == TYPE_OF_KEY[routing_key]


@pytest.mark.parametrize(
    ("routing_key", "change"),
    [
        (c.START_KEY, {"customer_id": None}),
        (c.START_KEY, {"max_leads": 0}),
        (c.START_KEY, {"customer_id": "has spaces"}),
        (c.RESUME_KEY, {"type": None}),
        (c.GRANT_KEY, {"amount": 0}),
        (c.GRANT_KEY, {"amount": "10"}),
        (c.GRANT_KEY, {"feature_id": "gold"}),
    ],
    ids=repr,
)
def test_schema_and_leadgen_both_refuse_a_bad_command(
    routing_key: str, change: dict[str, Any]
) -> None:
    """A command the schema rejects is one the worker would dead-letter, and the reverse."""
    example = dict(COMMAND_EXAMPLES[routing_key])
    for name, value in change.items():
        if value is None:
            del example[name]
        else:
            example[name] = value

    assert validate(schema_of(COMMAND_EXAMPLES[routing_key]["type"]), example) != []
    with pytest.raises(DecodeError):
        decode(COMMAND, _json_bytes(example))


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.ROUTING_KEY)
def test_event_as_leadgen_publishes_it_validates(event: type[JobEvent]) -> None:
    """An event serialised by leadgen satisfies its schema, every field present."""
    fields: dict[str, Any] = {
        "job_id": "job-1",
        "customer_id": "cus-1",
        "workflow_id": "wf-1",
        "status": "running",
        "at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "correlation_id": "corr-1",
        "request": {"query": "dentists"},
        "billing_block": {"feature_id": c.DOSSIER_RESEARCH},
        "previous_workflow_id": "wf-0",
        "reset_phases": [c.GENERATE_DOSSIER, c.FINALIZE],
        "reason": "insufficient_credits",
        "counts": {"leads": 3},
        "error": {"name": "ProviderError", "message": "down"},
    }
    body = event(**{name: fields[name] for name in event.model_fields if name in fields})
    published = body.model_dump(mode="json")

    assert validate(schema_of(body.type), published) == []
    assert set(schema_of(body.type)["required"]) == set(published)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda answer: answer.ROUTING_KEY)
def test_command_answer_as_leadgen_publishes_it_validates(answer: type[CommandAnswer]) -> None:
    """A command answer serialised by leadgen satisfies its schema, every field present."""
    fields: dict[str, Any] = {
        "command": "resume",
        "customer_id": "cus-1",
        "job_id": "job-1",
        "message_id": "msg-1",
        "correlation_id": "corr-1",
        "user_id": "billing",
        "app_id": "billing-service",
        "at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "status": "running",
        "balance": 3,
        "resumed_jobs": ["job-1"],
        "reason": "insufficient_credits",
        "detail": {"feature_id": c.DOSSIER_RESEARCH, "required": 2, "available": 1},
    }
    body = answer(**{name: fields[name] for name in answer.model_fields if name in fields})
    published = body.model_dump(mode="json")

    assert validate(schema_of(body.type), published) == []
    assert set(schema_of(body.type)["required"]) == set(published)


def test_asyncapi_references_only_existing_files_and_entries() -> None:
    """Every $ref of the AsyncAPI document points at a committed schema or into the document."""
    doc = document()
    refs = list(_refs(doc))

    assert any(ref.startswith("./schemas/") for ref in refs)
    for ref in refs:
        if ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
        else:
            assert (DOCS / ref).is_file(), ref


def test_asyncapi_names_every_routing_key_of_the_contract() -> None:
    """Commands are received and events sent on their exchanges; leadgen.dead is described."""
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    channels = doc["channels"]

    def addresses(exchange: str) -> set[str]:
        return {
            channel["address"]
            for channel in channels.values()
            if channel["bindings"]["amqp"].get("exchange", {}).get("name") == exchange
        }

    assert addresses(c.COMMANDS_EXCHANGE) == COMMAND_KEYS
    assert addresses(c.EVENTS_EXCHANGE) == EVENT_KEYS
    assert channels[c.DEAD_LETTER_QUEUE]["bindings"]["amqp"]["queue"]["name"] == "leadgen.dead"
    actions = {
        op["channel"]["$ref"].split("/")[-1]: op["action"] for op in doc["operations"].values()
    }
    assert {key for key, action in actions.items() if action == "receive"} == COMMAND_KEYS
    assert {key for key, action in actions.items() if action == "send"} == {
        *EVENT_KEYS,
        c.DEAD_LETTER_QUEUE,
    }


def test_yaml_writer_quotes_what_yaml_would_misread() -> None:
    """Plain words stay plain; booleans-looking words, numbers-looking text and ':' are quoted."""
    text = to_yaml(
        {
            "a": "plain text",
            "b": "yes",
            "c": "1.0",
            "d": "x: y",
            "e": True,
            "f": [],
            "g": [{"h": 1}],
        }
    )

    assert text == ('a: plain text\nb: "yes"\nc: "1.0"\nd: "x: y"\ne: true\nf: []\ng:\n  - h: 1\n')


def _refs(node: Any) -> Any:
    """Every ``$ref`` value in ``node``, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


async def test_schema_command_writes_what_write_schemas_writes(tmp_path: Path) -> None:
    """``leadgen schema --out DIR`` writes the thirteen schemas and the AsyncAPI document."""
    code, out, _ = await run_cli("schema", "--out", str(tmp_path / "docs"))

    assert code == 0
    assert "14 files" in out
    written = files_under(tmp_path / "docs")
    assert written == {name: files_under(DOCS)[name] for name in written}
    assert len(written) == 14
