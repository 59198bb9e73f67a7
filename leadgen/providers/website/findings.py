"""Findings for a sales conversation, from what the audit saw, and the 0..100 score they give.

Each finding has a severity (``high``, ``medium``, ``low``), a stable ``code`` for programs, a
title and a detail for people, and a talking point for the salesperson. The score is 100 minus
the penalty of every finding, so, as in the offline dossier, a low score means much to fix (and
much to sell)."""

from dataclasses import dataclass

from leadgen.providers.website.fetch import Page
from leadgen.providers.website.page import PageFacts
from leadgen.providers.website.tech import Stack, version_tuple

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
# jQuery before 3.5 has published cross-site scripting flaws (CVE-2020-11022, CVE-2020-11023);
# WordPress before 6 is years behind, and a generator tag advertising it draws automated attacks.
SAFE_JQUERY = (3, 5)
SAFE_WORDPRESS = (6,)
# A footer year this many years back says nobody has touched the site.
STALE_YEARS = 3


@dataclass(frozen=True)
class Finding:
    """One thing to fix on the site."""

    severity: str
    penalty: int
    code: str
    title: str
    detail: str
    pitch: str

    def as_dict(self) -> dict[str, str]:
        """The finding as the dossier lists it."""
        return {
            "severity": self.severity,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Thresholds:
    """When a page counts as slow or heavy, and the year a footer is compared with."""

    slow_ms: int
    heavy_bytes: int
    this_year: int


def _security(page: Page, stack: Stack) -> list[Finding]:
    found = []
    if not page.final_url.lower().startswith("https://"):
        found.append(Finding("high", 20, "no_https", "No HTTPS",
            f"{page.final_url} is served over plain HTTP; browsers mark it 'Not secure'.",
            "Moving to HTTPS removes the 'Not secure' warning visitors see."))  # fmt: skip
    wordpress = stack.wordpress_version
    if wordpress and version_tuple(wordpress) < SAFE_WORDPRESS:
        found.append(Finding("medium", 8, "outdated_wordpress", "Outdated WordPress",
            f"The generator tag says WordPress {wordpress}, years behind the current 6.x "
            "releases.", "An outdated WordPress is the most common way small business "
            "sites get hacked."))  # fmt: skip
    jquery = stack.jquery_version
    if jquery and version_tuple(jquery) < SAFE_JQUERY:
        found.append(Finding("medium", 6, "outdated_jquery", "Outdated jQuery",
            f"The page loads jQuery {jquery}; versions before 3.5 have known cross-site "
            "scripting flaws.", "Old libraries are a security risk and a sign of a site "
            "nobody maintains."))  # fmt: skip
    return found


def _content(page: Page, facts: PageFacts, this_year: int) -> list[Finding]:
    found = []
    if not facts.emails and not facts.phones:
        found.append(Finding("high", 15, "no_contact", "No contact details",
            f"No email address or phone number was found on {page.final_url}.",
            "Visitors who cannot find a phone number or email go to a competitor."))  # fmt: skip
    if not facts.viewport:
        found.append(Finding("medium", 10, "not_mobile_friendly", "Not mobile friendly",
            "The page has no viewport meta tag, so phones show a shrunken desktop layout.",
            "Most local searches happen on phones, where this site is hard to use."))  # fmt: skip
    if not facts.title:
        found.append(Finding("medium", 6, "no_title", "No page title",
            "The page has no <title>, which search results and browser tabs show.",
            "A descriptive title is the first thing searchers read."))  # fmt: skip
    if not facts.description:
        found.append(Finding("low", 5, "no_meta_description", "No meta description",
            "Search results show an arbitrary snippet of the page instead of a summary.",
            "A written meta description improves click-through from search."))  # fmt: skip
    year = facts.copyright_year
    if year is not None and year <= this_year - STALE_YEARS:
        found.append(Finding("low", 4, "stale_copyright", "Site looks unmaintained",
            f"The footer says © {year}.",
            "A refresh shows customers the business is active."))  # fmt: skip
    if not facts.social:
        found.append(Finding("low", 2, "no_social_links", "No social profiles linked",
            "The page links to no Facebook, Instagram, LinkedIn, X, YouTube or TikTok profile.",
            "Linking active social profiles builds trust with new visitors."))  # fmt: skip
    return found


def _performance(page: Page, stack: Stack, limits: Thresholds) -> list[Finding]:
    found = []
    if page.elapsed_ms > limits.slow_ms:
        found.append(Finding("medium", 10, "slow_response", "Slow response",
            f"The home page took {page.elapsed_ms / 1000:.1f} s to load (threshold: "
            f"{limits.slow_ms / 1000:g} s).",
            "A faster site keeps the visitors who now leave before it loads."))  # fmt: skip
    if len(page.body) > limits.heavy_bytes:
        found.append(Finding("low", 4, "heavy_page", "Heavy page",
            f"The HTML alone weighs {len(page.body):,} bytes (threshold: {limits.heavy_bytes:,}).",
            "A lighter page loads faster on mobile data."))  # fmt: skip
    if not stack.analytics:
        found.append(Finding("low", 5, "no_analytics", "No analytics",
            "No analytics or tag manager script was found.",
            "Without analytics they cannot tell which marketing works."))  # fmt: skip
    return found


def findings(page: Page, facts: PageFacts, stack: Stack, limits: Thresholds) -> list[Finding]:
    """Every finding about the page, the most severe and costly first."""
    found = [
        *_security(page, stack),
        *_content(page, facts, limits.this_year),
        *_performance(page, stack, limits),
    ]
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], -f.penalty, f.code))


def score(found: list[Finding]) -> int:
    """The health of the site, 0..100."""
    return max(0, min(100, 100 - sum(finding.penalty for finding in found)))


def talking_points(found: list[Finding]) -> list[str]:
    """What to open the conversation with: the pitches of the four most severe findings."""
    points = [finding.pitch for finding in found[:4]]
    return points or ["The website is in good shape: pitch growth (ads, SEO content)."]
