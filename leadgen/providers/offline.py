"""The offline providers: a lead source and an auditor that need no network and no key.

They are the embedded default of ``leadgen run`` and what the fast tests use, so they are
deterministic (the same query and location give the same leads, the same lead gives the same
dossier: every choice comes from a ``random.Random`` seeded with a SHA-256 of the inputs, never
from Python's salted ``hash()``) and realistic enough to give every phase real work: website
variants to normalise, listings from neighbouring towns, and one duplicate listing in every
eight leads. The auditor's dossier is built in providers/offline_dossier.py."""

import hashlib
import random
import re
from typing import Any

from leadgen.errors import ProviderError
from leadgen.leads.normalise import fold
from leadgen.providers.base import Found, RawLead
from leadgen.providers.catalogue import (
    PLACES,
    SURNAMES,
    TLDS,
    Place,
    Trade,
    phone_for,
    place_for,
    trade_for,
)
from leadgen.providers.offline_dossier import build_dossier
from leadgen.store.models import Lead

# The catalogue of one query holds this many listings; ``find`` returns at most this many.
MAX_LEADS = 200
# One listing in every block of this many re-lists an earlier business (a duplicate).
DUPLICATE_EVERY = 8
_EMAIL_BOXES = ("info", "hello", "contact", "office", "frontdesk")
_SUBPAGES = ("contact/", "home", "index.html", "about-us/")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def _rng(*parts: str) -> random.Random:
    return random.Random(_digest(*parts))


def _website(domain: str, rng: random.Random) -> str | None:
    # The spellings listings really use, in rough proportion; enrich must reduce them all.
    roll = rng.random()
    variants = (
        (0.08, None),
        (0.55, f"https://www.{domain}/"),
        (0.65, f"https://{domain}/"),
        (0.73, f"http://www.{domain}"),
        (0.80, f"www.{domain}"),
        (0.85, domain),
        (0.90, f"HTTPS://WWW.{domain.upper()}/"),
        (0.95, f"https://www.{domain}/?utm_source=gmb&utm_medium=organic"),
    )
    for threshold, website in variants:
        if roll < threshold:
            return website
    return f"https://www.{domain}/{rng.choice(_SUBPAGES)}"


def _email(domain: str, slug: str, has_website: bool, rng: random.Random) -> str | None:
    roll = rng.random()
    if has_website and roll < 0.8:
        return f"{rng.choice(_EMAIL_BOXES)}@{domain}"
    return f"{slug}@gmail.com" if roll < (0.88 if has_website else 0.5) else None


def _location(requested: str | None, place: Place, rng: random.Random) -> str:
    if requested is None:
        return place.label
    if rng.random() < 0.22:
        return rng.choice(place.neighbours)
    # The requested place as different listings spell it; all of them name the same city.
    city = requested.split(",")[0].strip()
    return rng.choice((requested, requested, requested, requested.lower(), city, place.label))


def _signals(rng: random.Random) -> dict[str, Any]:
    return {
        "rating": round(rng.triangular(2.5, 5.0, 4.4), 1),
        "reviews": min(3000, int(rng.lognormvariate(3.8, 1.1))),
        "employees": max(1, min(250, int(rng.lognormvariate(2.0, 0.9)))),
        "years_in_business": rng.randint(1, 45),
        "has_online_booking": rng.random() < 0.45,
        "claimed_listing": rng.random() < 0.7,
    }


