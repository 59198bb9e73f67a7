"""The website auditor visits public addresses only (no server-side request forgery): the address
classifier, the check made before each connection, the guarded transport, and the auditor."""

import asyncio
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpcore
import httpx
import pytest
from aiohttp import web

from leadgen.providers import USER_AGENT, auditor
from leadgen.providers.website import (
    WebsiteAuditor,
    WebsiteBlockedAddress,
    WebsiteHTTPError,
    WebsiteTLSError,
    WebsiteUnreachable,
)
from leadgen.providers.website.addresses import Lookup, classify, public_addresses
from leadgen.providers.website.fetch import Fetcher, Limits, Page
from leadgen.providers.website.transport import GuardedBackend, GuardedTransport
from leadgen.store.models import Lead
from tests.providers.sites import Handler, fixture_sites, redirect, serve, text
from tests.support.servers import free_port

PAGE = text("<html><title>Intranet</title><body>Call 020 7946 0958</body></html>", 200, "text/html")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct connections, whatever the machine running the tests has set."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def lead(website: str) -> Lead:
    """A lead with this website."""
    return Lead(job_id="job", lead_id="lead", name="Acme", website=website)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("10.1.2.3", "private"),
        ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"), ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"), ("198.18.0.1", "private"),
        ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
        ("fc00::1", "private"), ("fd12:3456::1", "private"), ("ff02::1", "multicast"),
        ("fec0::1", "site-local"), ("2001:db8::1", "private"), ("::7f00:1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.5", "private"),
        ("::ffff:169.254.169.254", "link-local"), ("::ffff:100.64.0.1", "carrier-grade NAT"),
        ("64:ff9b::a00:5", "private"), ("2002:7f00:1::1", "loopback"),
        ("93.184.216.34", None), ("8.8.8.8", None), ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("::ffff:93.184.216.34", None), ("64:ff9b::5db8:d822", None),
    ],
)  # fmt: skip
def test_addresses_are_classified(address: str, kind: str | None) -> None:
    """Internal addresses, IPv4 inside IPv6 included, get their class; public ones get None."""
    assert classify(ipaddress.ip_address(address)) == kind


