"""Phase ``queue_audits``: choose the leads that get a dossier (best score, then lead id)."""

from typing import Any

from typing_extensions import override

from leadgen.actors.base import PhaseActor
from leadgen.constants import QUEUE_AUDITS
from leadgen.leads.selection import select_for_dossiers
from leadgen.store.models import Job


class QueueAuditsActor(PhaseActor):
    """Marks the best ``max_dossiers`` leads ``queued`` with their rank; the rest not."""

    phase = QUEUE_AUDITS

    @override
    async def run(self, job: Job) -> dict[str, Any]:
        store = self.services.store
        leads = await store.leads(job.id)
        chosen = select_for_dossiers(leads, job.request.max_dossiers)
        rank = {lead.lead_id: index for index, lead in enumerate(chosen)}
        await store.update_leads(
            job.id,
            {
                lead.lead_id: {"queued": lead.lead_id in rank, "queue_rank": rank.get(lead.lead_id)}
                for lead in leads
            },
        )
        return {"queued": len(chosen)}
