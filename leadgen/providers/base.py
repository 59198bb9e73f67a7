"""The two provider ports: a lead source finds businesses, an auditor researches one lead.

Phase ``source`` asks a ``LeadSource`` for raw leads; phase ``generate_dossier`` asks an
``Auditor`` for one dossier per queued lead. Both are small async protocols so that an offline
implementation (providers/offline.py) and networked ones can stand side by side."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from leadgen.store.models import Lead


def _version() -> str:
    try:
        return version("leadgen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


# Sent by every networked provider: the Overpass usage policy and polite crawling both ask for
# a User-Agent that names the software and what it does.
USER_AGENT = f"leadgen/{_version()} (lead research; one request at a time)"


class RawLead(BaseModel):
    """A business as a lead source reports it, before enrichment and scoring.

    ``source_id`` is unique within one ``find`` answer. ``signals`` holds what the source knows
    beyond contact data, e.g. ``rating``, ``reviews``, ``employees``, ``years_in_business``,
    ``has_online_booking``."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    name: str
    website: str | None = None
    location: str | None = None
    phone: str | None = None
    email: str | None = None
    industry: str | None = None
    keywords: list[str] = Field(default_factory=list)
    signals: dict[str, Any] = Field(default_factory=dict)

    def lead_fields(self) -> dict[str, Any]:
        """The fields of a ``Lead`` taken from this raw lead.

        ``Lead`` has no ``keywords`` field, so the keywords travel in ``signals["keywords"]``,
        where scoring looks for them."""
        signals = dict(self.signals)
        if self.keywords:
            signals["keywords"] = list(self.keywords)
        return {
            "name": self.name,
            "website": self.website,
            "location": self.location,
            "phone": self.phone,
            "email": self.email,
            "industry": self.industry,
            "signals": signals,
        }


class Found(list[RawLead]):
    """What a lead source found, with what it has to say about it: the rows of the customer's
    file it skipped (``{"line", "reason"}`` each) and notes such as a cap on the number of
    leads. A plain list is a ``Found`` with nothing to say."""

    def __init__(
        self,
        leads: list[RawLead] | None = None,
        *,
        skipped: list[dict[str, Any]] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(leads or [])
        self.skipped = skipped or []
        self.notes = notes or []


class LeadSource(Protocol):
    """Finds businesses matching a query near a location."""

    name: str

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        """Up to ``limit`` raw leads, best matches first (a ``Found`` to report skipped rows
        or notes).

        Raises ProviderError (or any exception) when the source fails."""
        ...


class Auditor(Protocol):
    """Researches one lead and writes its dossier."""

    name: str

    async def audit(self, lead: Lead) -> dict[str, Any]:
        """The dossier of ``lead``, a JSON-able dict.

        Raises ProviderError (or any exception) when the audit fails; the caller stores the
        failure as ``{name, message}``."""
        ...
