"""Phase ``queue_audits`` as a pure function: which leads get a dossier."""

from collections.abc import Sequence

from leadgen.store.models import Lead


def select_for_dossiers(leads: Sequence[Lead], max_dossiers: int) -> list[Lead]:
    """The best ``max_dossiers`` leads that are not duplicates, best first.

    Ordered by score descending (a lead not yet scored counts as 0), then ``lead_id`` ascending,
    so the choice is the same on every redelivery."""
    if max_dossiers <= 0:
        return []
    candidates = [lead for lead in leads if lead.duplicate_of is None]
    candidates.sort(key=lambda lead: (-(lead.score or 0), lead.lead_id))
    return candidates[:max_dossiers]
