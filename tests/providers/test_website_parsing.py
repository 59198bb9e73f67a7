"""The website auditor's judgement without a network: decoding, parsing, stack detection and
the findings that depend only on URLs."""

import pytest

from leadgen.providers.website import WebsiteAuditor
from leadgen.providers.website.auditor import Visit, dossier
from leadgen.providers.website.fetch import Page
from leadgen.providers.website.findings import Thresholds, findings
from leadgen.providers.website.page import PageFacts, decode, parse_page
from leadgen.providers.website.tech import Stack, detect


def visit(url: str, final_url: str) -> Visit:
    """A visit of a page served at ``final_url`` after starting from ``url``."""
    page = Page(url, final_url, 200, {}, b"<html></html>", 120, [url] if url != final_url else [])
    facts = PageFacts(title="T", description="D", viewport=True, emails=["a@b.example"],
                      social={"x": "https://x.com/acme"})  # fmt: skip
    stack = Stack(analytics=["Google Analytics"])
    limits = Thresholds(slow_ms=3000, heavy_bytes=1_000_000, this_year=2025)
    return Visit(page, facts, stack, findings(page, facts, stack, limits))


@pytest.mark.parametrize(
    ("url", "final_url", "https", "redirects_to_https"),
    [
        ("http://acme.example/", "https://acme.example/", True, True),
        ("https://acme.example/", "https://acme.example/", True, None),
        ("http://acme.example/", "http://acme.example/", False, False),
    ],
    ids=["redirected-to-https", "https-listed", "plain-http"],
)
def test_https_and_the_redirect_to_it_come_from_the_urls(
    url: str, final_url: str, https: bool, redirects_to_https: bool | None
) -> None:
    """HTTPS is the final URL's scheme; a redirect to it is known only when starting on http."""
    result = dossier("Acme", visit(url, final_url))
    assert result["website"]["https"] is https
    assert result["website"]["redirects_to_https"] is redirects_to_https
    assert [f["code"] for f in result["findings"]] == ([] if https else ["no_https"])
    assert result["score"] == (100 if https else 80)


def test_the_body_is_decoded_with_the_declared_charset() -> None:
    """The header's charset wins, then a ``<meta charset>``, then UTF-8; bad names are skipped."""
    latin = "<p>Café</p>".encode("latin-1")
    assert decode(latin, "text/html; charset=ISO-8859-1") == "<p>Café</p>"
    assert decode(b'<meta charset="windows-1252">' + latin, None).endswith("<p>Café</p>")
    assert decode("<p>Café</p>".encode(), "text/html; charset=klingon") == "<p>Café</p>"


def test_the_parser_reads_contacts_without_false_alarms() -> None:
    """Broken markup still parses; file names, dates and prices are not contacts; the latest
    year of a copyright range counts; share links are not profiles."""
    html = """<html><head><title>  Ace
      Plumbing </title><script src="js/app.js"></script><body>
      <img src="logo@2x.png"> Founded 2001-05-01, from $1,200.00, ref 12345678901234567890
      <p>Mail <b>jobs@ace.example or call +44 20 7946 0958</p>
      <a href="mailto:a%40ace.example,b@ace.example">mail</a>
      <a href="https://m.facebook.com/ace.plumbing">fb</a>
      <a href="https://www.linkedin.com/company/ace/">in</a>
      <a href="https://x.com/intent/post?text=hi">share</a>
      <div>&copy; 2012&ndash;2019 Ace</div>"""
    facts = parse_page(html, "http://ace.example/about/")
    assert facts.title == "Ace Plumbing"
    assert facts.emails == ["a@ace.example", "b@ace.example", "jobs@ace.example"]
    assert facts.phones == ["+44 20 7946 0958"]
    assert facts.social == {
        "facebook": "https://m.facebook.com/ace.plumbing",
        "linkedin": "https://www.linkedin.com/company/ace/",
    }
    assert facts.copyright_year == 2019
    assert facts.scripts == ["http://ace.example/about/js/app.js"]


@pytest.mark.parametrize(
    ("html", "headers", "expected"),
    [
        ('<html data-wf-site="1"><meta name="generator" content="Webflow">', {}, "Webflow"),
        ('<meta name="generator" content="Wix.com Website Builder">', {}, "Wix"),
        ('<link href="https://static1.squarespace.com/static/site.css" rel="stylesheet">', {},
         "Squarespace"),
        ('<meta name="generator" content="Drupal 7 (https://www.drupal.org)">', {}, "Drupal"),
        ("<p>hi</p>", {"x-shopid": "1"}, "Shopify"),
        ("<p>hi</p>", {}, None),
    ],
    ids=["webflow", "wix", "squarespace", "drupal", "shopify-header", "none"],
)  # fmt: skip
def test_the_cms_is_recognised(html: str, headers: dict[str, str], expected: str | None) -> None:
    """The CMS comes from the generator tag, asset hosts, markup or headers."""
    assert detect(parse_page(html, "https://a.example/"), headers).cms == expected


def test_tag_manager_and_versions_are_recognised() -> None:
    """Tag Manager by its container id, jQuery's version from a CDN path."""
    html = """<script>(function(w,d,s,l,i){})(window,document,'script','dataLayer','GTM-AB12CD');
    </script><script src="https://ajax.googleapis.com/ajax/libs/jquery/3.7.1/jquery.min.js">
    </script>"""
    stack = detect(parse_page(html, "https://a.example/"), {})
    assert stack.analytics == ["Google Tag Manager"]
    assert stack.jquery_version == "3.7.1" and stack.technologies == [
        "Google Tag Manager",
        "jQuery",
    ]


def test_the_content_language_header_stands_in_for_a_missing_lang() -> None:
    """A page without ``lang`` takes its language from ``Content-Language``."""
    page = Page("https://a.example/", "https://a.example/", 200,
                {"content-language": "de-DE, en"}, b"<title>Hallo</title>", 5)  # fmt: skip
    assert WebsiteAuditor().examine(page).facts.language == "de-DE"
