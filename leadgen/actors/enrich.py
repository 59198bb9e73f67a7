"""Phase ``enrich``: normalise names and websites, derive domains, mark duplicates."""

from typing import Any

from typing_extensions import override

from leadgen.actors.base import PhaseActor
from leadgen.constants import ENRICH
from leadgen.leads.normalise import enrich
from leadgen.store.models import Job
from leadgen.workflow.jobs import refresh_counts


class EnrichActor(PhaseActor):
    """Rewrites every lead of the job in normalised form; duplicates get ``duplicate_of``."""

    phase = ENRICH

    @override
    async def run(self, job: Job) -> dict[str, Any]:
        store = self.services.store
        leads = await store.leads(job.id, include_duplicates=True)
        changes = enrich(leads)
        await store.update_leads(job.id, changes)
        await refresh_counts(store, job)  # the job shows its lead count from here on
        duplicates = sum(1 for fields in changes.values() if fields.get("duplicate_of"))
        return {"leads": len(leads) - duplicates, "duplicates": duplicates}
