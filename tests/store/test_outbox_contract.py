"""The store's outbox, audit accounting and maintenance queries, on both implementations."""

from datetime import timedelta

import pytest

from leadgen.ids import utcnow
from leadgen.store.base import Guard, Store
from leadgen.store.models import OutboxEntry
from tests.store.test_contract import PAST, make_job


def entry(message_id: str) -> OutboxEntry:
    """An outbox entry with id ``message_id``."""
    return OutboxEntry(
        id=message_id, exchange="leadgen.internal", routing_key="audit", type="t", body="{}"
    )


async def test_update_adds_outbox_entries_in_the_same_write(store: Store) -> None:
    """Entries given to ``update_job`` are stored with the change, keyed by message id."""
    await store.insert_job(make_job())
    after = await store.update_job(
        "job-1", Guard(), {"status": "failed"}, outbox=[entry("m1"), entry("m2")]
    )
    assert after is not None and list(after.outbox) == ["m1", "m2"]
    assert after.outbox_since is not None and after.outbox_since > PAST
    assert await store.get_job("job-1") == after


async def test_refused_update_stores_no_entry(store: Store) -> None:
    """An update the guard refuses stores none of its entries."""
    await store.insert_job(make_job())
    assert (
        await store.update_job("job-1", Guard(workflow_id="w9"), {}, outbox=[entry("m1")]) is None
    )
    job = await store.get_job("job-1")
    assert job is not None and job.outbox == {} and job.outbox_since is None


async def test_clear_at_version_empties_the_outbox(store: Store) -> None:
    """Clearing with the version of the copy that was published empties the whole outbox."""
    await store.insert_job(make_job())
    after = await store.update_job("job-1", Guard(), {}, outbox=[entry("m1"), entry("m2")])
    assert after is not None
    await store.clear_outbox("job-1", ["m1", "m2"], version=after.version)
    job = await store.get_job("job-1")
    assert job is not None and job.outbox == {} and job.outbox_since is None
    assert job.version == after.version  # clearing is no transition


async def test_clear_after_a_later_write_keeps_its_entries(store: Store) -> None:
    """Entries added after the published copy survive its clearing; only its ids go."""
    await store.insert_job(make_job())
    first = await store.update_job("job-1", Guard(), {}, outbox=[entry("m1")])
    await store.update_job("job-1", Guard(), {}, outbox=[entry("m2")])
    assert first is not None
    await store.clear_outbox("job-1", ["m1"], version=first.version)
    job = await store.get_job("job-1")
    assert job is not None and list(job.outbox) == ["m2"]


async def test_clear_of_some_ids_keeps_the_others(store: Store) -> None:
    """Clearing ids without a version removes exactly those entries."""
    await store.insert_job(make_job())
    await store.update_job("job-1", Guard(), {}, outbox=[entry("m1"), entry("m2")])
    await store.clear_outbox("job-1", ["m2"])
    job = await store.get_job("job-1")
    assert job is not None and list(job.outbox) == ["m1"]


async def test_outbox_key_with_a_dot_is_refused(store: Store) -> None:
    """A message id MongoDB would read as a path is refused before anything is written."""
    await store.insert_job(make_job())
    with pytest.raises(ValueError):
        await store.update_job("job-1", Guard(), {"status": "failed"}, outbox=[entry("a.b")])
    job = await store.get_job("job-1")
    assert job is not None and job.status == "running"


async def test_account_audit_counts_each_lead_once(store: Store) -> None:
    """An audit is accounted once: counts, pending audits and outbox move once per lead."""
    await store.insert_job(make_job(audits_pending=2))
    first = await store.account_audit("job-1", "ld_a", "done", [entry("next-a")])
    again = await store.account_audit("job-1", "ld_a", "failed", [entry("other")])
    failed = await store.account_audit("job-1", "ld_b", "failed", [])
    assert first is not None and again is None and failed is not None
    assert first.audits == {"ld_a": "done"} and list(first.outbox) == ["next-a"]
    assert failed.audits == {"ld_a": "done", "ld_b": "failed"}
    assert (failed.counts.dossiers_done, failed.counts.dossiers_failed) == (1, 1)
    assert failed.audits_pending == 0 and failed.version == 2
    assert await store.get_job("job-1") == failed


async def test_account_audit_of_unknown_job_is_none(store: Store) -> None:
    """Accounting an audit of a job that does not exist changes nothing."""
    assert await store.account_audit("nope", "ld_a", "done", []) is None
    assert await store.get_job("nope") is None


async def test_unsent_jobs_are_those_with_old_entries(store: Store) -> None:
    """The relay's query finds jobs whose latest entry is older than the cut-off."""
    await store.insert_job(make_job("old"))
    await store.insert_job(make_job("quiet"))
    await store.update_job("old", Guard(), {}, outbox=[entry("m1")])
    assert [j.id for j in await store.unsent_jobs(utcnow() + timedelta(seconds=1))] == ["old"]
    assert await store.unsent_jobs(utcnow() - timedelta(seconds=60)) == []


async def test_stalled_jobs_are_running_jobs_not_updated_since(store: Store) -> None:
    """The reconciler's query finds running jobs last updated before the cut-off only."""
    await store.insert_job(make_job("stalled"))
    await store.insert_job(make_job("paused", status="paused_for_upgrade"))
    await store.insert_job(make_job("fresh"))
    await store.update_job("fresh", Guard(), {})
    found = await store.stalled_jobs(utcnow() - timedelta(seconds=60))
    assert [j.id for j in found] == ["stalled"]