class _Catalogue:
    """The listings of one (query, location, seed), generated in order, one rng for all."""

    def __init__(self, query: str, location: str | None, seed: str) -> None:
        self.location = location.strip() if location and location.strip() else None
        # Spelling variants of one question ("Austin,TX", "austin, tx") share one catalogue.
        place_key = ",".join(" ".join(part.split()) for part in (self.location or "").split(","))
        key = (seed, " ".join(fold(query).lower().split()), fold(place_key).lower())
        self.rng = _rng("offline-leads", *key)
        self.prefix = "off-" + _digest(*key).hex()[:8]
        self.trade: Trade = trade_for(query)
        self.place = place_for(self.location) if self.location else None
        self.combos = [(h, t) for h in (*self.trade.heads, *SURNAMES) for t in self.trade.tails]
        self.rng.shuffle(self.combos)
        # (listing, domain) of every business listed so far, for relisting.
        self.originals: list[tuple[RawLead, str]] = []

    def listings(self, count: int) -> list[RawLead]:
        """The first ``count`` listings: the same ones whatever ``count`` is."""
        leads: list[RawLead] = []
        duplicate_at = -1
        for index in range(count):
            source_id = f"{self.prefix}-{index:03d}"
            if index % DUPLICATE_EVERY == 0:
                duplicate_at = index + self.rng.randrange(1, DUPLICATE_EVERY)
            if index == duplicate_at:
                leads.append(self._relisting(source_id))
            else:
                leads.append(self._business(source_id))
        return leads

    def _business(self, source_id: str) -> RawLead:
        rng, trade = self.rng, self.trade
        head, tail = self.combos[len(self.originals)]
        suffix = rng.choice(trade.suffixes)
        name = f"{head} {tail}" + (f"{rng.choice((' ', ', '))}{suffix}" if suffix else "")
        slug = re.sub(r"[^a-z0-9]", "", fold(f"{head} {tail}").lower())
        place = self.place or rng.choice(list(PLACES.values()))
        domain = slug + TLDS[place.country]
        website = _website(domain, rng)
        lead = RawLead(
            source_id=source_id,
            name=name,
            website=website,
            location=_location(self.location, place, rng),
            phone=phone_for(place, rng) if rng.random() < 0.92 else None,
            email=_email(domain, slug, website is not None, rng),
            industry=trade.industry,
            keywords=rng.sample(trade.keywords, k=rng.randint(2, 4)),
            signals=_signals(rng),
        )
        self.originals.append((lead, domain))
        return lead

    def _relisting(self, source_id: str) -> RawLead:
        # The same business from a second directory: same phone and town, but its name or
        # website spelt differently, so only enrich's domain or name key can tell.
        rng = self.rng
        original, domain = rng.choice(self.originals)
        name, website = original.name, original.website
        kind = rng.randrange(4)
        if kind == 0:
            website = (
                f"https://{domain}" if website and "www." in website.lower() else f"www.{domain}"
            )
        elif kind == 1:
            name = name.upper()
        elif kind == 2:
            name = name.replace(" ", "-", 1).replace("&", "and").rstrip(".") + "."
        else:
            name, website = name.lower(), None
        signals = {**original.signals, "reviews": rng.randrange(0, 40)}
        return original.model_copy(
            update={"source_id": source_id, "name": name, "website": website, "signals": signals}
        )


class OfflineLeadSource:
    """A lead source inventing plausible local businesses for any query and location.

    Queries about common trades (dentist, plumber, lawyer, coffee, restaurant, gym, salon,
    accountant, roofer, realtor) get that trade's names; any other query gets generic names
    built from its words. At most ``MAX_LEADS`` (200) leads per call: a larger ``limit`` is
    capped. ``seed`` gives a different, equally deterministic, catalogue."""

    name = "offline"

    def __init__(self, seed: str | None = None) -> None:
        self.seed = seed or ""

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        """The first ``min(limit, MAX_LEADS)`` listings of the query's catalogue.

        A smaller ``limit`` returns a prefix of what a larger one returns."""
        count = max(0, min(limit, MAX_LEADS))
        notes = [f"the offline source invents at most {MAX_LEADS} leads"] if limit > count else []
        return Found(_Catalogue(query, location, self.seed).listings(count), notes=notes)


class OfflineAuditor:
    """An auditor that inspects an imagined website and listing and writes a dossier.

    ``failure_rate`` (0..1) makes that share of leads fail with ProviderError, always the same
    leads, to exercise the ``completed_with_failures`` path."""

    name = "offline"

    def __init__(self, failure_rate: float = 0.0) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within 0..1, got {failure_rate}")
        self.failure_rate = failure_rate

    async def audit(self, lead: Lead) -> dict[str, Any]:
        """The dossier of ``lead``; the same business always gets the same one."""
        identity = (lead.name, lead.website or "", lead.location or "")
        if self.failure_rate > 0:
            draw = int.from_bytes(_digest("offline-failure", *identity)[:8], "big") / 2**64
            if draw < self.failure_rate:
                raise ProviderError(f"offline audit of {lead.name!r} failed: website timed out")
        return build_dossier(lead, _rng("offline-audit", *identity))
