"""Phase ``score``: a deterministic 0 to 100 fit score, with its reasons, for every lead."""

from typing import Any

from typing_extensions import override

from leadgen.actors.base import PhaseActor
from leadgen.constants import SCORE
from leadgen.leads.scoring import score_lead
from leadgen.store.models import Job


class ScoreActor(PhaseActor):
    """Scores each lead against the job's request."""

    phase = SCORE

    @override
    async def run(self, job: Job) -> dict[str, Any]:
        store = self.services.store
        leads = await store.leads(job.id)
        changes: dict[str, dict[str, Any]] = {}
        for lead in leads:
            score, reasons = score_lead(lead, job.request)
            changes[lead.lead_id] = {"score": score, "score_reasons": reasons}
        await store.update_leads(job.id, changes)
        scores = [fields["score"] for fields in changes.values()]
        return {"scored": len(scores), "top_score": max(scores, default=0)}
