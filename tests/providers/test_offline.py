"""The offline lead source and auditor, and the registry that builds providers from a spec."""

import re
from collections.abc import Callable, Sequence

import pytest

import leadgen.providers.registry as registry_module
from leadgen.errors import ConfigurationError, ProviderError
from leadgen.leads import enrich, name_key, normalise_website
from leadgen.providers import (
    MAX_LEADS,
    Auditor,
    LeadSource,
    OfflineAuditor,
    OfflineLeadSource,
    RawLead,
    auditor,
    lead_source,
    register_auditor,
    register_lead_source,
)
from leadgen.providers.offline import DUPLICATE_EVERY
from leadgen.store.models import Lead

QUERIES = [
    "dentist",
    "plumbers",
    "personal injury lawyer",
    "coffee shop",
    "restaurant",
    "gym",
    "hair salon",
    "accountant",
    "roofing",
    "realtor",
    "pet grooming",
]


def as_leads(raws: Sequence[RawLead]) -> list[Lead]:
    """The stored leads of ``raws``, ranked in the order the source returned them."""
    return [
        Lead(job_id="j", lead_id=f"l{rank:03d}", source_rank=rank, **raw.lead_fields())
        for rank, raw in enumerate(raws)
    ]


async def find(query: str, location: str | None = "Austin, TX", limit: int = 50) -> list[RawLead]:
    """What a fresh offline source returns."""
    return await OfflineLeadSource().find(query, location, limit)


async def test_same_query_and_location_give_the_same_leads() -> None:
    """Two offline sources asked the same question return identical leads."""
    assert await find("dentist") == await find("dentist")


async def test_query_and_location_are_compared_ignoring_case_and_spacing() -> None:
    """A query or location differing only in case or spacing gives the same businesses."""
    sloppy = await find("  Dentist ", "austin,tx ")
    tidy = await find("dentist", "Austin, TX")
    assert [(r.source_id, r.name, r.website) for r in sloppy] == [
        (r.source_id, r.name, r.website) for r in tidy
    ]


async def test_a_smaller_limit_returns_a_prefix_of_a_larger_one() -> None:
    """Asking for fewer leads returns the first of the leads a larger request returns."""
    assert await find("plumber", limit=12) == (await find("plumber", limit=80))[:12]


@pytest.mark.parametrize(
    ("query", "location", "seed"),
    [("plumber", "Austin, TX", None), ("dentist", "Denver, CO", None), ("dentist", None, "x")],
)
async def test_another_query_location_or_seed_gives_other_leads(
    query: str, location: str | None, seed: str | None
) -> None:
    """Changing the query, the location or the seed changes the leads."""
    reference = await OfflineLeadSource().find("dentist", "Austin, TX", 20)
    other = await OfflineLeadSource(seed).find(query, location, 20)
    assert {r.name for r in other} != {r.name for r in reference}
    assert {r.source_id for r in other}.isdisjoint(r.source_id for r in reference)


@pytest.mark.parametrize("limit", [0, 1, 7, 25, 199, MAX_LEADS])
async def test_returns_exactly_limit_leads(limit: int) -> None:
    """Up to MAX_LEADS, the source returns exactly the number of leads asked for."""
    assert len(await find("dentist", limit=limit)) == limit


@pytest.mark.parametrize("limit", [MAX_LEADS + 1, 1000])
async def test_a_limit_above_the_catalogue_is_capped(limit: int) -> None:
    """A limit above MAX_LEADS returns the whole catalogue of MAX_LEADS leads."""
    assert await find("gym", limit=limit) == await find("gym", limit=MAX_LEADS)


@pytest.mark.parametrize("query", QUERIES)
async def test_source_ids_are_unique(query: str) -> None:
    """No two leads of one answer share a source id."""
    raws = await find(query, limit=MAX_LEADS)
    assert len({raw.source_id for raw in raws}) == len(raws)


@pytest.mark.parametrize("location", ["Austin, TX", "London", "Leeds, UK", None])
@pytest.mark.parametrize("query", QUERIES)
async def test_enrich_finds_exactly_the_deliberate_duplicates(
    query: str, location: str | None
) -> None:
    """One lead in every eight re-lists an earlier business; enrich flags those and only those."""
    leads = as_leads(await find(query, location, MAX_LEADS))
    changes = enrich(leads)
    duplicates = [lead_id for lead_id, change in changes.items() if change["duplicate_of"]]
    assert len(duplicates) == MAX_LEADS // DUPLICATE_EVERY
    survivors = [change for change in changes.values() if change["duplicate_of"] is None]
    domains = [change["domain"] for change in survivors if change["domain"]]
    keys = [name_key(change["name"]) for change in survivors]
    assert len(set(domains)) == len(domains)
    assert len(set(keys)) == len(keys)


