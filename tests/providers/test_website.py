"""The ``website`` auditor against fixture sites served locally (tests/providers/sites.py);
tests/providers/test_website_parsing.py covers what needs no network."""

import datetime
import re
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import pytest

from leadgen.errors import ConfigurationError, ProviderError
from leadgen.providers import USER_AGENT, auditor
from leadgen.providers.website import (
    WebsiteAuditor,
    WebsiteBlockedByRobots,
    WebsiteHTTPError,
    WebsiteMissing,
    WebsiteNotHTML,
    WebsiteTimeout,
    WebsiteTLSError,
    WebsiteTooLarge,
    WebsiteTooManyRedirects,
    WebsiteUnreachable,
)
from leadgen.store.models import Lead
from tests.providers.sites import Server, fixture_sites, serve, text
from tests.support.servers import free_port

NO_HTTPS = {"severity": "high", "code": "no_https", "title": "No HTTPS"}
NO_SOCIAL = {
    "severity": "low",
    "code": "no_social_links",
    "title": "No social profiles linked",
    "detail": "The page links to no Facebook, Instagram, LinkedIn, X, YouTube or TikTok profile.",
}
NO_DESCRIPTION = {
    "severity": "low",
    "code": "no_meta_description",
    "title": "No meta description",
    "detail": "Search results show an arbitrary snippet of the page instead of a summary.",
}
NO_ANALYTICS = {
    "severity": "low",
    "code": "no_analytics",
    "title": "No analytics",
    "detail": "No analytics or tag manager script was found.",
}
NOT_MOBILE = {
    "severity": "medium",
    "code": "not_mobile_friendly",
    "title": "Not mobile friendly",
    "detail": "The page has no viewport meta tag, so phones show a shrunken desktop layout.",
}


@pytest.fixture
async def sites() -> AsyncIterator[Server]:
    """The fixture sites, reached through their server as a proxy."""
    async with fixture_sites() as server:
        yield server


def lead(website: str | None, name: str = "Acme") -> Lead:
    """A lead with this website."""
    return Lead(job_id="job", lead_id="lead", name=name, website=website)


async def audit(sites: Server, url: str | None, **options: Any) -> dict[str, Any]:
    """The dossier of the site at ``url``, fetched through the fixture server."""
    return await WebsiteAuditor(proxy=sites.url, **options).audit(lead(url))


def no_https(url: str) -> dict[str, str]:
    """The no-HTTPS finding about ``url``."""
    detail = f"{url} is served over plain HTTP; browsers mark it 'Not secure'."
    return {**NO_HTTPS, "detail": detail}


