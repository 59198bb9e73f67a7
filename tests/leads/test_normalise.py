"""Enrichment: names and websites normalised, domains derived, duplicates found."""

from typing import Any

import pytest

from leadgen.leads import enrich, name_key, normalise_name, normalise_website
from leadgen.leads.normalise import normalise_location
from leadgen.providers import OfflineLeadSource
from leadgen.store.models import Lead


def lead(lead_id: str, name: str, website: str | None = None, rank: int = 0) -> Lead:
    """A lead of job ``j``."""
    return Lead(job_id="j", lead_id=lead_id, name=name, website=website, source_rank=rank)


def applied(leads: list[Lead], changes: dict[str, dict[str, Any]]) -> list[Lead]:
    """``leads`` after the ``$set`` of ``changes``."""
    return [item.model_copy(update=changes[item.lead_id]) for item in leads]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Bright   Smile\tDental ", "Bright Smile Dental"),
        ("BRIGHT SMILE DENTAL LLC", "Bright Smile Dental LLC"),
        ("bright smile dental, pllc", "Bright Smile Dental, PLLC"),
        ("gentle care dentistry dds", "Gentle Care Dentistry DDS"),
        ("smith & sons l.l.c.", "Smith & Sons L.L.C."),
        ("ABC Plumbing inc.", "ABC Plumbing Inc."),
        ("harper law group of austin", "Harper Law Group of Austin"),
        ("THE DAILY GRIND", "The Daily Grind"),
        ("o'brien law", "O'Brien Law"),
        ("JOE'S PIZZA", "Joe's Pizza"),
        ("McAllister dental", "McAllister Dental"),
        ("saint-denis bakery", "Saint-Denis Bakery"),
        ("café lumière", "Café Lumière"),
        ("schmidt bäckerei gmbh", "Schmidt Bäckerei GmbH"),
    ],
)
def test_names_are_trimmed_and_title_cased(raw: str, expected: str) -> None:
    """Names lose extra spaces, all-caps/all-lower words get title case, acronyms stay acronyms."""
    assert normalise_name(raw) == expected
    assert normalise_name(expected) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("brightsmile.com", ("https://brightsmile.com/", "brightsmile.com")),
        ("www.BrightSmile.com", ("https://www.brightsmile.com/", "brightsmile.com")),
        ("HTTPS://WWW.BRIGHTSMILE.COM/", ("https://www.brightsmile.com/", "brightsmile.com")),
        ("http://www.brightsmile.com", ("http://www.brightsmile.com/", "brightsmile.com")),
        (
            "https://brightsmile.com/contact/",
            ("https://brightsmile.com/contact", "brightsmile.com"),
        ),
        ("https://brightsmile.com/About", ("https://brightsmile.com/About", "brightsmile.com")),
        ("http://brightsmile.com:80/", ("http://brightsmile.com/", "brightsmile.com")),
        ("https://brightsmile.com:443", ("https://brightsmile.com/", "brightsmile.com")),
        ("https://brightsmile.com:8443/", ("https://brightsmile.com:8443/", "brightsmile.com")),
        (
            "https://www.x.co.uk/?utm_source=gmb&utm_medium=organic",
            ("https://www.x.co.uk/", "x.co.uk"),
        ),
        ("https://x.com/a/?utm_source=ad&id=3#team", ("https://x.com/a?id=3", "x.com")),
        ("https://x.com/?gclid=abc", ("https://x.com/", "x.com")),
        ("//cdn.example.org/path//", ("https://cdn.example.org/path", "cdn.example.org")),
        ("  example.com.  ", ("https://example.com/", "example.com")),
        ("https://shop.example.com/", ("https://shop.example.com/", "shop.example.com")),
    ],
)
def test_websites_are_normalised(raw: str, expected: tuple[str, str]) -> None:
    """Scheme added, host lower-cased; default port, fragment, tracking, trailing slash dropped."""
    assert normalise_website(raw) == expected
    assert normalise_website(expected[0]) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "not a website",
        "ftp://files.example.com",
        "mailto:info@example.com",
        "https://user:secret@example.com",
        "https://1.2.3/",
        "https://example..com",
        "https://-bad.com",
        "https://example.com:99999/",
    ],
)
def test_unusable_websites_are_none(raw: str | None) -> None:
    """Empty, spaced, dotless, non-http or malformed websites normalise to None."""
    assert normalise_website(raw) is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Bright Smile Dental", "BRIGHT SMILE DENTAL, LLC"),
        ("Bright Smile Dental", "Bright-Smile Dental."),
        ("Harper & Cole Law", "Harper and Cole Law, PLLC"),
        ("The Daily Grind", "Daily Grind Inc."),
        ("Café Lumière", "Cafe Lumiere"),
        ("O'Brien Dentistry, DDS", "OBrien Dentistry"),
    ],
)
def test_spellings_of_one_business_share_a_name_key(first: str, second: str) -> None:
    """Case, accents, punctuation and legal suffixes do not change the dedupe key."""
    assert name_key(normalise_name(first)) == name_key(normalise_name(second))