def dns(records: dict[str, list[str]], asked: list[str] | None = None) -> Lookup:
    """A lookup answering from ``records`` (gaierror for other names), noting each name asked."""

    async def lookup(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        if host not in records:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return records[host]

    return lookup


async def test_the_check_refuses_a_host_with_any_internal_address() -> None:
    """A name is refused if one of its addresses is internal; a literal is judged unresolved."""
    asked: list[str] = []
    lookup = dns({"shop.test": ["93.184.216.34", "2606:2800::1"], "split.test": [
        "93.184.216.34", "10.0.0.5"]}, asked)  # fmt: skip
    assert await public_addresses("shop.test", 80, lookup) == ["93.184.216.34", "2606:2800::1"]
    assert await public_addresses("93.184.216.34", 80, lookup) == ["93.184.216.34"]
    with pytest.raises(WebsiteBlockedAddress) as caught:
        await public_addresses("split.test", 80, lookup)
    assert str(caught.value) == (
        "split.test resolves to 10.0.0.5, which is not a public address (private)"
    )
    with pytest.raises(WebsiteBlockedAddress, match=r"^::1 is not a public address \(loopback\)$"):
        await public_addresses("::1", 80, lookup)
    assert asked == ["shop.test", "split.test"]


class FakeInternet(httpcore.AsyncNetworkBackend):
    """Connects every address to one local port, noting the addresses dialled."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dialled: list[str] = []
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append(host)
        return await self._network.connect_tcp("127.0.0.1", self.port, timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def fetch(url: str, lookup: Lookup, internet: FakeInternet) -> Page:
    """The page at ``url``, fetched through the guarded transport."""
    transport = GuardedTransport(httpx.create_ssl_context(), GuardedBackend(lookup, internet))
    async with httpx.AsyncClient(transport=transport) as client:
        return await Fetcher(client, Limits(), USER_AGENT).page(url)


def site(routes: dict[str, Handler]) -> Handler:
    """A handler answering each path of ``routes``, 404 for the others."""

    async def handle(request: web.Request) -> web.StreamResponse:
        handler = routes.get(request.path)
        return await handler(request) if handler else web.Response(status=404)

    return handle


@pytest.mark.parametrize(
    ("target", "refusal"),
    [
        ("http://127.0.0.1:{port}/admin", "127.0.0.1 is not a public address (loopback)"),
        ("http://metadata.test/latest/meta-data/",
         "metadata.test resolves to 169.254.169.254, which is not a public address (link-local)"),
    ],
    ids=["literal", "name"],
)  # fmt: skip
async def test_a_redirect_to_an_internal_address_is_refused(target: str, refusal: str) -> None:
    """A public site redirecting to an internal address: the hop is refused, never dialled."""
    async with serve(PAGE) as internal:
        target = target.format(port=internal.url.rsplit(":", 1)[1])
        async with serve(site({"/": redirect(target, status=302)})) as public:
            internet = FakeInternet(int(public.url.rsplit(":", 1)[1]))
            records = {"shop.test": ["93.184.216.34"], "metadata.test": ["169.254.169.254"]}
            with pytest.raises(WebsiteBlockedAddress) as caught:
                await fetch("http://shop.test/", dns(records), internet)
    assert str(caught.value) == f"{target}: {refusal}"
    assert [r.path for r in public.requests] == ["/robots.txt", "/"]
    assert set(internet.dialled) == {"93.184.216.34"} and internal.requests == []


async def test_each_connection_goes_to_the_address_its_check_approved() -> None:
    """The host is resolved once per connection and that answer is dialled: a name that rebinds
    to 127.0.0.1 between two connections is refused, never dialled."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    async with serve(site({"/": PAGE})) as server:
        internet = FakeInternet(int(server.url.rsplit(":", 1)[1]))
        with pytest.raises(WebsiteBlockedAddress) as caught:
            # robots.txt answers 404 unread, so the page needs a second connection.
            await fetch("http://rebind.test/", rebinding, internet)
    assert str(caught.value) == (
        "http://rebind.test/: rebind.test resolves to 127.0.0.1, which is not a public address "
        "(loopback)"
    )
    assert internet.dialled == ["93.184.216.34"]
    assert [r.path for r in server.requests] == ["/robots.txt"]


async def test_the_guarded_transport_reports_network_failures() -> None:
    """Unknown name, refused connection and TLS to a plain port raise the usual errors."""
    records = {"shop.test": ["93.184.216.34"]}
    with pytest.raises(
        WebsiteUnreachable, match=r"^http://gone\.test/: cannot resolve gone\.test$"
    ):
        await fetch("http://gone.test/", dns(records), FakeInternet(free_port()))
    with pytest.raises(WebsiteUnreachable, match=r"^http://shop\.test/: connection refused$"):
        await fetch("http://shop.test/", dns(records), FakeInternet(free_port()))
    async with serve(PAGE) as server:
        internet = FakeInternet(int(server.url.rsplit(":", 1)[1]))
        with pytest.raises(WebsiteTLSError, match="TLS handshake failed"):
            await fetch("https://shop.test/", dns(records), internet)


async def test_a_local_site_is_refused_unvisited() -> None:
    """A lead at http://127.0.0.1:PORT/ fails with WebsiteBlockedAddress; the site sees nothing."""
    async with serve(PAGE) as server:
        url = f"{server.url}/"
        with pytest.raises(WebsiteBlockedAddress) as caught:
            await WebsiteAuditor().audit(lead(url))
    assert str(caught.value) == f"{url}: 127.0.0.1 is not a public address (loopback)"
    assert server.requests == []


async def test_localhost_is_refused_unvisited() -> None:
    """localhost resolves to a loopback address: refused, and the site sees nothing."""
    async with serve(PAGE) as server:
        url = f"http://localhost:{server.url.rsplit(':', 1)[1]}/"
        with pytest.raises(WebsiteBlockedAddress) as caught:
            await WebsiteAuditor().audit(lead(url))
    assert re.fullmatch(
        rf"{re.escape(url)}: localhost resolves to (127\.0\.0\.1|::1), which is not a public "
        r"address \(loopback\)",
        str(caught.value),
    )
    assert server.requests == []


@pytest.fixture
async def network_calls(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """Every name lookup and connection the test's event loop is asked for; each one fails."""
    calls: list[str] = []
    loop = asyncio.get_running_loop()

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(repr(args))
        raise OSError("the network is off limits in this test")

    monkeypatch.setattr(loop, "getaddrinfo", spy)
    monkeypatch.setattr(loop, "create_connection", spy)
    yield calls


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address "
         "(link-local)"),
        ("http://10.1.2.3/", "10.1.2.3 is not a public address (private)"),
        ("http://[::1]/", "::1 is not a public address (loopback)"),
        ("http://100.64.0.1:8080/", "100.64.0.1 is not a public address (carrier-grade NAT)"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is not a public address (loopback)"),
    ],
    ids=["metadata", "private", "ipv6-loopback", "cgnat", "ipv4-mapped"],
)  # fmt: skip
async def test_internal_addresses_are_refused_without_network_traffic(
    network_calls: list[str], url: str, refusal: str
) -> None:
    """A literal internal address is refused before any lookup or connection."""
    with pytest.raises(WebsiteBlockedAddress) as caught:
        await WebsiteAuditor().audit(lead(url))
    assert str(caught.value) == f"{url}: {refusal}"
    assert network_calls == []