async def test_duplicates_are_spelt_differently_from_their_original() -> None:
    """A duplicate listing differs from its original in name or website, not only in id."""
    raws = await find("roofer", limit=MAX_LEADS)
    changes = enrich(as_leads(raws))
    by_id = {f"l{rank:03d}": raw for rank, raw in enumerate(raws)}
    pairs = [
        (by_id[lid], by_id[c["duplicate_of"]]) for lid, c in changes.items() if c["duplicate_of"]
    ]
    assert pairs
    for duplicate, original in pairs:
        assert (duplicate.name, duplicate.website) != (original.name, original.website)
        assert duplicate.phone == original.phone


async def test_websites_come_in_the_spellings_listings_use() -> None:
    """Websites are missing, http, scheme-less, upper-case or tracked, and all normalise."""
    websites = [raw.website for raw in await find("plumber", "Denver, CO", MAX_LEADS)]
    present = [website for website in websites if website]
    assert None in websites
    assert any(website.startswith("http://") for website in present)
    assert any("://" not in website for website in present)
    assert any(website != website.lower() for website in present)
    assert any("utm_" in website for website in present)
    assert all(normalise_website(website) is not None for website in present)


@pytest.mark.parametrize(
    ("location", "city"),
    [("Austin, TX", "austin"), ("Montreal", "montreal"), ("Leeds, UK", "leeds")],
)
async def test_most_leads_are_in_the_requested_city_and_some_nearby(
    location: str, city: str
) -> None:
    """Most leads echo the requested city (in varying spelling), the others are neighbours."""
    raws = await find("salon", location, MAX_LEADS)
    cities = [(raw.location or "").split(",")[0].strip().lower().replace("é", "e") for raw in raws]
    share = cities.count(city) / len(cities)
    assert 0.6 <= share <= 0.9
    assert len(set(cities)) >= 3


@pytest.mark.parametrize(
    ("location", "pattern"),
    [
        ("Austin, TX", r"(\(512\) |512-|\+1 512 )555[- ]01\d\d"),
        ("London", r"(020 |\+44 20 )7946 0\d{3}"),
        ("Leeds, UK", r"(01632 |\+44 1632 )960\d{3}"),
        ("Paris", r"(01|\+33 1)( \d\d){4}"),
        ("Sydney, NSW", r"(\(02\) |\+61 2 )5550 \d{4}"),
        ("Berlin", r"(030 |\+49 30 )\d{7}"),
    ],
)
async def test_phones_follow_the_style_of_the_location(location: str, pattern: str) -> None:
    """Phone numbers are written as the location writes them, in ranges reserved for fiction."""
    phones = [raw.phone for raw in await find("accountant", location, 60) if raw.phone]
    assert phones
    assert all(re.fullmatch(pattern, phone) for phone in phones), phones


@pytest.mark.parametrize(
    ("query", "industry"),
    [
        ("dentist", "Dentist"),
        ("Dental clinic", "Dentist"),
        ("attorney", "Law Firm"),
        ("café", "Coffee Shop"),
        ("best gym near me", "Fitness Center"),
        ("roofers", "Roofing Contractor"),
        ("real estate agent", "Real Estate Agency"),
        ("best pet grooming near me", "Pet Grooming"),
    ],
)
async def test_the_query_chooses_the_industry_and_names(query: str, industry: str) -> None:
    """Known trades get their own industry; any other query a generic one named after it."""
    raws = await find(query, limit=20)
    assert {raw.industry for raw in raws} == {industry}
    assert all(raw.keywords for raw in raws)


async def test_signals_are_within_realistic_ranges() -> None:
    """Every lead has a rating of 2.5..5.0, reviews, employees and years in business."""
    for raw in await find("restaurant", None, MAX_LEADS):
        signals = raw.signals
        assert 2.5 <= signals["rating"] <= 5.0
        assert signals["reviews"] >= 0
        assert 1 <= signals["employees"] <= 250
        assert 1 <= signals["years_in_business"] <= 45
        assert isinstance(signals["has_online_booking"], bool)


def test_lead_fields_carry_keywords_in_signals() -> None:
    """A raw lead's keywords travel in the stored lead's signals, beside the other signals."""
    raw = RawLead(source_id="s", name="Ace", keywords=["plumber"], signals={"rating": 4.0})
    lead = Lead(job_id="j", lead_id="l1", **raw.lead_fields())
    assert lead.signals == {"rating": 4.0, "keywords": ["plumber"]}


async def test_the_same_lead_gets_the_same_dossier() -> None:
    """Auditing one lead twice, with two auditors, gives the same dossier."""
    lead = as_leads(await find("dentist", limit=1))[0]
    assert await OfflineAuditor().audit(lead) == await OfflineAuditor().audit(lead)