async def test_a_wordpress_site(sites: Server) -> None:
    """A dated WordPress site: contacts, socials, GA, and findings about its old versions."""
    result = await WebsiteAuditor(proxy=sites.url).audit(
        lead("http://wordpress.example/", "Bright Smile Dental")
    )
    assert result == {
        "summary": "Bright Smile Dental: wordpress.example (built with WordPress) scores 62/100 "
        "with 4 findings, 1 high; top issue: no https.",
        "website": {
            "url": "http://wordpress.example/",
            "final_url": "http://wordpress.example/",
            "reachable": True,
            "https": False,
            "redirects_to_https": False,
        },
        "content": {
            "title": "Bright Smile Dental \u2013 Family Dentist in Austin, TX",
            "description": "Gentle family dentistry in South Austin: cleanings, crowns, implants "
            "and emergency care.",
            "language": "en-US",
            "emails": ["frontdesk@brightsmile.example"],
            "phones": ["(512) 555-0142", "512-555-0199"],
            "social": {
                "facebook": "https://www.facebook.com/brightsmiledentalatx/",
                "instagram": "https://instagram.com/brightsmileatx",
            },
            "copyright_year": 2016,
        },
        "technology": {
            "server": "Apache/2.4.41 (Ubuntu)",
            "generator": "WordPress 5.2.4",
            "cms": "WordPress",
            "analytics": ["Google Analytics"],
            "technologies": ["Google Analytics", "PHP", "WordPress", "jQuery"],
            "jquery_version": "1.12.4",
            "wordpress_version": "5.2.4",
            "mobile_viewport": True,
        },
        "performance": {
            "status_code": 200,
            "response_time_ms": ANY,
            "page_bytes": 1719,
            "redirects": 0,
        },
        "findings": [
            no_https("http://wordpress.example/"),
            {
                "severity": "medium",
                "code": "outdated_wordpress",
                "title": "Outdated WordPress",
                "detail": "The generator tag says WordPress 5.2.4, years behind the current 6.x "
                "releases.",
            },
            {
                "severity": "medium",
                "code": "outdated_jquery",
                "title": "Outdated jQuery",
                "detail": "The page loads jQuery 1.12.4; versions before 3.5 have known cross-site "
                "scripting flaws.",
            },
            {
                "severity": "low",
                "code": "stale_copyright",
                "title": "Site looks unmaintained",
                "detail": "The footer says © 2016.",
            },
        ],
        "score": 62,
        "talking_points": [
            "Moving to HTTPS removes the 'Not secure' warning visitors see.",
            "An outdated WordPress is the most common way small business sites get hacked.",
            "Old libraries are a security risk and a sign of a site nobody maintains.",
            "A refresh shows customers the business is active.",
        ],
        "provider": "website",
    }
    assert 0 <= result["performance"]["response_time_ms"] < 2000


async def test_a_shopify_site(sites: Server) -> None:
    """A Shopify store: the text email, social profiles (not share links), pixel and HubSpot."""
    result = await audit(sites, "http://shop.example/")
    assert result["content"] == {
        "title": "Hill Country Coffee Roasters",
        "description": "Small-batch coffee roasted in Austin and shipped fresh every Tuesday.",
        "language": "en",
        "emails": ["hello@hillcountrycoffee.example"],
        "phones": [],
        "social": {
            "instagram": "https://www.instagram.com/hillcountrycoffee/",
            "tiktok": "https://www.tiktok.com/@hillcountrycoffee",
            "youtube": "https://www.youtube.com/@hillcountrycoffee",
        },
        "copyright_year": datetime.date.today().year,
    }
    assert result["technology"] == {
        "server": "cloudflare",
        "generator": None,
        "cms": "Shopify",
        "analytics": ["HubSpot", "Meta Pixel"],
        "technologies": ["Cloudflare", "HubSpot", "Meta Pixel", "Shopify"],
        "jquery_version": None,
        "wordpress_version": None,
        "mobile_viewport": True,
    }
    assert result["findings"] == [no_https("http://shop.example/")]
    assert result["score"] == 80
    assert result["summary"] == (
        "Acme: shop.example (built with Shopify) scores 80/100 with 1 finding, 1 high; "
        "top issue: no https."
    )


async def test_a_bare_site_without_contact_information(sites: Server) -> None:
    """A placeholder page: no contacts, description, analytics, viewport or socials."""
    result = await audit(sites, "http://bare.example/")
    assert result["content"] == {
        "title": "Lone Star Dentistry",
        "description": None,
        "language": None,
        "emails": [],
        "phones": [],
        "social": {},
        "copyright_year": None,
    }
    assert result["technology"]["technologies"] == [] and result["technology"]["cms"] is None
    assert result["findings"] == [
        no_https("http://bare.example/"),
        {"severity": "high", "code": "no_contact", "title": "No contact details",
         "detail": "No email address or phone number was found on http://bare.example/."},
        NOT_MOBILE, NO_ANALYTICS, NO_DESCRIPTION, NO_SOCIAL,
    ]  # fmt: skip
    assert result["score"] == 100 - 20 - 15 - 10 - 5 - 5 - 2
    assert result["talking_points"][1] == (
        "Visitors who cannot find a phone number or email go to a competitor."
    )


