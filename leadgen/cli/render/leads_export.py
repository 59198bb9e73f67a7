"""A job's leads and dossiers as people and programs read them: ``leadgen leads JOB`` and
``leadgen run --format``.

``table`` is for people (a table on a terminal, plain lines elsewhere); ``json`` (one array),
``jsonl`` (one lead per line) and ``csv`` are for files and pipes. Every format carries every
field of a lead, its whole dossier and its dossier error; CSV puts nested values (the dossier,
the score reasons, the signals) in one JSON-encoded cell each, beside the dossier's summary
and score in cells of their own."""

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console

from leadgen.cli.render.console import show_leads
from leadgen.store.models import Lead

FORMATS = ("table", "json", "jsonl", "csv")
CSV_COLUMNS = (
    "job_id",
    "lead_id",
    "name",
    "website",
    "domain",
    "location",
    "phone",
    "email",
    "industry",
    "score",
    "score_reasons",
    "queued",
    "queue_rank",
    "source_rank",
    "duplicate_of",
    "signals",
    "dossier_summary",
    "dossier_score",
    "dossier",
    "dossier_error_name",
    "dossier_error_message",
)


def best_first(leads: Sequence[Lead]) -> list[Lead]:
    """The leads by score, best first; ties by lead id."""
    return sorted(leads, key=lambda lead: (-(lead.score or 0), lead.lead_id))


def record(lead: Lead) -> dict[str, Any]:
    """One lead as a JSON-ready document."""
    return lead.model_dump(mode="json")


def write_leads(leads: Sequence[Lead], fmt: str, out: TextIO, console: Console) -> None:
    """Write ``leads`` best first in format ``fmt`` (``table`` goes to ``console``)."""
    ordered = best_first(leads)
    if fmt == "table":
        show_leads(console, ordered)
    elif fmt == "json":
        json.dump([record(lead) for lead in ordered], out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for lead in ordered:
            out.write(json.dumps(record(lead)) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(lead) for lead in ordered)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def csv_row(lead: Lead) -> dict[str, Any]:
    """One lead as a CSV row: scalars as they are, nested values as JSON."""
    doc = record(lead)
    dossier = doc.pop("dossier")
    error = doc.pop("dossier_error") or {}
    row = {
        name: json.dumps(value) if isinstance(value, dict | list) else value
        for name, value in doc.items()
        if name in CSV_COLUMNS
    }
    row.update(
        dossier_summary=(dossier or {}).get("summary"),
        dossier_score=(dossier or {}).get("score"),
        dossier=json.dumps(dossier) if dossier is not None else None,
        dossier_error_name=error.get("name"),
        dossier_error_message=error.get("message"),
    )
    return row