@pytest.mark.parametrize(
    ("first", "second"),
    [("Bright Smile Dental", "Bright Smile Dentistry"), ("Co-op Coffee", "Coffee")],
)
def test_different_businesses_have_different_name_keys(first: str, second: str) -> None:
    """Names that differ in a real word keep different keys."""
    assert name_key(first) != name_key(second)


def test_enrich_sets_name_website_domain_for_every_lead() -> None:
    """Every lead gets its normalised name, website, domain and location; an unusable website
    becomes None."""
    changes = enrich(
        [lead("l1", "ACE PLUMBING", "AcePlumbing.com"), lead("l2", "bob's cafe", "not a url")]
    )
    assert changes == {
        "l1": {
            "name": "Ace Plumbing",
            "website": "https://aceplumbing.com/",
            "domain": "aceplumbing.com",
            "location": None,
            "duplicate_of": None,
        },
        "l2": {
            "name": "Bob's Cafe",
            "website": None,
            "domain": None,
            "location": None,
            "duplicate_of": None,
        },
    }


def test_a_shared_domain_makes_a_duplicate_of_the_first_lead() -> None:
    """Leads on one domain (www or not) are duplicates of the lowest-ranked of them."""
    leads = [
        lead("l3", "Bright Smile Dental", "https://www.brightsmile.com/", rank=5),
        lead("l1", "Smile Studio", "brightsmile.com", rank=2),
        lead("l2", "Someone Else", "https://other.com", rank=3),
    ]
    changes = enrich(leads)
    assert {k: v["duplicate_of"] for k, v in changes.items()} == {
        "l1": None,
        "l2": None,
        "l3": "l1",
    }


def test_a_shared_name_key_makes_a_duplicate_even_without_website() -> None:
    """Leads whose names differ only in case, punctuation or legal suffix are duplicates."""
    leads = [
        lead("l1", "Ace Plumbing, LLC", "aceplumbing.com", rank=1),
        lead("l2", "ACE PLUMBING", None, rank=2),
        lead("l3", "Ace-Plumbing Inc.", "http://ace-plumbing.net", rank=3),
    ]
    assert [c["duplicate_of"] for c in enrich(leads).values()] == [None, "l1", "l1"]


def test_equal_ranks_are_ordered_by_lead_id() -> None:
    """Among leads of the same rank, the one with the smallest lead id is the original."""
    leads = [lead("l9", "Ace Plumbing", rank=0), lead("l2", "ace plumbing", rank=0)]
    assert enrich(leads)["l9"]["duplicate_of"] == "l2"


def test_duplicate_of_always_names_an_original() -> None:
    """A lead linked to an original only through a duplicate still points at the original."""
    leads = [
        lead("l1", "Ace Plumbing", "aceplumbing.com", rank=1),
        lead("l2", "Ace Pipes", "www.aceplumbing.com", rank=2),
        lead("l3", "ACE PIPES", None, rank=3),
    ]
    assert [c["duplicate_of"] for c in enrich(leads).values()] == [None, "l1", "l1"]


async def test_enrich_is_idempotent() -> None:
    """Enriching enriched leads changes nothing."""
    raws = await OfflineLeadSource().find("coffee", "Montréal, QC", 200)
    leads = [
        Lead(job_id="j", lead_id=f"l{rank:03d}", source_rank=rank, **raw.lead_fields())
        for rank, raw in enumerate(raws)
    ]
    first = enrich(leads)
    assert enrich(applied(leads, first)) == first
    assert enrich(list(reversed(leads))) == first


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("austin, tx", "Austin, TX"),
        ("AUSTIN,TX", "Austin, TX"),
        ("  san   antonio ,  tx ", "San Antonio, TX"),
        ("McAllen, TX", "McAllen, TX"),
        ("new york", "New York"),
        ("Berlin, DE", "Berlin, DE"),
        (" , ", None),
        (None, None),
    ],
)
def test_normalise_location(raw: str | None, expected: str | None) -> None:
    """Locations are trimmed and recased when written in one case; mixed case is kept."""
    assert normalise_location(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://192.168.1.10/", ("https://192.168.1.10/", "192.168.1.10")),
        ("10.0.0.7:8080/intranet", ("https://10.0.0.7:8080/intranet", "10.0.0.7")),
        ("http://[fd00::5]/", ("http://[fd00::5]/", "fd00::5")),
        ("localhost", ("https://localhost/", "localhost")),
    ],
)
def test_websites_given_by_address_are_kept(raw: str, expected: tuple[str, str]) -> None:
    """An IP address or localhost is a website (an intranet's): whether it may be visited is
    the auditor's address guard's decision, with its own error, not normalisation's."""
    assert normalise_website(raw) == expected
