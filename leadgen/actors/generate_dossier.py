"""Phase ``generate_dossier``: one research audit per queued lead, spread across workers.

The phase task plans the run's audits once: the leads still to audit and the window (how many
may be in flight at once, ``audit_concurrency`` of the worker that planned, stored with the
plan so every worker keeps to it). The same write stores the tasks of the first window, and
each accounted audit stores the task of the one a window further on (actors/audit.py), so a job
never has more audits in flight than that. With nothing left to audit, the plan's write stores
the phase outcome itself."""

from typing import Any

from typing_extensions import override

from leadgen import constants as c
from leadgen.actors.base import PhaseActor
from leadgen.log import log
from leadgen.messages.tasks import AuditTask, PhaseOutcome
from leadgen.store.base import Guard
from leadgen.store.models import AuditPlan, Job, OutboxEntry
from leadgen.workflow.jobs import Change, commit
from leadgen.workflow.outbox import audit_task, outcome


class GenerateDossierActor(PhaseActor):
    """Plans the audits of this run and starts the first of them."""

    phase = c.GENERATE_DOSSIER

    @override
    async def run(self, job: Job) -> dict[str, Any] | None:
        leads = await self.services.store.leads(job.id)
        queued = sorted(
            (lead for lead in leads if lead.queued),
            key=lambda lead: (lead.queue_rank or 0, lead.lead_id),
        )
        window = self.services.settings.audit_concurrency

        def decide(current: Job) -> Change | None:
            planned = current.audit_plan
            if planned is not None and planned.workflow_id == current.workflow_id:
                return None  # planned by an earlier delivery: the plan stands
            if current.phase(self.phase).status != "running":
                return None
            # Leads audited in an earlier run (paid for and kept) are not audited again.
            todo = [lead.lead_id for lead in queued if lead.lead_id not in current.audits]
            plan = AuditPlan(workflow_id=current.workflow_id, lead_ids=todo, window=window)
            return Change(
                {"audit_plan": plan.model_dump(), "audits_pending": len(todo)},
                outbox=first_audits(current, plan) if todo else [phase_done(current)],
            )

        after, _ = await commit(
            self.services, job, Guard(workflow_id=job.workflow_id, statuses=("running",)), decide
        )
        if after is not None and after.audit_plan is not None:
            planned = len(after.audit_plan.lead_ids)
            log.info("audits_dispatched", planned=planned, in_flight=min(window, planned))
        return None  # the outcome is stored: with the plan, or by the last audit


def first_audits(job: Job, plan: AuditPlan) -> list[OutboxEntry]:
    """The tasks of the plan's first window."""
    return [
        audit_task(
            AuditTask(job_id=job.id, workflow_id=plan.workflow_id, lead_id=lead_id, index=index),
            job.correlation_id,
        )
        for index, lead_id in enumerate(plan.lead_ids[: plan.window])
    ]


def phase_done(job: Job) -> OutboxEntry:
    """The phase outcome once every queued lead is accounted, from the job's counts."""
    done, failed = job.counts.dossiers_done, job.counts.dossiers_failed
    status = "completed_with_failures" if failed else "completed"
    detail = {"queued": done + failed, "done": done, "failed": failed, "status": status}
    return outcome(
        PhaseOutcome(
            job_id=job.id,
            workflow_id=job.workflow_id,
            phase=c.GENERATE_DOSSIER,
            status=status,
            detail=detail,
        ),
        job.correlation_id,
    )


def plan_done(job: Job) -> bool:
    """True when the running phase's plan has no audit left to account."""
    plan = job.audit_plan
    return (
        job.status == "running"
        and plan is not None
        and plan.workflow_id == job.workflow_id
        and job.audits_pending <= 0
        and job.phase(c.GENERATE_DOSSIER).status == "running"
    )
