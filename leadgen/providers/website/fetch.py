"""Fetching one web page politely and within limits, for the website auditor.

Redirects are followed by hand, so that every page fetched, the first and each one redirected
to, is checked against its site's robots.txt (parsed with ``urllib.robotparser``) and the hops
are counted. A body is streamed and abandoned past ``max_bytes``. httpx errors are translated
here, at the edge, into the WebsiteError subclasses of providers/website/errors.py. Which
addresses a request may reach is the client's business (providers/website/transport.py): its
refusal, WebsiteBlockedAddress, is only given the URL of the hop it stopped."""

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.robotparser import RobotFileParser

import httpx

from leadgen.providers.website.errors import (
    WebsiteBlockedAddress,
    WebsiteBlockedByRobots,
    WebsiteError,
    WebsiteHTTPError,
    WebsiteNotHTML,
    WebsiteTimeout,
    WebsiteTLSError,
    WebsiteTooLarge,
    WebsiteTooManyRedirects,
    WebsiteUnreachable,
)

# RFC 9309 asks crawlers to read at least 500 KiB of a robots.txt; more is ignored.
ROBOTS_MAX_BYTES = 512 * 1024
HTML_TYPES = ("text/html", "application/xhtml+xml")
ALLOW_ALL: list[str] = []
DISALLOW_ALL = ["User-agent: *", "Disallow: /"]


@dataclass(frozen=True)
class Limits:
    """How long to wait and how much to read."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 2_000_000
    max_redirects: int = 5


@dataclass(frozen=True)
class Page:
    """A fetched HTML page. ``redirects`` lists the URLs that redirected, in order; header names
    are lower case; ``elapsed_ms`` covers every hop, from request to the last byte."""

    url: str
    final_url: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int
    redirects: list[str] = field(default_factory=list)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _connect_error(exc: httpx.HTTPError, url: str) -> WebsiteError:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return WebsiteTLSError(f"{url}: certificate rejected ({cause.verify_message})")
        if isinstance(cause, ssl.SSLError):
            return WebsiteTLSError(f"{url}: TLS handshake failed ({cause.reason or cause})")
        if isinstance(cause, socket.gaierror):
            return WebsiteUnreachable(f"{url}: cannot resolve {httpx.URL(url).host}")
        if isinstance(cause, ConnectionRefusedError):
            return WebsiteUnreachable(f"{url}: connection refused")
    return WebsiteUnreachable(f"{url}: cannot connect ({exc})")


@contextmanager
def translated(url: str, limits: Limits) -> Iterator[None]:
    """Turn the httpx errors raised inside into WebsiteError subclasses about ``url``."""
    try:
        yield
    except WebsiteBlockedAddress as exc:
        raise WebsiteBlockedAddress(f"{url}: {exc}") from None
    except httpx.ConnectTimeout:
        raise WebsiteTimeout(f"{url}: no connection within {limits.connect_timeout:g} s") from None
    except httpx.TimeoutException:
        raise WebsiteTimeout(f"{url}: no answer within {limits.read_timeout:g} s") from None
    except httpx.ConnectError as exc:
        raise _connect_error(exc, url) from None
    except httpx.TooManyRedirects:
        raise WebsiteTooManyRedirects(
            f"{url} redirected more than {limits.max_redirects} times"
        ) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise WebsiteUnreachable(f"{url}: the connection failed ({reason})") from None


async def read_body(response: httpx.Response, url: str, max_bytes: int, *, cut: bool) -> bytes:
    """The decoded body, at most ``max_bytes``: cut there, or WebsiteTooLarge past it."""
    declared = response.headers.get("content-length", "")
    if not cut and declared.isdigit() and int(declared) > max_bytes:
        raise WebsiteTooLarge(f"{url} is {int(declared):,} bytes; the audit reads {max_bytes:,}")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if cut:
                return bytes(body[:max_bytes])
            raise WebsiteTooLarge(f"{url} is larger than the {max_bytes:,} bytes the audit reads")
    return bytes(body)


def _check(response: httpx.Response, url: str) -> None:
    if not response.is_success:
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        raise WebsiteHTTPError(f"{url} answered {status}")
    content_type = response.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    # No Content-Type at all is common on small hand-made sites: give the page the benefit.
    if kind and kind not in HTML_TYPES:
        raise WebsiteNotHTML(f"{url} is {kind}, not HTML")


class Fetcher:
    """Fetches pages of one audit with ``client``, caching each site's robots.txt."""

    def __init__(self, client: httpx.AsyncClient, limits: Limits, agent: str) -> None:
        self.client = client
        self.limits = limits
        self.agent = agent
        self._robots: dict[str, RobotFileParser] = {}

    async def page(self, url: str) -> Page:
        """The HTML page at ``url``, after at most ``max_redirects`` redirects."""
        redirects: list[str] = []
        elapsed = 0.0
        current = url
        while True:
            await self._check_robots(current)
            started = time.perf_counter()
            with translated(current, self.limits):
                async with self.client.stream("GET", current) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        elapsed += time.perf_counter() - started
                        redirects.append(current)
                        if len(redirects) > self.limits.max_redirects:
                            raise WebsiteTooManyRedirects(
                                f"{url} redirected more than {self.limits.max_redirects} times"
                            )
                        current = str(response.url.join(location))
                        continue
                    _check(response, current)
                    body = await read_body(response, current, self.limits.max_bytes, cut=False)
                    elapsed += time.perf_counter() - started
                    return Page(
                        url=url,
                        final_url=current,
                        status_code=response.status_code,
                        headers={k.lower(): v for k, v in response.headers.items()},
                        body=body,
                        elapsed_ms=round(elapsed * 1000),
                        redirects=redirects,
                    )

    async def _check_robots(self, url: str) -> None:
        parts = httpx.URL(url)
        origin = f"{parts.scheme}://{parts.netloc.decode('ascii')}"
        robots = self._robots.get(origin)
        if robots is None:
            robots = self._robots[origin] = await self._load_robots(origin, url)
        if not robots.can_fetch(self.agent, url):
            raise WebsiteBlockedByRobots(f"{origin}/robots.txt disallows {url}")

    async def _load_robots(self, origin: str, page_url: str) -> RobotFileParser:
        """The site's rules, as ``urllib.robotparser`` reads them: 401 and 403 forbid
        everything, any other failure status (no file) allows everything.

        A network failure is reported about ``page_url``: the site, not its robots.txt, is
        what the audit could not reach."""
        url = f"{origin}/robots.txt"
        robots = RobotFileParser(url)
        try:
            with translated(page_url, self.limits):
                async with self.client.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code in (401, 403):
                        robots.parse(DISALLOW_ALL)
                    elif not response.is_success:
                        robots.parse(ALLOW_ALL)
                    else:
                        body = await read_body(response, url, ROBOTS_MAX_BYTES, cut=True)
                        robots.parse(body.decode("utf-8", "replace").splitlines())
        except WebsiteTooManyRedirects:
            robots.parse(ALLOW_ALL)
        return robots
