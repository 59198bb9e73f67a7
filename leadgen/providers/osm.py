"""The ``osm`` lead source: businesses from OpenStreetMap through the public Overpass API.

``osm`` asks https://overpass-api.de/api/interpreter; ``osm:URL`` asks another Overpass instance
(a mirror, or one's own). The query becomes OSM tags through providers/osm_tags.py, or a
case-insensitive search of business names when the table knows none of its words.

The location becomes an Overpass area: the part before the first comma names an administrative
boundary (``area["name"="Austin"]``, as written and in title case); a second part narrows it to
cities inside a region named so, or with that ISO 3166 code (``Austin, TX``, ``Austin, Texas``),
since a bare city name may name several places. A city that OSM maps without a boundary finds
nothing; Overpass has no geocoder, and a Nominatim lookup would be a second service to respect.

The usage policy of the public instance is followed: a User-Agent naming leadgen, one request
at a time per source, a timeout, and retries with exponential backoff (tenacity) on HTTP 429 and
5xx, waiting what ``Retry-After`` asks, up to a cap."""

import asyncio
import email.utils
import json
import re
import string
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from leadgen.errors import ProviderError
from leadgen.log import log
from leadgen.providers.base import USER_AGENT, RawLead
from leadgen.providers.osm_tags import Category, categories_for, name_pattern

DEFAULT_ENDPOINT = "https://overpass-api.de/api/interpreter"
_ADMIN = '["boundary"="administrative"]'
_ERE_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")
_KIND_KEYS = ("amenity", "shop", "office", "craft", "healthcare", "leisure", "tourism")


class OverpassError(ProviderError):
    """Raised when the Overpass API answers with an error, or with something not its JSON."""


