"""Selection for dossiers: the best non-duplicate leads, in a stable order."""

import pytest

from leadgen.leads import select_for_dossiers
from leadgen.store.models import Lead


def lead(lead_id: str, score: int | None, duplicate_of: str | None = None) -> Lead:
    """A lead of job ``j`` with a score."""
    return Lead(job_id="j", lead_id=lead_id, name=lead_id, score=score, duplicate_of=duplicate_of)


LEADS = [
    lead("l5", 40),
    lead("l2", 90),
    lead("l4", 90),
    lead("l1", 70),
    lead("l3", 95, duplicate_of="l2"),
    lead("l6", None),
    lead("l0", 0),
]


@pytest.mark.parametrize(
    ("max_dossiers", "expected"),
    [
        (0, []),
        (1, ["l2"]),
        (3, ["l2", "l4", "l1"]),
        (10, ["l2", "l4", "l1", "l5", "l0", "l6"]),
    ],
)
def test_best_scores_first_ties_by_lead_id(max_dossiers: int, expected: list[str]) -> None:
    """Leads come by score descending then lead id, unscored as 0, duplicates left out."""
    chosen = select_for_dossiers(LEADS, max_dossiers)
    assert [item.lead_id for item in chosen] == expected


def test_selection_does_not_depend_on_input_order() -> None:
    """Shuffled input gives the same selection."""
    assert select_for_dossiers(list(reversed(LEADS)), 4) == select_for_dossiers(LEADS, 4)


def test_a_negative_maximum_selects_nothing() -> None:
    """A maximum below zero selects no lead."""
    assert select_for_dossiers(LEADS, -1) == []
