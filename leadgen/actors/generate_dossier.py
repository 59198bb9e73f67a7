"""Phase ``generate_dossier``: one research audit per queued lead, spread across workers.

The phase task plans the run's audits and dispatches the first ``audit_concurrency`` of
them; each finished audit dispatches the one ``audit_concurrency`` places further on, so a
job never has more audits in flight than that. Every audit is paid for just before it
starts, once per (job, lead) whatever happens (invariant 5). The audit that finds the
balance empty pauses the job; audits already paid for finish and are kept, the others are
not started (invariant 3). The last audit to be accounted for reports the phase outcome."""

from typing import Any

from leadgen import constants as c
from leadgen.actors.base import Actor, PhaseActor, bind_job, report_failure
from leadgen.billing import pause_for_billing
from leadgen.broker.base import Delivery
from leadgen.errors import BillingError
from leadgen.jobs import charge_key, refresh_counts, refund_key, transition
from leadgen.log import log
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import AUDIT_TASK, AuditTask, PhaseOutcome
from leadgen.store.base import Guard
from leadgen.store.models import AuditPlan, Job, Lead, LeadTotals

TRANSIENT_NAMES = frozenset({"StoreUnavailable", "BrokerUnavailable"})


class GenerateDossierActor(PhaseActor):
    """Plans the audits of this run and starts the first of them."""

    phase = c.GENERATE_DOSSIER

    async def run(self, job: Job) -> dict[str, Any] | None:
        plan = await self._plan(job)
        if not plan.lead_ids:
            return outcome_detail(await refresh_counts(self.services.store, job))
        window = self.services.settings.audit_concurrency
        for index, lead_id in enumerate(plan.lead_ids[:window]):
            await self.services.publisher.audit_task(
                AuditTask(job_id=job.id, workflow_id=job.workflow_id, lead_id=lead_id, index=index),
                job.correlation_id,
            )
        log.info("audits_dispatched", planned=len(plan.lead_ids), in_flight=window)
        return None  # the last audit reports the outcome

    async def _plan(self, job: Job) -> AuditPlan:
        """The run's plan: stored once, so a redelivered task dispatches the same audits."""
        if job.audit_plan is not None and job.audit_plan.workflow_id == job.workflow_id:
            return job.audit_plan
        leads = await self.services.store.leads(job.id)
        todo = sorted(
            (lead for lead in leads if lead.queued and not lead.accounted),
            key=lambda lead: (lead.queue_rank or 0, lead.lead_id),
        )
        plan = AuditPlan(workflow_id=job.workflow_id, lead_ids=[lead.lead_id for lead in todo])
        after, latest = await transition(
            self.services.store,
            job.id,
            Guard(workflow_id=job.workflow_id, statuses=("running",)),
            lambda current: (
                None
                if current.audit_plan and current.audit_plan.workflow_id == job.workflow_id
                else {"audit_plan": plan.model_dump()}
            ),
        )
        stored = (after or latest or job).audit_plan
        return stored if stored is not None and stored.workflow_id == job.workflow_id else plan


def outcome_detail(totals: LeadTotals) -> dict[str, Any]:
    """The phase's detail and status from the queued leads' results."""
    return {
        "queued": totals.queued,
        "done": totals.done,
        "failed": totals.failed,
        "status": "completed_with_failures" if totals.failed else "completed",
    }


