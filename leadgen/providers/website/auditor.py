"""The ``website`` auditor: visits a lead's home page and writes a dossier a salesperson can use.

The dossier keeps the top-level keys of the offline one (``summary``, ``website``, ``findings``,
``score``, ``talking_points``, ``provider``) and adds what the visit showed: ``content`` (what the
site says), ``technology`` (how it is built) and ``performance`` (how it answered). docs/
providers.md shows a complete example. Any failure raises a WebsiteError subclass, which phase
``generate_dossier`` stores as the lead's ``dossier_error`` and refunds; a website at an internal
address is one (WebsiteBlockedAddress, providers/website/addresses.py)."""

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from leadgen.errors import ConfigurationError
from leadgen.providers.base import USER_AGENT
from leadgen.providers.website.errors import WebsiteMissing, WebsiteTimeout
from leadgen.providers.website.fetch import Fetcher, Limits, Page
from leadgen.providers.website.findings import (
    Finding,
    Thresholds,
    findings,
    score,
    talking_points,
)
from leadgen.providers.website.page import PageFacts, decode, parse_page
from leadgen.providers.website.tech import Stack, detect
from leadgen.providers.website.transport import guarded_transport
from leadgen.store.models import Lead

# Options of the ``website:key=value,...`` spec and the type of each.
OPTIONS: dict[str, type[int] | type[float] | type[str] | type[bool]] = {
    "connect_timeout": float,
    "read_timeout": float,
    "total_timeout": float,
    "max_bytes": int,
    "max_redirects": int,
    "slow_ms": int,
    "heavy_bytes": int,
    "proxy": str,
    "allow_private": bool,
}
FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Visit:
    """Everything one audit learnt, before it becomes a dossier."""

    page: Page
    facts: PageFacts
    stack: Stack
    findings: list[Finding]


def start_url(website: str | None, name: str) -> str:
    """The URL to visit for a lead's ``website``; WebsiteMissing when there is none."""
    text = (website or "").strip()
    if not text:
        raise WebsiteMissing(f"{name} has no website")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise WebsiteMissing(f"{name}: {website!r} is not an http(s) URL")
    return text


def _option(key: str, text: str) -> int | float | str | bool:
    kind = OPTIONS.get(key)
    if kind is None:
        raise ConfigurationError(
            f"website auditor: unknown option {key!r} (known: {', '.join(OPTIONS)})"
        )
    if kind is bool:
        if text.lower() not in FLAGS:
            raise ConfigurationError(f"website auditor: {key} must be true or false, got {text!r}")
        return FLAGS[text.lower()]
    try:
        value = kind(text)
    except ValueError:
        raise ConfigurationError(
            f"website auditor: {key} must be {'an integer' if kind is int else 'a number'}, "
            f"got {text!r}"
        ) from None
    if not isinstance(value, str) and value <= 0:
        raise ConfigurationError(f"website auditor: {key} must be greater than 0, got {text!r}")
    return value


