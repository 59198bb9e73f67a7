"""The contract's files: what ``leadgen schema --out DIR`` writes and ``docs/`` keeps.

``DIR/schemas/<body type>.json`` for every public message (schema.py) and ``DIR/asyncapi.yaml``
(asyncapi.py), each generated from the models; a test keeps the committed copies equal."""

import json
from pathlib import Path
from typing import Any

from leadgen.contract.asyncapi import document, to_yaml
from leadgen.contract.schema import json_schemas


def write_schemas(out: Path) -> list[Path]:
    """Write the JSON Schemas and ``asyncapi.yaml`` under ``out``; the files written."""
    documents = {path: _json(schema) for path, schema in json_schemas().items()}
    documents["asyncapi.yaml"] = to_yaml(document())
    written = []
    for relative, text in documents.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"
