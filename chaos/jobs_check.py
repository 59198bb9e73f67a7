"""What the ``jobs`` collection says about the planned jobs: which exist, which are still
running, and whether each settled job is in a state the contract allows (completed, or
paused for an upgrade with its billing block and paused phase intact)."""

from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from chaos.figures import Figures
from chaos.scenario import Plan

Doc = dict[str, Any]


@dataclass
class JobsView:
    """The planned jobs as stored: found by their unique query, with what is wrong with them."""

    docs: dict[int, list[Doc]] = field(default_factory=dict)
    unplanned: list[Doc] = field(default_factory=list)

    def missing(self) -> list[int]:
        """Indexes of planned jobs never created."""
        return [index for index, docs in self.docs.items() if not docs]

    def running(self) -> list[Doc]:
        """Jobs still running."""
        return [doc for doc in self.all() if doc.get("status") == "running"]

    def all(self) -> list[Doc]:
        """Every stored job of the run."""
        return [doc for docs in self.docs.values() for doc in docs] + self.unplanned

    def settled(self) -> bool:
        """True when every planned job exists and none is running."""
        return not self.missing() and not self.running()


def read_jobs(db: Database[Doc], plan: Plan) -> JobsView:
    """Read every job and match it to the plan by customer and query."""
    by_key = {(job.customer_id, job.query): job.index for job in plan.jobs}
    view = JobsView(docs={job.index: [] for job in plan.jobs})
    for doc in db["jobs"].find({}):
        request = doc.get("request") or {}
        index = by_key.get((str(doc.get("customer_id")), str(request.get("query"))))
        if index is None:
            view.unplanned.append(doc)
        else:
            view.docs[index].append(doc)
    return view


def phase_summary(doc: Doc) -> str:
    """``job-id status run N: source=completed,...`` for reports."""
    phases = ",".join(f"{p.get('name')}={p.get('status')}" for p in doc.get("phases", []))
    return f"{doc['_id']} {doc.get('status')} run {doc.get('runs')}: {phases}"


def pause_problem(doc: Doc) -> str | None:
    """Why a paused job is not a proper billing pause, or None when it is."""
    block = doc.get("billing_block")
    if not block:
        return "paused without a billing_block"
    phase = next((p for p in doc.get("phases", []) if p.get("name") == block.get("phase")), None)
    if phase is None or phase.get("status") != "paused":
        return f"billing_block names {block.get('phase')} but that phase is not paused"
    if block.get("phase") == "generate_dossier" and block.get("feature_id") != "dossier_research":
        return f"generate_dossier paused on {block.get('feature_id')}"
    return None


def check_jobs(view: JobsView, plan: Plan, figures: Figures) -> None:
    """Count job statuses and note every job that is missing, doubled, stuck or broken."""
    figures.jobs = len(plan.jobs)
    figures.note("missing_jobs", *(f"job #{i} ({plan.jobs[i].query})" for i in view.missing()))
    for index, docs in view.docs.items():
        figures.note("duplicate_jobs", *(f"#{index}: {d['_id']}" for d in docs[1:]))
    figures.note("duplicate_jobs", *(f"unplanned {d['_id']}" for d in view.unplanned))
    for doc in view.all():
        figures.resumed_jobs += int(doc.get("runs") or 1) > 1
        status = doc.get("status")
        if status == "running":
            figures.note("stuck_jobs", phase_summary(doc))
        elif status == "completed":
            figures.completed += 1
        elif status == "paused_for_upgrade":
            figures.paused += 1
            problem = pause_problem(doc)
            if problem is not None:
                figures.note("broken_pauses", f"{doc['_id']}: {problem}")
        else:
            figures.failed += status == "failed"
            figures.cancelled += status == "cancelled"
            # The run injects no poison into jobs: any failure or cancel is unexpected.
            figures.note("unexpected_failures", f"{phase_summary(doc)} error={doc.get('error')}")
