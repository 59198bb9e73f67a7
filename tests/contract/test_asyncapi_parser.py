"""The AsyncAPI document checked by the official parser (@asyncapi/parser on Node.js), not by
code of ours: the committed document has no error, and a broken copy is caught.

``.ci/run`` installs the parser into ``.ci/node``; elsewhere, point ``LEADGEN_TEST_NODE_PATH``
at a ``node_modules`` that has it. Without Node.js or the parser the test is skipped, unless
``CI`` is set, where it fails."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "asyncapi" / "validate.mjs"
NODE_PATH = os.environ.get("LEADGEN_TEST_NODE_PATH", str(ROOT / ".ci" / "node" / "node_modules"))


def parse(document: Path) -> tuple[int, list[dict[str, Any]]]:
    """The parser's exit code and diagnostics for ``document``."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    if not (Path(NODE_PATH) / "@asyncapi" / "parser").is_dir():
        unavailable(f"@asyncapi/parser is not installed under {NODE_PATH} (.ci/run installs it)")
    done = subprocess.run(
        [str(node), str(SCRIPT), str(document)],
        env={**os.environ, "NODE_PATH": NODE_PATH},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not done.stderr.strip() or done.returncode in (0, 1), done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line]


def test_the_published_asyncapi_document_has_no_error() -> None:
    """docs/asyncapi.yaml parses with no error diagnostic (warnings and hints are allowed)."""
    code, diagnostics = parse(ROOT / "docs" / "asyncapi.yaml")
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert (code, errors) == (0, [])


def test_the_parser_catches_a_broken_document(tmp_path: Path) -> None:
    """A copy whose message points at a schema file that does not exist is an error: the check
    is real."""
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "schemas" / "leadgen.start.v1.json").unlink()
    code, diagnostics = parse(docs / "asyncapi.yaml")
    assert code == 1
    assert any(d["severity"] == "error" for d in diagnostics)