async def test_allow_private_audits_a_local_site() -> None:
    """``allow_private=true`` turns the check off: the 127.0.0.1 site is audited."""
    async with serve(PAGE) as server:
        intranet = auditor("website:allow_private=true")
        result = await intranet.audit(lead(f"{server.url}/"))
    assert result["content"]["title"] == "Intranet"
    assert result["content"]["phones"] == ["020 7946 0958"]
    assert [r.path for r in server.requests] == ["/robots.txt", "/"]


async def test_through_the_proxy_option_nothing_is_checked() -> None:
    """With ``proxy`` the proxy resolves names and owns egress: a public-looking site works, and
    a 127.0.0.1 URL is asked of the proxy (which has no such site), not refused."""
    async with fixture_sites() as sites:
        through = WebsiteAuditor(proxy=sites.url)
        result = await through.audit(lead("http://bare.example/"))
        with pytest.raises(WebsiteHTTPError, match="answered HTTP 404"):
            await through.audit(lead("http://127.0.0.1:9/"))
    assert result["content"]["title"] == "Lone Star Dentistry"
    assert [(r.host, r.path) for r in sites.requests][-1] == ("127.0.0.1", "/")


async def test_the_environment_proxy_is_used_and_no_proxy_hosts_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``HTTP_PROXY`` carries the requests it applies to, unchecked; a host that ``NO_PROXY``
    sends direct is checked like any direct request."""
    async with fixture_sites() as sites, serve(PAGE) as internal:
        monkeypatch.setenv("HTTP_PROXY", sites.url)
        monkeypatch.setenv("NO_PROXY", "localhost, 127.0.0.1")
        result = await WebsiteAuditor().audit(lead("http://bare.example/"))
        with pytest.raises(WebsiteBlockedAddress, match=r"127\.0\.0\.1 is not a public address"):
            await WebsiteAuditor().audit(lead(f"{internal.url}/"))
    assert result["content"]["title"] == "Lone Star Dentistry"
    assert {r.host for r in sites.requests} == {"bare.example"} and internal.requests == []
