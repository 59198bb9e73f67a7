"""Phase ``score`` as a pure function: how well one lead fits the request, 0..100, with reasons.

Weights (the maxima add up to 100; the total is clamped to 0..100):

- query, 30: times the share of the query's terms (stop words such as "best", "near" left out)
  found, in any inflection or accent, in the name, the industry or ``signals["keywords"]``;
- location, 25: the city (the part before the first comma, compared ignoring case and accents)
  is the requested one, or no location was requested; 10 when only the region (the part after
  the comma) matches; 0 otherwise or when the lead's location is unknown;
- website, 10, plus 5 when it is https; phone, 5; email, 5;
- ``signals["rating"]``, 0..10: linear from 2.5 (0) to 5.0 (10);
- ``signals["reviews"]``, 0..5: 2 per tenfold (10 reviews 2, 100 reviews 4, 316 or more 5);
- ``signals["employees"]``, 0..5: 5 for 2..50 (the small businesses leadgen sells to), 3 for
  51..250, 2 for a sole trader, 1 above 250.

Each factor adds one reason, "what was found (+points)", so a reader sees why a lead ranks
where it does. Missing or malformed signals count 0."""

import math
from typing import Any

from leadgen.leads import matching
from leadgen.leads.normalise import fold
from leadgen.store.models import JobRequest, Lead

QUERY_POINTS = 30
LOCATION_POINTS, REGION_POINTS = 25, 10
WEBSITE_POINTS, HTTPS_POINTS = 10, 5
PHONE_POINTS = EMAIL_POINTS = 5
RATING_POINTS, REVIEWS_POINTS, EMPLOYEES_POINTS = 10, 5, 5

_STOPWORDS = frozenset(
    ["a", "an", "and", "the", "best", "top", "cheap", "good", "local", "near", "me", "in", "at",
     "for", "of", "my"]
)  # fmt: skip

Scored = tuple[int, list[str]]


def _keywords(lead: Lead) -> list[str]:
    value: Any = lead.signals.get("keywords")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _query_points(lead: Lead, query: str) -> Scored:
    words = list(dict.fromkeys(matching.words(query)))
    terms = [w for w in words if w not in _STOPWORDS] or words
    if not terms:
        return 0, ["empty query (+0)"]
    haystack = set(matching.words(" ".join([lead.name, lead.industry or "", *_keywords(lead)])))
    found = [t for t in terms if any(matching.related(t, w) for w in haystack)]
    points = round(QUERY_POINTS * len(found) / len(terms))
    if not found:
        return 0, ["no query term in name, industry or keywords (+0)"]
    share = f"{len(found)} of {len(terms)} terms"
    return points, [f"matches the query: {', '.join(found)} ({share}) (+{points})"]


def _place(text: str) -> tuple[str, str | None]:
    parts = [" ".join(fold(part).lower().split()) for part in text.split(",")]
    return parts[0], (parts[1] or None) if len(parts) > 1 else None


def _location_points(lead: Lead, location: str | None) -> Scored:
    if not location or not location.strip():
        return LOCATION_POINTS, [f"no location requested (+{LOCATION_POINTS})"]
    if not lead.location or not lead.location.strip():
        return 0, ["location unknown (+0)"]
    wanted_city, wanted_region = _place(location)
    city, region = _place(lead.location)
    if city == wanted_city:
        return LOCATION_POINTS, [f"in {lead.location}, as requested (+{LOCATION_POINTS})"]
    if region is not None and region == wanted_region:
        return REGION_POINTS, [f"in {lead.location}: same region, other city (+{REGION_POINTS})"]
    return 0, [f"in {lead.location}, not in {location} (+0)"]


def _contact_points(lead: Lead) -> Scored:
    reasons, points = [], 0
    if lead.website:
        https = lead.website.lower().startswith("https://")
        points = WEBSITE_POINTS + (HTTPS_POINTS if https else 0)
        reasons.append(f"has a website{'' if https else ', not https'} (+{points})")
    else:
        reasons.append("no website (+0)")
    for value, label, gain in (
        (lead.phone, "phone", PHONE_POINTS),
        (lead.email, "email", EMAIL_POINTS),
    ):
        points += gain if value else 0
        reasons.append(f"{label} listed (+{gain})" if value else f"no {label} (+0)")
    return points, reasons


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _employee_points(employees: float) -> int:
    if 2 <= employees <= 50:
        return EMPLOYEES_POINTS
    if 50 < employees <= 250:
        return 3
    if employees > 250:
        return 1
    return 2 if employees >= 1 else 0


def _signal_points(signals: dict[str, Any]) -> Scored:
    points, reasons = 0, []
    rating = _number(signals.get("rating"))
    if rating is not None:
        gain = round(min(max((rating - 2.5) / 2.5, 0.0), 1.0) * RATING_POINTS)
        points += gain
        reasons.append(f"rated {rating:g} (+{gain})")
    reviews = _number(signals.get("reviews"))
    if reviews is not None:
        gain = min(REVIEWS_POINTS, int(2 * math.log10(max(reviews, 0.0) + 1)))
        points += gain
        reasons.append(f"{reviews:g} reviews (+{gain})")
    employees = _number(signals.get("employees"))
    if employees is not None:
        gain = _employee_points(employees)
        points += gain
        reasons.append(f"{employees:g} employees (+{gain})")
    return points, reasons


def score_lead(lead: Lead, request: JobRequest) -> tuple[int, list[str]]:
    """The lead's fit with the request, 0..100, and one reason per factor (module docstring)."""
    total, reasons = 0, []
    for points, why in (
        _query_points(lead, request.query),
        _location_points(lead, request.location),
        _contact_points(lead),
        _signal_points(lead.signals),
    ):
        total += points
        reasons.extend(why)
    return max(0, min(100, total)), reasons