class OverpassBusy(OverpassError):
    """Raised when the Overpass API still answers 429 or 5xx after every retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OverpassUnreachable(OverpassError):
    """Raised when the Overpass API cannot be reached or does not answer in time."""


class OsmLocationRequired(ProviderError):
    """Raised when the ``osm`` source is asked for leads without a location."""


def _ql(text: str) -> str:
    """``text`` as an Overpass QL string literal (QL takes JSON's escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _spellings(name: str) -> list[str]:
    """The spellings of a place name to look for: as written, and in title case."""
    written = " ".join(name.split())
    return list(dict.fromkeys([written, string.capwords(written)]))


def _area_lines(location: str) -> list[str]:
    """QL statements that leave the requested area in the set ``.where``."""
    city, _, rest = location.partition(",")
    region = rest.split(",")[0].strip()
    names = [f'area{_ADMIN}["name"={_ql(spelling)}];' for spelling in _spellings(city)]
    if not region:
        return ["(", *(f"  {line}" for line in names), ")->.where;"]
    if re.fullmatch(r"[A-Za-z0-9]{1,3}", region):
        # A code: of a state or province (ISO 3166-2, "US-TX") or of a country (ISO 3166-1).
        code = region.upper()
        regions = [f'area{_ADMIN}["ISO3166-2"~{_ql("-" + code + "$")}];']
        if code.isalpha() and len(code) > 1:
            key = "ISO3166-1" if len(code) == 2 else "ISO3166-1:alpha3"
            regions.append(f"area[{_ql(key)}={_ql(code)}];")
    else:
        regions = [f'area{_ADMIN}["name"={_ql(spelling)}];' for spelling in _spellings(region)]
    cities = [f'rel(area.region){_ADMIN}["name"={_ql(s)}];' for s in _spellings(city)]
    return [
        "(",
        *(f"  {line}" for line in regions),
        ")->.region;",
        "(",
        *(f"  {line}" for line in cities),
        ");",
        "map_to_area->.where;",
    ]


def overpass_query(query: str, location: str, limit: int, timeout: int = 25) -> str:
    """The Overpass QL program asking for up to ``limit`` named businesses of ``query``."""
    tags = [tag for category in categories_for(query) for tag in category.tags]
    if tags:
        selectors = [f"nwr[{_ql(key)}={_ql(value)}][name](area.where);" for key, value in tags]
    else:
        pattern = _ERE_SPECIAL.sub(r"\\\1", name_pattern(query))
        selectors = [f"nwr[name~{_ql(pattern)},i](area.where);"]
    return "\n".join(
        [
            f"[out:json][timeout:{timeout}];",
            *_area_lines(location),
            "(",
            *(f"  {selector}" for selector in selectors),
            ");",
            f"out tags center {limit};",
        ]
    )


def _first(tags: dict[str, str], *keys: str) -> str | None:
    return next((tags[key].strip() for key in keys if tags.get(key, "").strip()), None)


def _address(tags: dict[str, str]) -> str | None:
    street = " ".join(p for p in (tags.get("addr:housenumber"), tags.get("addr:street")) if p)
    region = " ".join(p for p in (tags.get("addr:state"), tags.get("addr:postcode")) if p)
    parts = [p for p in (street, tags.get("addr:city"), region) if p]
    return ", ".join(parts) or _first(tags, "addr:full")


def _industry(tags: dict[str, str], categories: list[Category]) -> str | None:
    for category in categories:
        if any(tags.get(key) == value for key, value in category.tags):
            return category.industry
    kind = _first(tags, *_KIND_KEYS)
    return kind.replace("_", " ").capitalize() if kind else None


def raw_lead(element: dict[str, Any], categories: list[Category], where: str) -> RawLead | None:
    """The raw lead of one Overpass element; None for an element without a name."""
    tags = {str(k): str(v) for k, v in (element.get("tags") or {}).items()}
    name = _first(tags, "name")
    if name is None:
        return None
    osm_id = f"{element.get('type', 'node')}/{element.get('id', '?')}"
    point = element.get("center") or element
    city = ", ".join(p for p in (tags.get("addr:city"), tags.get("addr:state")) if p)
    signals = {
        "osm_id": osm_id,
        "address": _address(tags),
        "opening_hours": tags.get("opening_hours"),
        "lat": point.get("lat"),
        "lon": point.get("lon"),
    }
    keywords = [
        word.strip().replace("_", " ")
        for key in ("cuisine", "healthcare:speciality")
        for word in tags.get(key, "").split(";")
        if word.strip()
    ]
    return RawLead(
        source_id=f"osm:{osm_id}",
        name=name,
        website=_first(tags, "website", "contact:website", "url"),
        location=city or where,
        phone=_first(tags, "phone", "contact:phone"),
        email=_first(tags, "email", "contact:email"),
        industry=_industry(tags, categories),
        keywords=keywords,
        signals={key: value for key, value in signals.items() if value is not None},
    )


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if unusable."""
    text = (value or "").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _snippet(response: httpx.Response) -> str:
    # Overpass explains errors in an HTML page, after a licence notice: keep the explanation.
    found = re.search(r"Error</strong>:(.*?)</p>", response.text, re.DOTALL)
    text = re.sub(r"<[^>]+>", " ", found.group(1) if found else response.text)
    return " ".join(text.split())[:200]


class OsmLeadSource:
    """Businesses near a location from an Overpass API instance.

    ``attempts`` counts the first request too; the waits between them double from ``backoff``
    seconds, or follow ``Retry-After``, and never exceed ``max_wait``. ``timeout`` bounds each
    HTTP request; ``query_timeout`` is the run time Overpass is asked to allow itself."""

    name = "osm"

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float = 60.0,
        query_timeout: int = 25,
        attempts: int = 4,
        backoff: float = 2.0,
        max_wait: float = 60.0,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.query_timeout = query_timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        # The policy allows one request at a time: jobs sharing this source queue up here.
        self._lock = asyncio.Lock()

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        """Up to ``limit`` named businesses, those with a website and a phone first."""
        if not location or not location.split(",")[0].strip():
            raise OsmLocationRequired("the osm lead source needs a location, e.g. 'Austin, TX'")
        program = overpass_query(query, location, max(1, limit), self.query_timeout)
        async with self._lock:
            data = await self._ask(program)
        categories = categories_for(query)
        leads = [
            lead
            for element in data["elements"]
            if isinstance(element, dict)
            and (lead := raw_lead(element, categories, location.strip())) is not None
        ]
        leads.sort(key=lambda lead: (lead.website is None, lead.phone is None))
        return leads[: max(0, limit)]

    async def _ask(self, program: str) -> dict[str, Any]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(OverpassBusy),
            before_sleep=self._log_retry,
            reraise=True,
        )
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
            try:
                result: dict[str, Any] = await retrying(self._request, client, program)
            except OverpassBusy as exc:
                raise OverpassBusy(f"{exc} (gave up after {self.attempts} attempts)") from None
        return result

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, OverpassBusy) and error.retry_after is not None:
            return min(error.retry_after, self.max_wait)
        return float(min(self.backoff * 2 ** (state.attempt_number - 1), self.max_wait))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else None
        log.info("overpass_retry", attempt=state.attempt_number, wait=wait, reason=str(error))

    async def _request(self, client: httpx.AsyncClient, program: str) -> dict[str, Any]:
        try:
            response = await client.post(self.endpoint, data={"data": program})
        except httpx.TimeoutException:
            raise OverpassUnreachable(
                f"{self.endpoint} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise OverpassUnreachable(f"cannot reach {self.endpoint}: {exc}") from None
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after(response.headers.get("Retry-After"))
            raise OverpassBusy(f"{self.endpoint} answered {status}", retry_after=wait)
        if response.status_code >= 400:
            raise OverpassError(f"{self.endpoint} answered {status}: {_snippet(response)}")
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise OverpassError(
                f"{self.endpoint} answered malformed JSON: {_snippet(response)[:80]!r}"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
            raise OverpassError(f"{self.endpoint} answered JSON without an 'elements' list")
        remark = data.get("remark")
        # Overpass reports a query that ran out of time or memory as 200 with a remark.
        if isinstance(remark, str) and "error" in remark.lower():
            raise OverpassError(f"{self.endpoint}: {' '.join(remark.split())}")
        return data
