"""Scoring: a deterministic 0..100 fit of a lead with the request, with a reason per factor."""

from typing import Any

import pytest

from leadgen.leads import score_lead
from leadgen.providers import MAX_LEADS, OfflineLeadSource
from leadgen.store.models import JobRequest, Lead

DENTIST_IN_AUSTIN = JobRequest(query="dentist", location="Austin, TX")


def lead(**fields: Any) -> Lead:
    """A lead of job ``j`` with ``fields`` over a bare default."""
    values: dict[str, Any] = {"job_id": "j", "lead_id": "l1", "name": "Acme"}
    return Lead(**{**values, **fields})


def full_lead(**fields: Any) -> Lead:
    """A well-documented dental practice in Austin, with ``fields`` changed."""
    values: dict[str, Any] = {
        "name": "Bright Smile Dental",
        "industry": "Dentist",
        "location": "Austin, TX",
        "website": "https://brightsmile.com/",
        "phone": "(512) 555-0100",
        "email": "info@brightsmile.com",
        "signals": {"rating": 4.8, "reviews": 320, "employees": 12},
    }
    return lead(**{**values, **fields})


async def test_scores_stay_within_bounds_and_come_with_reasons() -> None:
    """Every offline lead scores an int within 0..100 with one reason or more."""
    raws = await OfflineLeadSource().find("dentist", "Austin, TX", MAX_LEADS)
    for rank, raw in enumerate(raws):
        score, reasons = score_lead(
            lead(lead_id=f"l{rank}", **raw.lead_fields()), DENTIST_IN_AUSTIN
        )
        assert isinstance(score, int)
        assert 0 <= score <= 100
        assert reasons
        assert all(reason.endswith(")") and "(+" in reason for reason in reasons)


def test_a_complete_matching_lead_scores_100() -> None:
    """A lead matching query and location with every contact and top signals scores 100."""
    score, reasons = score_lead(
        full_lead(signals={"rating": 5.0, "reviews": 1000, "employees": 8}), DENTIST_IN_AUSTIN
    )
    assert score == 100
    assert "matches the query: dentist (1 of 1 terms) (+30)" in reasons
    assert "in Austin, TX, as requested (+25)" in reasons


def test_a_bare_lead_that_matches_nothing_scores_0() -> None:
    """A lead with nothing but an unrelated name scores 0 and says why."""
    score, reasons = score_lead(lead(name="Zeta Holdings", location="Paris"), DENTIST_IN_AUSTIN)
    assert score == 0
    assert "no website (+0)" in reasons
    assert "no query term in name, industry or keywords (+0)" in reasons


def test_a_lead_matching_query_and_location_outranks_one_matching_neither() -> None:
    """Otherwise equal, the lead matching query and location scores higher."""
    matching, _ = score_lead(full_lead(), DENTIST_IN_AUSTIN)
    other, _ = score_lead(
        full_lead(name="Rapid Flow Plumbing", industry="Plumber", location="Denver, CO"),
        DENTIST_IN_AUSTIN,
    )
    assert matching - other == 55


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("dentists", {"name": "Bright Smile Dental"}),
        ("plumber", {"name": "Ace Plumbing"}),
        ("gym", {"industry": "Gyms"}),
        ("lawyer", {"signals": {"keywords": ["personal injury lawyer"]}}),
        ("café", {"name": "Little Owl Cafe"}),
        ("best coffee near me", {"industry": "Coffee Shop"}),
    ],
)
def test_query_terms_match_name_industry_or_keywords(query: str, fields: dict[str, Any]) -> None:
    """A query term found (in any inflection or accent) in name, industry or keywords scores 30."""
    score, _ = score_lead(lead(**fields), JobRequest(query=query))
    assert score == 30 + 25  # query, plus the location points of a request without one


def test_query_points_are_shared_between_terms() -> None:
    """A lead matching half the query's terms gets half the query points."""
    score, reasons = score_lead(lead(name="Daily Grind Coffee"), JobRequest(query="coffee roaster"))
    assert score == 15 + 25
    assert "matches the query: coffee (1 of 2 terms) (+15)" in reasons


@pytest.mark.parametrize(
    ("requested", "listed", "points"),
    [
        ("Austin, TX", "Austin, TX", 25),
        ("Austin, TX", "austin", 25),
        ("austin", "AUSTIN, Texas", 25),
        ("Montreal", "Montréal, QC", 25),
        ("Montréal, QC", "montreal, qc", 25),
        ("Austin, TX", "Round Rock, TX", 10),
        ("Austin, TX", "Denver, CO", 0),
        ("Austin, TX", None, 0),
        (None, "Denver, CO", 25),
    ],
)
def test_location_is_compared_on_the_city_ignoring_case_and_accents(
    requested: str | None, listed: str | None, points: int
) -> None:
    """Same city scores 25, same region 10, elsewhere or unknown 0; no requested location 25."""
    score, _ = score_lead(lead(location=listed), JobRequest(query="x", location=requested))
    assert score == points


@pytest.mark.parametrize(
    ("website", "points"),
    [("https://acme.com/", 15), ("http://acme.com/", 10), ("acme.com", 10), (None, 0)],
)
def test_a_website_scores_more_over_https(website: str | None, points: int) -> None:
    """A website scores 10, 15 when it is https."""
    score, _ = score_lead(lead(website=website), JobRequest(query="x", location="Nowhere"))
    assert score == points


def test_phone_and_email_score_5_each() -> None:
    """A listed phone and a listed email add 5 points each."""
    request = JobRequest(query="x", location="Nowhere")
    assert score_lead(lead(phone="555"), request)[0] == 5
    assert score_lead(lead(phone="555", email="a@b.c"), request)[0] == 10


@pytest.mark.parametrize(
    ("signals", "points"),
    [
        ({"rating": 5.0}, 10),
        ({"rating": 3.75}, 5),
        ({"rating": 2.5}, 0),
        ({"reviews": 9}, 2),
        ({"reviews": 100}, 4),
        ({"reviews": 5000}, 5),
        ({"employees": 1}, 2),
        ({"employees": 20}, 5),
        ({"employees": 120}, 3),
        ({"employees": 900}, 1),
        ({"rating": 50, "reviews": -4, "employees": "many"}, 10),
        ({"rating": True, "reviews": "12", "employees": float("nan")}, 2),
    ],
)
def test_signals_add_bounded_points(signals: dict[str, Any], points: int) -> None:
    """Rating, reviews and employees add their bounded points; malformed values count 0."""
    score, _ = score_lead(lead(signals=signals), JobRequest(query="x", location="Nowhere"))
    assert score == points


def test_scoring_is_deterministic() -> None:
    """The same lead and request always give the same score and reasons."""
    assert score_lead(full_lead(), DENTIST_IN_AUSTIN) == score_lead(full_lead(), DENTIST_IN_AUSTIN)