class WebsiteAuditor:
    """Audits a lead's website: one page (the one its listing names), robots.txt permitting.

    ``connect_timeout`` and ``read_timeout`` bound each network wait, ``total_timeout`` the
    whole visit; a page over ``max_bytes`` (decompressed) fails, as do more than
    ``max_redirects`` redirects. A page slower than ``slow_ms`` or heavier than ``heavy_bytes``
    gets a finding. ``proxy`` sends every request through that HTTP proxy; without it the usual
    ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` variables apply. A request that goes through no
    proxy may only connect to a public address (providers/website/transport.py);
    ``allow_private`` lifts that, for intranet deployments."""

    name = "website"

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 30.0,
        max_bytes: int = 2_000_000,
        max_redirects: int = 5,
        slow_ms: int = 3000,
        heavy_bytes: int = 1_000_000,
        proxy: str | None = None,
        allow_private: bool = False,
    ) -> None:
        self.limits = Limits(connect_timeout, read_timeout, max_bytes, max_redirects)
        self.total_timeout = total_timeout
        self.slow_ms = slow_ms
        self.heavy_bytes = heavy_bytes
        self.proxy = proxy
        self.allow_private = allow_private
        # Loading the CA bundle takes milliseconds: once per auditor, not once per audit.
        self._tls = httpx.create_ssl_context()

    @classmethod
    def from_options(cls, options: str | None) -> "WebsiteAuditor":
        """The auditor of a spec argument ``key=value,...`` (e.g. ``slow_ms=2000``).

        Raises ConfigurationError for an unknown key or a value of the wrong type."""
        given: dict[str, Any] = {}
        for item in (options or "").split(","):
            if item.strip():
                key, equals, text = item.partition("=")
                if not equals:
                    raise ConfigurationError(f"website auditor: expected key=value, got {item!r}")
                given[key.strip()] = _option(key.strip(), text.strip())
        return cls(**given)

    async def audit(self, lead: Lead) -> dict[str, Any]:
        """The dossier of ``lead``'s website; a WebsiteError subclass when the visit fails."""
        url = start_url(lead.website, lead.name)
        try:
            async with asyncio.timeout(self.total_timeout), self._client() as client:
                page = await Fetcher(client, self.limits, USER_AGENT).page(url)
        except TimeoutError:
            raise WebsiteTimeout(
                f"{url}: the visit took longer than {self.total_timeout:g} s"
            ) from None
        # Parsing up to max_bytes of HTML is CPU work: keep it off the event loop.
        visit = await asyncio.to_thread(self.examine, page)
        return dossier(lead.name, visit)

    def examine(self, page: Page) -> Visit:
        """Parse the page, detect its stack and judge it."""
        html = decode(page.body, page.headers.get("content-type"))
        facts = parse_page(html, page.final_url)
        if facts.language is None and page.headers.get("content-language"):
            language = page.headers["content-language"].split(",")[0].strip()
            facts = replace(facts, language=language)
        stack = detect(facts, page.headers)
        limits = Thresholds(self.slow_ms, self.heavy_bytes, datetime.now(UTC).year)
        return Visit(page, facts, stack, findings(page, facts, stack, limits))

    def _client(self) -> httpx.AsyncClient:
        # Through the proxy option the proxy resolves names, and its operator owns egress policy;
        # with allow_private httpx routes as it always does. Otherwise: the guarded transport.
        guarded = not (self.proxy or self.allow_private)
        return httpx.AsyncClient(
            transport=guarded_transport(self._tls) if guarded else None,
            timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            },
            max_redirects=self.limits.max_redirects,
            proxy=self.proxy,
            verify=self._tls,
        )


def _redirects_to_https(page: Page) -> bool | None:
    # Only a visit that started on http:// can tell; None when the listing already said https.
    if page.url.lower().startswith("https://"):
        return None
    return page.final_url.lower().startswith("https://")


def _summary(name: str, visit: Visit, points: int) -> str:
    host = urlsplit(visit.page.final_url).hostname or visit.page.final_url
    built = f" (built with {visit.stack.cms})" if visit.stack.cms else ""
    count = len(visit.findings)
    high = sum(finding.severity == "high" for finding in visit.findings)
    top = f"; top issue: {visit.findings[0].title.lower()}" if visit.findings else ""
    plural = "" if count == 1 else "s"
    return (
        f"{name}: {host}{built} scores {points}/100 with {count} finding{plural}, {high} high{top}."
    )


def dossier(name: str, visit: Visit) -> dict[str, Any]:
    """The dossier of the business called ``name``, from its visit: a JSON-able dict."""
    page, facts, stack = visit.page, visit.facts, visit.stack
    points = score(visit.findings)
    return {
        "summary": _summary(name, visit, points),
        "website": {
            "url": page.url,
            "final_url": page.final_url,
            "reachable": True,
            "https": page.final_url.lower().startswith("https://"),
            "redirects_to_https": _redirects_to_https(page),
        },
        "content": {
            "title": facts.title,
            "description": facts.description,
            "language": facts.language,
            "emails": facts.emails,
            "phones": facts.phones,
            "social": facts.social,
            "copyright_year": facts.copyright_year,
        },
        "technology": {
            "server": stack.server,
            "generator": stack.generator,
            "cms": stack.cms,
            "analytics": stack.analytics,
            "technologies": stack.technologies,
            "jquery_version": stack.jquery_version,
            "wordpress_version": stack.wordpress_version,
            "mobile_viewport": facts.viewport,
        },
        "performance": {
            "status_code": page.status_code,
            "response_time_ms": page.elapsed_ms,
            "page_bytes": len(page.body),
            "redirects": len(page.redirects),
        },
        "findings": [finding.as_dict() for finding in visit.findings],
        "score": points,
        "talking_points": talking_points(visit.findings),
        "provider": "website",
    }
