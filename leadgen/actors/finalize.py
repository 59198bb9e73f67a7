"""Phase ``finalize``: count what the job delivered and complete it, never for a paused job.

This is the finalize layer of invariant 2; ``complete_flow`` has its own guard as well."""

from typing import Any

from typing_extensions import override

from leadgen.actors.base import PhaseActor
from leadgen.constants import FINALIZE
from leadgen.log import log
from leadgen.store.models import Job
from leadgen.workflow.jobs import complete_flow, finalize_outcome


class FinalizeActor(PhaseActor):
    """Computes the final counts and calls ``complete_flow``."""

    phase = FINALIZE

    @override
    async def skip_not_running(self, job: Job) -> None:
        if job.status == "paused_for_upgrade":
            log.warning("finalize_skipped_paused")
        else:
            # Completed by an earlier delivery: a redelivery has published its outcome.
            await super().skip_not_running(job)

    @override
    async def run(self, job: Job) -> dict[str, Any] | None:
        counts = (await self.services.store.lead_totals(job.id)).counts()
        completed = await complete_flow(self.services.store, job, counts)
        # The outcome for the supervisor was stored with the completion; a refusal (paused,
        # no longer running) leaves the job as it is. Only that outcome is sent: the rest of
        # the outbox belongs to handlers still publishing it (a full flush would repeat them).
        report = finalize_outcome(job, counts).id
        await self.services.publisher.flush(completed, only=[report])
        return None
