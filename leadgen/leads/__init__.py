"""Pure lead processing: normalise and deduplicate (enrich), score, select for dossiers."""

from leadgen.leads.normalise import (
    enrich,
    fold,
    name_key,
    normalise_name,
    normalise_website,
)
from leadgen.leads.scoring import score_lead
from leadgen.leads.selection import select_for_dossiers

__all__ = [
    "enrich",
    "fold",
    "name_key",
    "normalise_name",
    "normalise_website",
    "score_lead",
    "select_for_dossiers",
]