async def test_a_redirect_chain_is_followed_and_checked_against_robots(sites: Server) -> None:
    """old.example -> www.old.example/ -> /home: two redirects, robots.txt read for each host."""
    result = await audit(sites, "http://old.example/")
    assert result["website"] == {
        "url": "http://old.example/",
        "final_url": "http://www.old.example/home",
        "reachable": True,
        "https": False,
        "redirects_to_https": False,
    }
    assert result["performance"]["redirects"] == 2
    assert result["content"]["phones"] == ["020 7946 0958"]
    assert [(r.host, r.path) for r in sites.requests] == [
        ("old.example", "/robots.txt"),
        ("old.example", "/"),
        ("www.old.example", "/robots.txt"),
        ("www.old.example", "/"),
        ("www.old.example", "/home"),
    ]
    assert {r.headers["User-Agent"] for r in sites.requests} == {USER_AGENT}


async def test_a_slow_site_times_out(sites: Server) -> None:
    """A page slower than ``read_timeout`` fails with WebsiteTimeout."""
    with pytest.raises(WebsiteTimeout, match=r"^http://slow.example/: no answer within 0.2 s$"):
        await audit(sites, "http://slow.example/", read_timeout=0.2)


async def test_the_whole_visit_is_bounded(sites: Server) -> None:
    """``total_timeout`` bounds the visit even when each read is within its own timeout."""
    with pytest.raises(WebsiteTimeout, match=r"the visit took longer than 0\.3 s"):
        await audit(sites, "http://slow.example/", total_timeout=0.3)


async def test_slow_and_heavy_pages_get_findings(sites: Server) -> None:
    """A page slower than ``slow_ms`` or heavier than ``heavy_bytes`` is audited, with findings."""
    result = await audit(sites, "http://sluggish.example/", slow_ms=200, heavy_bytes=20)
    found = {finding["code"]: finding for finding in result["findings"]}
    assert result["performance"]["response_time_ms"] >= 300
    assert found["slow_response"]["severity"] == "medium"
    assert re.fullmatch(
        r"The home page took 0\.\d s to load \(threshold: 0\.2 s\)\.",
        found["slow_response"]["detail"],
    )
    assert found["heavy_page"] == {
        "severity": "low",
        "code": "heavy_page",
        "title": "Heavy page",
        "detail": "The HTML alone weighs 35 bytes (threshold: 20).",
    }


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("http://broken.example/", WebsiteHTTPError,
         "http://broken.example/ answered HTTP 500 Internal Server Error"),
        ("http://gone.example/", WebsiteHTTPError,
         "http://gone.example/ answered HTTP 404 Not Found"),
        ("http://huge.example/", WebsiteTooLarge,
         "http://huge.example/ is larger than the 2,000,000 bytes the audit reads"),
        ("http://huge.example/declared", WebsiteTooLarge,
         "http://huge.example/declared is 3,000,000 bytes; the audit reads 2,000,000"),
        ("http://pdf.example/", WebsiteNotHTML, "http://pdf.example/ is application/pdf, not HTML"),
        ("http://loop.example/", WebsiteTooManyRedirects,
         "http://loop.example/ redirected more than 5 times"),
        ("http://private.example/", WebsiteBlockedByRobots,
         "http://private.example/robots.txt disallows http://private.example/"),
        ("http://members.example/", WebsiteBlockedByRobots,
         "http://members.example/robots.txt disallows http://members.example/members/login"),
        ("http://picky.example/", WebsiteBlockedByRobots,
         "http://picky.example/robots.txt disallows http://picky.example/"),
        ("http://locked.example/", WebsiteBlockedByRobots,
         "http://locked.example/robots.txt disallows http://locked.example/"),
    ],
    ids=["500", "404", "too-large", "declared-too-large", "not-html", "redirect-loop",
         "robots-disallow-all", "robots-disallow-redirect-target", "robots-for-leadgen",
         "robots-403"],
)  # fmt: skip
async def test_failures_raise_named_errors(
    sites: Server, url: str, error: type[ProviderError], message: str
) -> None:
    """Each failure raises its own WebsiteError subclass with a one-line message."""
    with pytest.raises(error) as caught:
        await audit(sites, url)
    assert type(caught.value) is error and str(caught.value) == message


