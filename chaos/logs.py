"""The workers' output must be JSON lines only (contract section 7), also across SIGKILLs and
store outages: every stdout and stderr line of every worker incarnation is parsed."""

import json
from pathlib import Path


def non_json_lines(paths: list[Path]) -> list[str]:
    """``file:line: text`` for every non-empty line that is not a JSON object."""
    offenders = []
    for path in paths:
        if not path.exists():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not _is_json_object(line):
                offenders.append(f"{path.name}:{number}: {line[:200]}")
    return offenders


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
