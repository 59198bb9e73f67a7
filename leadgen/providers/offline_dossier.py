"""The dossier the offline auditor writes: imagined website observations turned into findings.

A dossier is ``{summary, website, findings, score, talking_points, provider}``. ``score`` is the
health of the lead's online presence, 0..100: 100 minus a penalty per finding, so a low score
means much to fix (and much to sell)."""

import random
from typing import Any

from leadgen.store.models import Lead

# A finding: severity, penalty, title, detail, the talking point it suggests.
Finding = tuple[str, int, str, str, str]

_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_CMS = ("WordPress", "Wix", "Squarespace", "Shopify", "GoDaddy Builder", "custom")
SLOW_MS = 3000
OLD_COPYRIGHT = 2022


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def observe_website(lead: Lead, rng: random.Random) -> dict[str, Any]:
    """What a visit to the lead's website would have shown."""
    if not lead.website:
        return {"url": None, "reachable": False}
    site: dict[str, Any] = {
        "url": lead.website,
        "reachable": rng.random() > 0.04,
        "https": lead.website.lower().startswith("https://"),
    }
    if not site["reachable"]:
        return site
    booking = lead.signals.get("has_online_booking")
    site.update(
        mobile_friendly=rng.random() < 0.7,
        load_time_ms=int(min(9000.0, rng.lognormvariate(7.4, 0.5))),
        has_contact_form=rng.random() < 0.65,
        has_online_booking=booking if isinstance(booking, bool) else rng.random() < 0.4,
        meta_description=rng.random() < 0.6,
        analytics=rng.random() < 0.55,
        cms=rng.choice(_CMS),
        copyright_year=rng.randint(2014, 2025),
    )
    return site


def _site_findings(site: dict[str, Any]) -> list[Finding]:
    url = site["url"]
    if url is None:
        return [("high", 35, "No website", "The business has no website; searchers only find its "
                 "directory listing.", "A simple site with booking and contact details would "
                 "turn listing views into customers.")]  # fmt: skip
    if not site["reachable"]:
        return [
            (
                "high",
                30,
                "Website does not respond",
                f"{url} timed out during the audit.",
                "Their site is down: every visitor from search is lost right now.",
            )
        ]
    seconds, year = site["load_time_ms"] / 1000, site["copyright_year"]
    rules: list[tuple[bool, Finding]] = [
        (not site["https"], ("high", 15, "No HTTPS", f"{url} is served over plain http; "
         "browsers mark it 'Not secure'.", "Moving to HTTPS removes the 'Not secure' warning.")),
        (not site["mobile_friendly"], ("high", 15, "Not mobile friendly", "The layout does not "
         "adapt to phones, where most local searches happen.", "Most visitors are on phones and "
         "the site is not built for them.")),
        (site["load_time_ms"] > SLOW_MS, ("medium", 10, "Slow page load", f"The home page took "
         f"{seconds:.1f} s to load (target: under 2.5 s).", "A faster site keeps the visitors "
         "who now leave before it loads.")),
        (not site["has_online_booking"], ("medium", 8, "No online booking", "Customers must call "
         "during opening hours to book.", "Online booking would capture after-hours demand.")),
        (not site["has_contact_form"], ("low", 4, "No contact form", "The only way to get in "
         "touch is by phone.", "A contact form collects enquiries while the phone is busy.")),
        (not site["meta_description"], ("low", 4, "Missing meta description", "Search results "
         "show an arbitrary snippet of the page.", "A written meta description improves "
         "click-through from search.")),
        (year < OLD_COPYRIGHT, ("low", 4, "Site looks unmaintained", f"The footer says © {year}.",
         "A refresh shows customers the business is active.")),
        (not site["analytics"], ("low", 3, "No analytics", "No analytics tag was found.",
         "Without analytics they cannot tell which marketing works.")),
    ]  # fmt: skip
    return [finding for broken, finding in rules if broken]


def _listing_findings(lead: Lead) -> list[Finding]:
    found: list[Finding] = []
    rating = _number(lead.signals.get("rating"))
    reviews = _number(lead.signals.get("reviews"))
    if rating is not None and rating < 3.8:
        found.append(
            (
                "high",
                12,
                "Weak rating",
                f"Rated {rating:g} out of 5.",
                f"Answering reviews and asking happy customers could lift the {rating:g} rating.",
            )
        )
    if reviews is not None and reviews < 30:
        found.append(("medium", 8, "Few reviews", f"Only {reviews:g} reviews; established "
                      "competitors have hundreds.", "A review request after each visit builds "
                      "social proof quickly."))  # fmt: skip
    if not lead.email:
        found.append(
            (
                "low",
                3,
                "No email listed",
                "The listing gives no email address.",
                "A listed email lets customers write outside opening hours.",
            )
        )
    return found


def _talking_points(lead: Lead, findings: list[Finding]) -> list[str]:
    points = [finding[4] for finding in findings[:4]]
    rating = _number(lead.signals.get("rating"))
    reviews = _number(lead.signals.get("reviews"))
    if rating is not None and reviews is not None and rating >= 4.5 and reviews >= 50:
        points.insert(0, f"Strong reputation ({rating:g} from {reviews:g} reviews): lead with "
                      "growth, not fixes.")  # fmt: skip
    return points or ["The online presence is in good shape: pitch growth (ads, SEO content)."]


def build_dossier(lead: Lead, rng: random.Random) -> dict[str, Any]:
    """The offline dossier of ``lead``, every imagined observation drawn from ``rng``."""
    site = observe_website(lead, rng)
    findings = sorted(
        _site_findings(site) + _listing_findings(lead),
        key=lambda finding: (_SEVERITY_ORDER[finding[0]], -finding[1], finding[2]),
    )
    score = max(0, min(100, 100 - sum(finding[1] for finding in findings)))
    high = sum(1 for finding in findings if finding[0] == "high")
    where = f" in {lead.location}" if lead.location else ""
    top = f" Top issue: {findings[0][2].lower()}." if findings else " No issues found."
    return {
        "summary": f"{lead.name} ({lead.industry or 'business'}{where}): online presence "
        f"{score}/100, {_count(len(findings), 'finding')}, {high} of them high.{top}",
        "website": site,
        "findings": [
            {"severity": severity, "title": title, "detail": detail}
            for severity, _, title, detail, _ in findings
        ],
        "score": score,
        "talking_points": _talking_points(lead, findings),
        "provider": "offline",
    }


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