async def test_dossiers_have_the_documented_shape() -> None:
    """A dossier has a summary, website observations, findings, a 0..100 score, talking points."""
    for lead in as_leads(await find("hair salon", limit=60)):
        dossier = await OfflineAuditor().audit(lead)
        assert set(dossier) == {
            "summary",
            "website",
            "findings",
            "score",
            "talking_points",
            "provider",
        }
        assert dossier["provider"] == "offline"
        assert lead.name in dossier["summary"]
        assert dossier["website"]["url"] == lead.website
        assert 0 <= dossier["score"] <= 100
        assert dossier["talking_points"]
        assert all(isinstance(point, str) for point in dossier["talking_points"])
        for finding in dossier["findings"]:
            assert set(finding) == {"severity", "title", "detail"}
            assert finding["severity"] in {"high", "medium", "low"}


async def test_a_lead_without_a_website_gets_a_high_finding() -> None:
    """The dossier of a lead without a website says so as a high-severity finding."""
    lead = Lead(job_id="j", lead_id="l1", name="Ace Plumbing", website=None)
    dossier = await OfflineAuditor().audit(lead)
    assert {"severity": "high", "title": "No website"}.items() <= dossier["findings"][0].items()
    assert dossier["website"] == {"url": None, "reachable": False}


async def test_the_failure_rate_fails_that_share_of_leads_always_the_same() -> None:
    """About ``failure_rate`` of the audits raise ProviderError, the same ones every time."""
    leads = as_leads(await find("gym", limit=MAX_LEADS))
    failing = OfflineAuditor(failure_rate=0.3)

    async def failures() -> set[str]:
        failed = set()
        for lead in leads:
            try:
                await failing.audit(lead)
            except ProviderError:
                failed.add(lead.lead_id)
        return failed

    first = await failures()
    assert 0.2 * len(leads) <= len(first) <= 0.4 * len(leads)
    assert await failures() == first


def test_offline_providers_satisfy_the_protocols() -> None:
    """The built-in ``offline`` spec builds the offline lead source and auditor."""
    source: LeadSource = lead_source("offline")
    audit: Auditor = auditor("offline")
    assert isinstance(source, OfflineLeadSource)
    assert isinstance(audit, OfflineAuditor)
    assert (source.name, audit.name) == ("offline", "offline")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by the test are forgotten after it."""
    monkeypatch.setattr(registry_module, "_lead_sources", dict(registry_module._lead_sources))
    monkeypatch.setattr(registry_module, "_auditors", dict(registry_module._auditors))


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lead_source, r"unknown lead source 'nope' \(known: (.*, )?offline(, .*)?\)"),
        (auditor, r"unknown auditor 'nope' \(known: (.*, )?offline(, .*)?\)"),
    ],
)
def test_an_unknown_name_is_a_configuration_error(
    build: Callable[[str], object], message: str
) -> None:
    """An unknown provider name raises ConfigurationError naming the known ones."""
    with pytest.raises(ConfigurationError) as raised:
        build("nope:whatever")
    assert re.fullmatch(message, str(raised.value))


@pytest.mark.usefixtures("registry")
@pytest.mark.parametrize(
    ("spec", "argument"),
    [("rec", None), ("rec:", ""), ("rec:/data/leads.csv", "/data/leads.csv"), ("rec:a:b", "a:b")],
)
def test_the_text_after_the_first_colon_goes_to_the_factory(
    spec: str, argument: str | None
) -> None:
    """``name:argument`` calls the factory of ``name`` with the argument, None without a colon."""
    received: list[str | None] = []

    def factory(arg: str | None) -> LeadSource:
        received.append(arg)
        return OfflineLeadSource()

    def auditor_factory(arg: str | None) -> Auditor:
        received.append(arg)
        return OfflineAuditor()

    register_lead_source("rec", factory)
    register_auditor("rec", auditor_factory)
    lead_source(spec)
    auditor(spec)
    assert received == [argument, argument]


async def test_the_offline_source_argument_is_a_seed() -> None:
    """``offline:SEED`` builds an offline source whose catalogue depends on the seed."""
    seeded = lead_source("offline:demo")
    assert await seeded.find("dentist", None, 10) == await OfflineLeadSource("demo").find(
        "dentist", None, 10
    )
    assert await seeded.find("dentist", None, 10) != await find("dentist", None, 10)


@pytest.mark.parametrize(("spec", "rate"), [("offline:0.25", 0.25), ("offline:1", 1.0)])
def test_the_offline_auditor_argument_is_a_failure_rate(spec: str, rate: float) -> None:
    """``offline:RATE`` builds an offline auditor with that failure rate."""
    built = auditor(spec)
    assert isinstance(built, OfflineAuditor)
    assert built.failure_rate == rate


@pytest.mark.parametrize("spec", ["offline:lots", "offline:1.5", "offline:-0.1", "offline:nan"])
def test_a_bad_failure_rate_is_a_configuration_error(spec: str) -> None:
    """A failure rate that is not a number within 0..1 raises ConfigurationError."""
    with pytest.raises(ConfigurationError, match="failure rate"):
        auditor(spec)
