"""The audit actor: pays for, runs and stores the research audit of one lead.

Every audit is paid for just before it starts, once per (job, lead) whatever happens
(invariant 5). The audit that finds the balance empty pauses the job; audits already paid for
finish and are kept, the others are not started (invariant 3). An audit ends with one write to
the job that accounts it (``audits[lead]``, the counts) and stores the task of the audit a
window further on; the audit that accounts the plan's last lead stores the phase outcome. An
audit that can never be handled is accounted as failed and refunded (invariant 10)."""

from typing_extensions import override

from leadgen import constants as c
from leadgen.actors.base import Actor, bind_job, recover
from leadgen.actors.generate_dossier import phase_done, plan_done
from leadgen.broker.base import Delivery
from leadgen.errors import PausedForBilling
from leadgen.ids import charge_key, refund_key
from leadgen.log import log
from leadgen.messages.envelope import ErrorEnvelope
from leadgen.messages.tasks import AUDIT_TASK, AuditTask
from leadgen.store.base import Guard
from leadgen.store.models import AuditResult, Job, Lead, OutboxEntry
from leadgen.workflow.billing import pause_for_billing
from leadgen.workflow.jobs import Change, commit
from leadgen.workflow.outbox import audit_task

TRANSIENT_NAMES = frozenset({"StoreUnavailable", "BrokerUnavailable"})