async def test_a_disallowed_page_is_never_fetched(sites: Server) -> None:
    """When robots.txt disallows the page only robots.txt itself is requested."""
    with pytest.raises(WebsiteBlockedByRobots):
        await audit(sites, "http://private.example/")
    assert [r.path for r in sites.requests] == ["/robots.txt"]


@pytest.mark.parametrize("host", ["bare.example", "sorry.example"], ids=["404", "503"])
async def test_a_missing_or_failing_robots_txt_allows_the_visit(sites: Server, host: str) -> None:
    """robots.txt answering 404 or 503 counts as no rules, as urllib.robotparser reads it."""
    result = await audit(sites, f"http://{host}/")
    assert result["content"]["title"] == "Lone Star Dentistry"


async def test_network_failures_raise_named_errors() -> None:
    """DNS failure and refused connection: WebsiteUnreachable; TLS to a plain port: TLS error.

    The local server is on 127.0.0.1, so these audits need ``allow_private``;
    tests/providers/test_website_addresses.py checks the same errors with the guard on."""
    intranet = WebsiteAuditor(allow_private=True)
    plain = text("<html></html>", content_type="text/html")
    async with serve(plain) as server:
        port = server.url.rsplit(":", 1)[1]
        with pytest.raises(WebsiteTLSError, match="TLS handshake failed"):
            await intranet.audit(lead(f"https://127.0.0.1:{port}/"))
    for each in (WebsiteAuditor(), intranet):
        with pytest.raises(WebsiteUnreachable, match=r"cannot resolve nowhere\.invalid"):
            await each.audit(lead("http://nowhere.invalid/"))
    refused = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(WebsiteUnreachable, match=f"^{refused}: connection refused$"):
        await intranet.audit(lead(refused))


@pytest.mark.parametrize(
    ("website", "message"),
    [(None, "Acme has no website"), ("  ", "Acme has no website"),
     ("ftp://files.example/", "Acme: 'ftp://files.example/' is not an http(s) URL")],
    ids=["none", "blank", "ftp"],
)  # fmt: skip
async def test_a_lead_without_a_usable_website(website: str | None, message: str) -> None:
    """No website, or not an http(s) one: WebsiteMissing, without any request."""
    with pytest.raises(WebsiteMissing, match=f"^{re.escape(message)}$"):
        await WebsiteAuditor().audit(lead(website))


def test_the_spec_takes_options() -> None:
    """``website:key=value,...`` sets the options; unknown keys or bad values are refused."""
    plain = auditor("website")
    assert isinstance(plain, WebsiteAuditor) and plain.limits.max_bytes == 2_000_000
    tuned = auditor("website:slow_ms=1500, max_redirects=2,proxy=http://127.0.0.1:3128")
    assert isinstance(tuned, WebsiteAuditor)
    assert (tuned.slow_ms, tuned.limits.max_redirects, tuned.proxy) == (
        1500, 2, "http://127.0.0.1:3128"
    )  # fmt: skip
    assert plain.allow_private is False
    for flag, value in [("true", True), ("Yes", True), ("0", False), ("false", False)]:
        intranet = auditor(f"website:allow_private={flag}")
        assert isinstance(intranet, WebsiteAuditor) and intranet.allow_private is value
    for spec, message in [
        ("website:speed=9", "unknown option 'speed'"),
        ("website:allow_private=maybe", "allow_private must be true or false, got 'maybe'"),
        ("website:max_bytes=lots", "max_bytes must be an integer, got 'lots'"),
        ("website:read_timeout=0", "read_timeout must be greater than 0"),
        ("website:slow", "expected key=value, got 'slow'"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            auditor(spec)
