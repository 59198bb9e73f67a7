"""The real providers end to end: a customer's CSV as lead source and the website auditor
visiting the fixture sites (tests/providers/sites.py), through ``leadgen run`` and through a
worker on RabbitMQ and the MongoDB-compatible server."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from leadgen.constants import DOSSIER_RESEARCH, LEAD_DISCOVERY
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.providers import auditor, lead_source
from tests.providers.sites import fixture_sites
from tests.support.backends import Backends
from tests.support.harness import running
from tests.system.test_qa_plan import capture, charges, events

CUSTOMER = "acme"
LEADS_CSV = """\
name,website,location,industry,phone,rating,reviews
Bright Smile Dental,http://wordpress.example/,"Austin, TX",Dentist,(512) 555-0142,4.8,310
Lone Star Dentistry,http://bare.example/,"Austin, TX",Dentist,,4.1,12
Capitol Dental Care,http://broken.example/,"Austin, TX",Dentist,(512) 555-0110,3.9,45
Joe's Plumbing,http://shop.example/,"Austin, TX",Plumber,,,
Dallas Dental,http://shop.example/,"Dallas, TX",Dentist,,,
Unreadable Dental,http://bare.example/,"Austin, TX",Dentist,,five stars,
"""
BROKEN = ErrorEnvelope(
    name="WebsiteHTTPError",
    message="http://broken.example/ answered HTTP 500 Internal Server Error",
    code="error",
)


def leads_csv(tmp_path: Path) -> Path:
    """The customer's list: three Austin dentists, one of them with a broken site."""
    path = tmp_path / "leads.csv"
    path.write_text(LEADS_CSV, encoding="utf-8")
    return path


async def test_leadgen_run_with_a_lead_file_and_the_website_auditor(tmp_path: Path) -> None:
    """``leadgen run --source file:... --auditor website`` audits the three Austin
    dentists of the file, prints two dossiers and the failed audit, and exits 0."""
    csv = leads_csv(tmp_path)
    async with fixture_sites() as sites:
        # The sites are reached through the test server as a proxy, as HTTP_PROXY says.
        env = {**os.environ, "HTTP_PROXY": sites.url, "LEADGEN_LOG_FORMAT": "json"}
        env.pop("NO_PROXY", None)
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "leadgen", "run", "--customer", "c", "--query", "dentists",
              "--location", "Austin", "--source", f"file:{csv}", "--auditor", "website",
              "--max-leads", "5", "--max-dossiers", "3"],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    assert "  source            completed" in out
    assert "  generate_dossier  completed_with_failures" in out
    assert ": completed (run 1;" in out
    dossiers = [line.strip() for line in out.splitlines() if line.strip().startswith("dossier:")]
    assert dossiers == [
        "dossier: Bright Smile Dental: wordpress.example (built with WordPress) scores 62/100 "
        "with 4 findings, 1 high; top issue: no https.",
        "dossier: Lone Star Dentistry: bare.example scores 43/100 with 6 findings, 2 high; "
        "top issue: no https.",
    ]
    assert f"no dossier: {BROKEN.name}: {BROKEN.message}" in out
    assert "Plumbing" not in out and "Dallas" not in out
    assert "Traceback" not in out + stderr.decode()


@pytest.mark.parametrize("backends", ["real"], indirect=True)
async def test_a_paused_job_resumes_with_website_dossiers(
    backends: Backends, tmp_path: Path
) -> None:
    """On RabbitMQ and MongoDB: a job short of dossier credits pauses; a top-up resumes it and
    it completes with website dossiers, the failed audit refunded, no lead charged twice."""
    source = lead_source(f"file:{leads_csv(tmp_path)}")
    async with fixture_sites() as sites:
        website = auditor(f"website:proxy={sites.url}")
        with capture() as logs:
            async with running(
                backends.store,
                backends.broker,
                backends.client,
                lead_source=source,
                auditor=website,
                audit_concurrency=1,
            ) as harness:
                await harness.grant(CUSTOMER, LEAD_DISCOVERY, 1)
                await harness.grant(CUSTOMER, DOSSIER_RESEARCH, 1)
                await harness.start(CUSTOMER, "job-web", max_leads=5, max_dossiers=3)
                await harness.until(lambda: events(logs, "on_complete_skipped_paused", "job-web"))
                paused = await harness.job_until("job-web", lambda job: True)
                await harness.grant(CUSTOMER, DOSSIER_RESEARCH, 5, auto_resume=False)
                await harness.resume(CUSTOMER, "job-web")
                done = await harness.job_until(
                    "job-web", lambda job: job.workflow_status == "completed"
                )
                leads = await harness.store.leads("job-web")
                ledger = await harness.store.ledger("job-web")
                net = await charges(harness, "job-web", DOSSIER_RESEARCH)
                balance = (await harness.store.balances(CUSTOMER))[DOSSIER_RESEARCH]

    assert paused.status == "paused_for_upgrade" and paused.billing_block is not None
    assert (paused.billing_block.feature_id, paused.billing_block.phase) == (
        DOSSIER_RESEARCH, "generate_dossier"
    )  # fmt: skip
    assert done.status == "completed" and done.runs == 2
    assert done.phase("generate_dossier").status == "completed_with_failures"
    assert done.phase("finalize").status == "completed"
    assert sorted(lead.name for lead in leads) == [
        "Bright Smile Dental", "Capitol Dental Care", "Lone Star Dentistry"
    ]  # fmt: skip
    by_name = {lead.name: lead for lead in leads}
    for name in ("Bright Smile Dental", "Lone Star Dentistry"):
        dossier = by_name[name].dossier
        assert dossier is not None and dossier["provider"] == "website", name
        assert dossier["summary"].startswith(f"{name}: ")
    failed = by_name["Capitol Dental Care"]
    assert failed.dossier is None and failed.dossier_error == BROKEN
    dossier_moves = [e for e in ledger if e.feature_id == DOSSIER_RESEARCH]
    assert sorted(e.delta for e in dossier_moves if e.lead_id == failed.lead_id) == [-1, 1]
    charged = [e.lead_id for e in dossier_moves if e.delta < 0]
    assert len(charged) == len(set(charged)) == 3
    assert net == {
        failed.lead_id: 0,
        **{by_name[n].lead_id: 1 for n in by_name if n != failed.name},
    }
    assert balance == 1 + 5 - 2
    assert (done.counts.dossiers_done, done.counts.dossiers_failed) == (2, 1)
    for name in ("job_paused_for_billing", "job_resumed", "job_completed"):
        assert events(logs, name, "job-web"), name


@pytest.mark.parametrize("backends", ["embedded"], indirect=True)
async def test_a_missing_lead_file_fails_the_job_with_a_clear_error(
    backends: Backends, tmp_path: Path
) -> None:
    """A lead file that is not there fails the job with ``LeadFileError`` and a one-line message."""
    missing = tmp_path / "nowhere.csv"
    async with running(
        backends.store, backends.broker, backends.client, lead_source=lead_source(f"file:{missing}")
    ) as harness:
        await harness.grant(CUSTOMER, LEAD_DISCOVERY, 1)
        await harness.start(CUSTOMER, "job-nofile")
        job = await harness.job_until("job-nofile", lambda job: job.status == "failed")
    assert job.error == ErrorEnvelope(
        name="LeadFileError",
        message=f"cannot read {missing}: No such file or directory",
        code="error",
    )
    assert job.phase("source").status == "failed"