class AuditActor(Actor[AuditTask]):
    """Pays for, runs and stores the audit of one lead."""

    queue = c.AUDIT_QUEUE
    adapter = AUDIT_TASK

    @override
    async def handle(self, message: AuditTask, delivery: Delivery) -> None:
        store = self.services.store
        job = await store.get_job(message.job_id)
        if job is None:
            return
        bind_job(job)
        await recover(self.services, job, delivery)
        if message.lead_id in job.audits:
            # Accounted by an earlier delivery, which may have stopped before what follows.
            await self._report_if_last(job)
            return
        current = job.workflow_id == message.workflow_id and job.status == "running"
        # Whether the lead was paid for matters only outside its running run: ask only then.
        paid = None if current else await store.has_movement(charge_key(job.id, message.lead_id))
        if paid is False:
            # Not paid for and the run is paused, superseded or over: do not start it.
            log.info("audit_skipped", lead_id=message.lead_id, status=job.status)
            return
        lead = await store.get_lead(job.id, message.lead_id)
        if lead is None:
            log.warning("audit_lead_missing", lead_id=message.lead_id)
            return
        try:
            failed = await self._audit(job, lead, paid)
        except PausedForBilling:
            return  # the pause was stored with the outcome that reports it
        await self._account(job, message, "failed" if failed else "done")

    async def give_up(self, message: AuditTask, reason: str) -> None:
        """An audit that can never be handled is a failed audit: error, refund, accounted."""
        store = self.services.store
        job = await store.get_job(message.job_id)
        lead = await store.get_lead(message.job_id, message.lead_id)
        if job is None or lead is None:
            return
        if message.lead_id not in job.audits:
            error = ErrorEnvelope.failure("AuditFailed", reason)
            await store.record_audit(job.id, lead.lead_id, error=error.model_dump())
            stored = await store.get_lead(job.id, lead.lead_id)
            failed = stored is None or stored.dossier is None
            if failed:
                await self._refund(job, lead)
            await self._account(job, message, "failed" if failed else "done")
        else:
            await self.services.publisher.flush(job)
            await self._report_if_last(job)

    async def _audit(self, job: Job, lead: Lead, paid: bool | None) -> bool:
        """Charge, audit and store; refund a failed audit; True when it failed. Each step is
        idempotent, so a redelivery finishes what an earlier delivery started. ``paid``: whether
        the lead's charge exists, None when not asked yet."""
        failed = lead.dossier_error is not None
        key = charge_key(job.id, lead.lead_id)
        if not lead.accounted:
            await self._charge(job, lead, bool(paid))  # raises PausedForBilling when it cannot
            failed = await self._research(job, lead)
        elif paid or (paid is None and await self.services.store.has_movement(key)):
            await self._charge(job, lead, True)  # finishes a half-recorded movement, if any
        if failed:
            # Credits spent equal dossiers delivered: a failed audit is refunded, once (also
            # when an earlier delivery recorded the failure and stopped before refunding).
            await self._refund(job, lead)
        return failed

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

    async def _charge(self, job: Job, lead: Lead, paid: bool) -> None:
        """Take the lead's credit (once per key), or pause the job for lack of it."""
        movement = await self.services.store.move_credits(
            job.customer_id,
            c.DOSSIER_RESEARCH,
            -1,
            charge_key(job.id, lead.lead_id),
            job_id=job.id,
            lead_id=lead.lead_id,
        )
        if movement.applied:
            self.services.metrics.credits_charged.labels(c.DOSSIER_RESEARCH).inc()
        if movement.applied or movement.already or paid:
            return
        await pause_for_billing(
            self.services,
            job,
            phase=c.GENERATE_DOSSIER,
            feature_id=c.DOSSIER_RESEARCH,
            required=await self._still_to_pay(job),
            available=movement.balance,
        )

    async def _refund(self, job: Job, lead: Lead) -> None:
        """Give back the credit of a failed audit, once, if it was charged."""
        store = self.services.store
        if not await store.has_movement(charge_key(job.id, lead.lead_id)):
            return
        # The charge again first: it finishes a charge an earlier delivery left half-recorded
        # (moved but not in the ledger), so the ledger holds both sides (invariant 5).
        await self._charge(job, lead, paid=True)
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

    async def _still_to_pay(self, job: Job) -> int:
        """How many queued leads still need a credit to finish the phase."""
        store = self.services.store
        paid = {
            entry.lead_id
            for entry in await store.ledger(job.id)
            if entry.feature_id == c.DOSSIER_RESEARCH and entry.delta < 0
        }
        waiting = [
            lead.lead_id
            for lead in await store.leads(job.id)
            if lead.queued and lead.lead_id not in job.audits and lead.lead_id not in paid
        ]
        # A charge another audit is making right now may not be in the ledger yet.
        unpaid = [
            lead_id
            for lead_id in waiting
            if not await store.has_movement(charge_key(job.id, lead_id))
        ]
        return max(1, len(unpaid))

    async def _account(self, job: Job, message: AuditTask, result: AuditResult) -> None:
        """Account the audit on the job, with the next audit of the plan, and publish it."""
        outbox = self._next_audit(job, message)
        after = await self.services.store.account_audit(job.id, message.lead_id, result, outbox)
        if after is None:  # another delivery accounted it: it sends what follows
            return
        await self.services.publisher.flush(after, only=[e.id for e in outbox])
        await self._report_if_last(after)

    def _next_audit(self, job: Job, message: AuditTask) -> list[OutboxEntry]:
        """The task of the audit one window further on in this run's plan, if any."""
        plan = job.audit_plan
        if (
            plan is None
            or plan.workflow_id != message.workflow_id
            or job.workflow_id != message.workflow_id
            or job.status != "running"
        ):
            return []
        following = message.index + plan.window
        if following >= len(plan.lead_ids):
            return []
        task = AuditTask(
            job_id=job.id,
            workflow_id=plan.workflow_id,
            lead_id=plan.lead_ids[following],
            index=following,
        )
        return [audit_task(task, job.correlation_id)]

    async def _report_if_last(self, job: Job) -> None:
        """Store and publish the phase outcome once the plan's every lead is accounted."""
        if not plan_done(job):
            return
        await commit(
            self.services,
            job,
            Guard(workflow_id=job.workflow_id, statuses=("running",)),
            lambda current: (
                Change({}, outbox=[phase_done(current)]) if plan_done(current) else None
            ),
        )
