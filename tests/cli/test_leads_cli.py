"""``leadgen leads JOB`` and ``leadgen run --format``: a job's leads and dossiers in each
format, parsed back and compared with what the store holds."""

import asyncio
import csv
import io
import json
import os
from typing import Any

import pytest

from leadgen.cli.render.leads_export import CSV_COLUMNS
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.store.models import Job, JobRequest, Lead
from leadgen.store.mongo import MongoStore
from tests.support.processes import leadgen


def seeded_leads() -> list[Lead]:
    """A lead with a dossier, one whose audit failed, one never audited."""
    common: dict[str, Any] = {"job_id": "job-x", "industry": "Dentist", "queued": True}
    return [
        Lead(
            **common,
            lead_id="ld-a",
            name='Bright, "Smile" Dental',
            website="https://bright.example/",
            score=91,
            score_reasons=["has a website (+15)"],
            signals={"rating": 4.5},
            dossier={"summary": "Bright: 80/100", "score": 80, "findings": [{"title": "no https"}]},
        ),
        Lead(
            **common,
            lead_id="ld-b",
            name="Oak Dental",
            website="http://10.0.0.7/",
            score=70,
            dossier_error=ErrorEnvelope(name="WebsiteUnreachable", message="timed out"),
        ),
        Lead(job_id="job-x", lead_id="ld-c", name="Pine Dental", score=40),
    ]


@pytest.fixture
async def seeded(mongo_store: MongoStore, mongodb_url: str) -> dict[str, str]:
    """A job with three leads in MongoDB; the environment that points leadgen at them."""
    job = Job(id="job-x", customer_id="acme", workflow_id="wf", request=JobRequest(query="q"))
    await mongo_store.insert_job(job)
    await mongo_store.add_leads(seeded_leads())
    return {
        **os.environ,
        "LEADGEN_MONGODB_URL": mongodb_url,
        "LEADGEN_MONGODB_DB": mongo_store._name,
    }


@pytest.mark.mongo
@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
async def test_leads_in_each_format_read_back_as_stored(
    seeded: dict[str, str], mongo_store: MongoStore, fmt: str
) -> None:
    """Every field of every lead, the whole dossier and the dossier error come out, best
    first, and parse back to what the store holds."""
    done = await asyncio.to_thread(leadgen, "leads", "job-x", "--format", fmt, env=seeded)
    assert done.returncode == 0, done.stderr
    stored = [lead.model_dump(mode="json") for lead in await mongo_store.leads("job-x")]
    expected = sorted(stored, key=lambda lead: -lead["score"])
    if fmt == "json":
        assert json.loads(done.stdout) == expected
    elif fmt == "jsonl":
        assert [json.loads(line) for line in done.stdout.splitlines()] == expected
    else:
        rows = list(csv.DictReader(io.StringIO(done.stdout)))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert [row["lead_id"] for row in rows] == ["ld-a", "ld-b", "ld-c"]
        assert rows[0]["name"] == 'Bright, "Smile" Dental'
        assert json.loads(rows[0]["dossier"]) == expected[0]["dossier"]
        assert (rows[0]["dossier_summary"], rows[0]["dossier_score"]) == ("Bright: 80/100", "80")
        assert json.loads(rows[0]["score_reasons"]) == ["has a website (+15)"]
        assert (rows[1]["dossier"], rows[1]["dossier_error_name"]) == ("", "WebsiteUnreachable")
        assert rows[1]["dossier_error_message"] == "timed out"
        assert rows[2]["dossier"] == rows[2]["dossier_error_name"] == ""


@pytest.mark.mongo
async def test_leads_table_and_unknown_job(seeded: dict[str, str]) -> None:
    """The default format is for people: each lead, its dossier summary or its error; an
    unknown job is one line and exit 2."""
    done = await asyncio.to_thread(leadgen, "leads", "job-x", env=seeded)
    assert done.returncode == 0, done.stderr
    assert "dossier: Bright: 80/100" in done.stdout
    assert "no dossier: WebsiteUnreachable: timed out" in done.stdout
    missing = await asyncio.to_thread(leadgen, "leads", "job-none", env=seeded)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "leadgen: error: no job job-none"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_run_prints_its_leads_for_machines_on_stdout(fmt: str) -> None:
    """``run --format`` leaves stdout to the leads (progress goes to stderr): every lead,
    and as many dossiers as asked for."""
    done = leadgen(
        "run", "--customer", "a", "--query", "dentists", "--max-leads", "6",
        "--max-dossiers", "2", "--format", fmt,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        leads = json.loads(done.stdout)
    elif fmt == "jsonl":
        leads = [json.loads(line) for line in done.stdout.splitlines()]
    else:
        leads = list(csv.DictReader(io.StringIO(done.stdout)))
        leads = [{**row, "dossier": json.loads(row["dossier"]) if row["dossier"] else None}
                 for row in leads]  # fmt: skip
    assert 2 <= len(leads) <= 6  # duplicates found by the source are not listed
    assert len({lead["lead_id"] for lead in leads}) == len(leads)
    assert sum(lead["dossier"] is not None for lead in leads) == 2
    assert "generate_dossier" in done.stderr
