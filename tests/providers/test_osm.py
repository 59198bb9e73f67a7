"""The ``osm`` lead source against a local server replaying hand-written Overpass answers."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from leadgen.errors import ConfigurationError
from leadgen.providers import USER_AGENT, RawLead, lead_source
from leadgen.providers.osm import (
    DEFAULT_ENDPOINT,
    OsmLeadSource,
    OsmLocationRequired,
    OverpassBusy,
    OverpassError,
    OverpassUnreachable,
    overpass_query,
    retry_after,
)
from leadgen.providers.osm_tags import categories_for, name_pattern
from tests.providers.sites import FIXTURES, serve
from tests.support.servers import free_port

DENTISTS_QUERY = """[out:json][timeout:25];
(
  area["boundary"="administrative"]["ISO3166-2"~"-TX$"];
  area["ISO3166-1"="TX"];
)->.region;
(
  rel(area.region)["boundary"="administrative"]["name"="Austin"];
);
map_to_area->.where;
(
  nwr["amenity"="dentist"][name](area.where);
  nwr["healthcare"="dentist"][name](area.where);
);
out tags center 25;"""


@dataclass
class Answer:
    """One scripted Overpass answer."""

    status: int = 200
    fixture: str = "overpass_dentists_austin.json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Overpass:
    """A scripted Overpass API: answers in order (the last one repeats), requests recorded."""

    url: str
    answers: list[Answer]
    bodies: list[dict[str, list[str]]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0


@pytest.fixture
async def overpass() -> AsyncIterator[Overpass]:
    """A scripted Overpass API on a free local port; tests set ``answers``."""
    state = Overpass(url="", answers=[Answer()])

    async def interpreter(request: web.Request) -> web.StreamResponse:
        state.times.append(time.monotonic())
        state.agents.append(request.headers.get("User-Agent", ""))
        state.bodies.append(parse_qs((await request.read()).decode()))
        answer = state.answers[min(len(state.bodies), len(state.answers)) - 1]
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            await asyncio.sleep(answer.delay)
        finally:
            state.in_flight -= 1
        kind = "application/json" if answer.fixture.endswith(".json") else "text/html"
        body = (FIXTURES / answer.fixture).read_bytes()
        headers = {"Content-Type": kind, **answer.headers}
        return web.Response(status=answer.status, body=body, headers=headers)

    async with serve(interpreter) as server:
        state.url = f"{server.url}/api/interpreter"
        yield state


def source(overpass: Overpass, **options: Any) -> OsmLeadSource:
    """An osm source asking the scripted server, with quick retries."""
    return OsmLeadSource(overpass.url, **{"backoff": 0.05, "max_wait": 2.0, **options})


def test_the_query_table_maps_trades_to_osm_tags() -> None:
    """Common trades map to their documented tags, whatever the case, accents or plural."""
    tags = {q: [t for c in categories_for(q) for t in c.tags] for q in (
        "Dentists", "coffee shops", "Cafés", "plumbers", "personal injury lawyer", "gyms",
        "Hair Salons", "accountants", "real estate agents",
    )}  # fmt: skip
    assert tags == {
        "Dentists": [("amenity", "dentist"), ("healthcare", "dentist")],
        "coffee shops": [("amenity", "cafe"), ("shop", "coffee")],
        "Cafés": [("amenity", "cafe"), ("shop", "coffee")],
        "plumbers": [("craft", "plumber")],
        "personal injury lawyer": [("office", "lawyer")],
        "gyms": [("leisure", "fitness_centre")],
        "Hair Salons": [("shop", "hairdresser")],
        "accountants": [("office", "accountant"), ("office", "tax_advisor")],
        "real estate agents": [("office", "estate_agent")],
    }


def test_an_unknown_trade_falls_back_to_a_name_search() -> None:
    """A query naming no known trade searches business names for its words, case-insensitively."""
    assert categories_for("best yoga studios near me") == []
    assert name_pattern("best yoga studios near me") == "yoga studio"
    assert overpass_query("yoga (hot)", "austin", 10).splitlines() == [
        "[out:json][timeout:25];",
        "(",
        '  area["boundary"="administrative"]["name"="austin"];',
        '  area["boundary"="administrative"]["name"="Austin"];',
        ")->.where;",
        "(",
        '  nwr[name~"yoga hot",i](area.where);',
        ");",
        "out tags center 10;",
    ]
    # Regular-expression characters are escaped for Overpass (and the backslash for QL).
    assert '  nwr[name~"\\\\+\\\\+",i](area.where);' in overpass_query("++", "Austin", 5)


def test_a_named_region_narrows_the_city() -> None:
    """A region written out is matched by name, so "Austin, Texas" is not Austin, Minnesota."""
    lines = overpass_query("bakery", "St. Louis, missouri", 5).splitlines()
    assert lines[1:7] == [
        "(",
        '  area["boundary"="administrative"]["name"="missouri"];',
        '  area["boundary"="administrative"]["name"="Missouri"];',
        ")->.region;",
        "(",
        '  rel(area.region)["boundary"="administrative"]["name"="St. Louis"];',
    ]


async def test_a_normal_result_becomes_raw_leads(overpass: Overpass) -> None:
    """Named elements become leads (website, phone, address read from their tags), those with a
    website first; one POST carries the documented query and a descriptive User-Agent."""
    leads = await source(overpass).find("dentists", "Austin, TX", 25)

    assert overpass.bodies == [{"data": [DENTISTS_QUERY]}]
    assert overpass.agents == [USER_AGENT]
    assert USER_AGENT.startswith("leadgen/0.1.0 (")
    assert leads == [
        RawLead(
            source_id="osm:way/512349876",
            name="Hyde Park Family Dentistry",
            website="https://hydeparkdentistry.example/",
            location="Austin",
            phone="+1 512 555 0177",
            email="smile@hydeparkdentistry.example",
            industry="Dentist",
            keywords=["general", "orthodontics"],
            signals={
                "osm_id": "way/512349876",
                "address": "4301 Duval Street, Austin, 78751",
                "lat": 30.3072519,
                "lon": -97.7395034,
            },
        ),
        RawLead(
            source_id="osm:node/7012345678",
            name="Domain Smiles",
            website="http://domainsmiles.example",
            location="Austin, TX",
            industry="Dentist",
            signals={"osm_id": "node/7012345678", "lat": 30.3968, "lon": -97.7265},
        ),
        RawLead(
            source_id="osm:node/4471852301",
            name="South Congress Dental",
            location="Austin, TX",
            phone="+1 512-555-0148",
            industry="Dentist",
            signals={
                "osm_id": "node/4471852301",
                "address": "1600 South Congress Avenue, Austin, TX 78704",
                "opening_hours": "Mo-Fr 08:00-17:00",
                "lat": 30.2506471,
                "lon": -97.7494153,
            },
        ),
    ]


async def test_limit_caps_the_answer(overpass: Overpass) -> None:
    """``limit`` is sent to Overpass and also caps what ``find`` returns."""
    leads = await source(overpass).find("dentists", "Austin, TX", 1)
    assert [lead.name for lead in leads] == ["Hyde Park Family Dentistry"]
    assert overpass.bodies[0]["data"][0].endswith("out tags center 1;")


async def test_an_empty_result_gives_no_leads(overpass: Overpass) -> None:
    """An empty Overpass answer is no leads, not an error."""
    overpass.answers = [Answer(fixture="overpass_empty.json")]
    assert await source(overpass).find("dentists", "Austin, TX", 25) == []


async def test_429_is_retried_after_the_retry_after_delay(overpass: Overpass) -> None:
    """A 429 with ``Retry-After: 1`` is retried once, about one second later, then succeeds."""
    overpass.answers = [Answer(429, "overpass_429.html", {"Retry-After": "1"}), Answer()]
    with capture_logs() as logs:
        leads = await source(overpass).find("dentists", "Austin, TX", 25)
    assert len(leads) == 3
    assert len(overpass.bodies) == 2 and overpass.bodies[0] == overpass.bodies[1]
    assert 0.9 <= overpass.times[1] - overpass.times[0] < 1.8
    retries = [entry for entry in logs if entry["event"] == "overpass_retry"]
    assert [(r["attempt"], r["wait"]) for r in retries] == [(1, 1.0)]


async def test_retry_after_is_capped(overpass: Overpass) -> None:
    """A ``Retry-After`` longer than ``max_wait`` is waited only ``max_wait``."""
    overpass.answers = [Answer(429, "overpass_429.html", {"Retry-After": "120"}), Answer()]
    await source(overpass, max_wait=0.2).find("dentists", "Austin, TX", 25)
    assert 0.18 <= overpass.times[1] - overpass.times[0] < 1.0


async def test_a_server_error_is_retried_with_backoff(overpass: Overpass) -> None:
    """A 500 and a 504 are retried with growing waits, and the third answer is used."""
    overpass.answers = [
        Answer(500, "overpass_429.html"),
        Answer(504, "overpass_429.html"),
        Answer(),
    ]
    leads = await source(overpass, backoff=0.1).find("dentists", "Austin, TX", 25)
    assert len(leads) == 3 and len(overpass.bodies) == 3
    first, second = (b - a for a, b in zip(overpass.times, overpass.times[1:], strict=False))
    assert 0.09 <= first < 0.5 and 0.19 <= second < 0.7


async def test_giving_up_names_the_attempts(overpass: Overpass) -> None:
    """When every attempt is refused the source raises OverpassBusy saying how many it made."""
    overpass.answers = [Answer(429, "overpass_429.html")]
    with pytest.raises(OverpassBusy) as caught:
        await source(overpass, attempts=3, backoff=0.01).find("dentists", "Austin, TX", 25)
    assert str(caught.value) == (
        f"{overpass.url} answered HTTP 429 Too Many Requests (gave up after 3 attempts)"
    )
    assert len(overpass.bodies) == 3


@pytest.mark.parametrize(
    ("fixture", "status", "message"),
    [
        ("overpass_truncated.json", 200, 'answered malformed JSON: \'{ "version": 0.6,'),
        ("overpass_runtime_error.json", 200, ': runtime error: Query timed out in "query" at'),
        ("overpass_400.html", 400, "answered HTTP 400 Bad Request: line 3: parse error: Unknown"),
    ],
    ids=["malformed-json", "runtime-error", "bad-request"],
)
async def test_bad_answers_raise_overpass_error(
    overpass: Overpass, fixture: str, status: int, message: str
) -> None:
    """Malformed JSON, a runtime-error remark and a 400 raise OverpassError, not retried."""
    overpass.answers = [Answer(status, fixture)]
    with pytest.raises(OverpassError) as caught:
        await source(overpass).find("dentists", "Austin, TX", 25)
    assert type(caught.value) is OverpassError
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert len(overpass.bodies) == 1


async def test_an_unreachable_endpoint_raises_overpass_unreachable() -> None:
    """Nothing listening at the endpoint: OverpassUnreachable naming it."""
    endpoint = f"http://127.0.0.1:{free_port()}/api/interpreter"
    with pytest.raises(OverpassUnreachable, match=f"cannot reach {endpoint}"):
        await OsmLeadSource(endpoint).find("dentists", "Austin, TX", 25)


async def test_a_timeout_raises_overpass_unreachable(overpass: Overpass) -> None:
    """An endpoint slower than ``timeout`` raises OverpassUnreachable saying so."""
    overpass.answers = [Answer(delay=1.0)]
    with pytest.raises(OverpassUnreachable, match=r"did not answer within 0\.2 s"):
        await source(overpass, timeout=0.2).find("dentists", "Austin, TX", 25)


async def test_requests_go_one_at_a_time(overpass: Overpass) -> None:
    """Concurrent finds on one source reach Overpass one after the other."""
    overpass.answers = [Answer(delay=0.1)]
    osm = source(overpass)
    results = await asyncio.gather(*(osm.find("dentists", "Austin, TX", 25) for _ in range(3)))
    assert [len(leads) for leads in results] == [3, 3, 3]
    assert overpass.most_in_flight == 1 and len(overpass.bodies) == 3


async def test_a_location_is_required() -> None:
    """Without a location the source refuses before asking Overpass (a planet-wide query)."""
    with pytest.raises(OsmLocationRequired, match="needs a location"):
        await OsmLeadSource("http://127.0.0.1:9/").find("dentists", None, 25)


def test_the_spec_names_the_endpoint() -> None:
    """``osm`` uses the public instance, ``osm:URL`` another one."""
    public = lead_source("osm")
    mirror = lead_source("osm:https://overpass.example/api/interpreter")
    assert isinstance(public, OsmLeadSource) and public.endpoint == DEFAULT_ENDPOINT
    assert isinstance(mirror, OsmLeadSource)
    assert mirror.endpoint == "https://overpass.example/api/interpreter"
    with pytest.raises(ConfigurationError):
        lead_source("osmx")


def test_retry_after_reads_seconds_and_dates() -> None:
    """``Retry-After`` in seconds or as an HTTP date gives seconds; garbage gives None."""
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_fixtures_are_overpass_json() -> None:
    """The recorded answers are in the Overpass JSON format (a guard on hand edits)."""
    for name in ("overpass_dentists_austin.json", "overpass_empty.json"):
        data = json.loads((FIXTURES / name).read_text())
        assert data["generator"].startswith("Overpass API") and isinstance(data["elements"], list)
