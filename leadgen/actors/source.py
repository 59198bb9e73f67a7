"""Phase ``source``: discover leads for the job's query, for one ``lead_discovery`` credit."""

from typing import Any

from typing_extensions import override

from leadgen.actors.base import PhaseActor
from leadgen.constants import LEAD_DISCOVERY, SOURCE
from leadgen.ids import charge_key, lead_id_of
from leadgen.providers.base import RawLead
from leadgen.store.models import Job, Lead
from leadgen.workflow.billing import pause_for_billing

JOB_WIDE = "job"  # the lead id of charges that belong to the whole job
MAX_REPORTED_ROWS = 20  # skipped rows kept in the source detail (all are counted)


def lead_of(job: Job, raw: RawLead, rank: int) -> Lead:
    """The stored lead of a raw lead found by the source."""
    signals = dict(raw.signals)
    if raw.keywords:
        signals.setdefault("keywords", list(raw.keywords))
    return Lead(
        job_id=job.id,
        lead_id=lead_id_of(raw.source_id),
        name=raw.name,
        website=raw.website,
        location=raw.location,
        phone=raw.phone,
        email=raw.email,
        industry=raw.industry,
        signals=signals,
        source_rank=rank,
    )


class SourceActor(PhaseActor):
    """Checks the discovery credit, asks the lead source, stores the leads, then charges."""

    phase = SOURCE

    @override
    async def run(self, job: Job) -> dict[str, Any]:
        store = self.services.store
        key = charge_key(job.id, JOB_WIDE, LEAD_DISCOVERY)
        paid = await store.has_movement(key)
        if not paid:
            available = (await store.balances(job.customer_id)).get(LEAD_DISCOVERY, 0)
            if available < 1:
                await self._pause(job, available)
        request = job.request
        found = await self.services.lead_source.find(
            request.query, request.location, request.max_leads
        )
        leads = [lead_of(job, raw, rank) for rank, raw in enumerate(found[: request.max_leads])]
        await store.add_leads(leads)
        # Charged after the leads are stored: a crash in between charges on redelivery, and
        # the key makes it once (invariant 5). Charged again when already paid, too: the call
        # finishes a movement an earlier delivery left half-recorded.
        movement = await store.move_credits(
            job.customer_id, LEAD_DISCOVERY, -1, key, job_id=job.id, lead_id=JOB_WIDE
        )
        if movement.applied:
            self.services.metrics.credits_charged.labels(LEAD_DISCOVERY).inc()
        elif not movement.already:
            await self._pause(job, movement.balance)
        detail: dict[str, Any] = {"found": len(leads), "provider": self.services.lead_source.name}
        skipped = getattr(found, "skipped", [])
        if skipped:
            # Kept with the job, so the customer learns which rows of their list were left out.
            detail["skipped"] = len(skipped)
            detail["skipped_rows"] = skipped[:MAX_REPORTED_ROWS]
        notes = getattr(found, "notes", [])
        if notes:
            detail["notes"] = list(notes)
        return detail

    async def _pause(self, job: Job, available: int) -> None:
        await pause_for_billing(
            self.services,
            job,
            phase=SOURCE,
            feature_id=LEAD_DISCOVERY,
            required=1,
            available=available,
        )