class AuditActor(Actor[AuditTask]):
    """Pays for, runs and stores the audit of one lead."""

    queue = c.AUDIT_QUEUE
    adapter = AUDIT_TASK

    async def handle(self, message: AuditTask, delivery: Delivery) -> None:
        store = self.services.store
        job = await store.get_job(message.job_id)
        if job is None:
            return
        bind_job(job)
        current = job.workflow_id == message.workflow_id and job.status == "running"
        paid = await store.has_movement(charge_key(job.id, message.lead_id))
        if not (current or paid):
            # Not paid for and the run is paused, superseded or over: do not start it.
            log.info("audit_skipped", lead_id=message.lead_id, status=job.status)
            return
        lead = await store.get_lead(job.id, message.lead_id)
        if lead is None:
            log.warning("audit_lead_missing", lead_id=message.lead_id)
            return
        try:
            await self._audit(job, lead, paid)
        except BillingError as exc:
            await report_failure(self.services, job, c.GENERATE_DOSSIER, exc)
            return
        await self._continue(job, message)

    async def _audit(self, job: Job, lead: Lead, paid: bool) -> None:
        """Charge, audit and store; refund a failed audit. Each step is idempotent."""
        store = self.services.store
        failed = lead.dossier_error is not None
        if not lead.accounted:
            if not paid:
                await self._charge(job, lead)  # raises BillingError when it cannot
                paid = True
            failed = await self._research(job, lead)
        if failed and paid:
            # Credits spent equal dossiers delivered: a failed audit is refunded, once (also
            # when an earlier delivery recorded the failure and stopped before refunding).
            refund = await store.move_credits(
                job.customer_id,
                c.DOSSIER_RESEARCH,
                +1,
                refund_key(job.id, lead.lead_id),
                job_id=job.id,
                lead_id=lead.lead_id,
            )
            if refund.applied:
                self.services.metrics.credits_refunded.labels(c.DOSSIER_RESEARCH).inc()

    async def _research(self, job: Job, lead: Lead) -> bool:
        """Run the auditor and store its dossier or its error; True when the lead failed."""
        store = self.services.store
        try:
            dossier = await self.services.auditor.audit(lead)
        except Exception as exc:
            error = ErrorEnvelope.from_exception(exc)
            if error.name in TRANSIENT_NAMES:
                raise
            log.warning("audit_failed", lead_id=lead.lead_id, error=error.model_dump())
            if await store.record_audit(job.id, lead.lead_id, error=error.model_dump()):
                return True
        else:
            if await store.record_audit(job.id, lead.lead_id, dossier=dossier):
                return False
        # Another delivery of this audit recorded its result first: that result stands.
        stored = await store.get_lead(job.id, lead.lead_id)
        return stored is not None and stored.dossier_error is not None

    async def _charge(self, job: Job, lead: Lead) -> None:
        """Take the lead's credit, or pause the job for lack of it."""
        store = self.services.store
        movement = await store.move_credits(
            job.customer_id,
            c.DOSSIER_RESEARCH,
            -1,
            charge_key(job.id, lead.lead_id),
            job_id=job.id,
            lead_id=lead.lead_id,
        )
        if movement.applied:
            self.services.metrics.credits_charged.labels(c.DOSSIER_RESEARCH).inc()
        if movement.applied or movement.already:
            return
        await pause_for_billing(
            self.services,
            job,
            phase=c.GENERATE_DOSSIER,
            feature_id=c.DOSSIER_RESEARCH,
            required=await self._still_to_pay(job),
            available=movement.balance,
        )

    async def _still_to_pay(self, job: Job) -> int:
        """How many queued leads still need a credit to finish the phase."""
        paid = {
            entry.lead_id
            for entry in await self.services.store.ledger(job.id)
            if entry.feature_id == c.DOSSIER_RESEARCH and entry.delta < 0
        }
        leads = await self.services.store.leads(job.id)
        return max(
            1, sum(ld.queued and not ld.accounted and ld.lead_id not in paid for ld in leads)
        )

    async def _continue(self, job: Job, message: AuditTask) -> None:
        """Dispatch the next audit of the plan and report the phase when all are accounted."""
        store = self.services.store
        fresh = await store.get_job(job.id)
        if fresh is None or fresh.workflow_id != message.workflow_id or fresh.status != "running":
            await refresh_counts(store, job)
            return
        plan = fresh.audit_plan
        following = message.index + self.services.settings.audit_concurrency
        if (
            plan is not None
            and plan.workflow_id == fresh.workflow_id
            and following < len(plan.lead_ids)
        ):
            await self.services.publisher.audit_task(
                AuditTask(
                    job_id=job.id,
                    workflow_id=fresh.workflow_id,
                    lead_id=plan.lead_ids[following],
                    index=following,
                ),
                fresh.correlation_id,
            )
        totals = await refresh_counts(store, fresh)
        if totals.all_accounted:
            detail = outcome_detail(totals)
            await self.services.publisher.outcome(
                PhaseOutcome(
                    job_id=job.id,
                    workflow_id=fresh.workflow_id,
                    phase=c.GENERATE_DOSSIER,
                    status=detail["status"],
                    detail=detail,
                ),
                fresh.correlation_id,
            )
