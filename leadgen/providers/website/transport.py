"""How the website auditor's requests leave the worker: through a proxy, or straight to an
address providers/website/addresses.py approved.

The address checked is the address connected to. ``GuardedBackend`` is an httpcore network
backend: httpcore asks it for a TCP connection to the URL's host, it resolves the host once,
checks every address and connects to one of those, so a name that answers a public address to
the check and an internal one to the connection (DNS rebinding) gains nothing. TLS is unaffected:
httpcore still sends the host name as SNI and checks the certificate against it, and connections
are pooled by host name. httpx has no hook for a network backend, so ``GuardedTransport`` is a
small httpx transport over an httpcore connection pool that has one.

Requests that go through a proxy are not checked: the proxy resolves the name, and whoever
configures a proxy owns its egress policy. ``Routes`` sends a request through the proxy that
``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` name for its scheme, unless ``NO_PROXY`` names its
host; everything else, hosts in ``NO_PROXY`` included, is checked. httpx reads these variables
itself only when given no transport, which is why the routing is done here."""

import asyncio
import socket
import ssl
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx
from typing_extensions import override

from leadgen.providers.website.addresses import Lookup, public_addresses, system_lookup

# httpcore's errors and the httpx ones of the same name, which fetch.translated reads; the
# subclasses come before their bases.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to ``host`` only at addresses ``public_addresses`` approved, trying
    them in the resolver's order; ``network`` makes the connections."""

    def __init__(
        self, lookup: Lookup = system_lookup, network: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.lookup = lookup
        self.network = network or httpcore.AnyIOBackend()

    @override
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await public_addresses(host, port, self.lookup)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host} was not resolved within {timeout} s") from None
        except socket.gaierror as exc:
            # As a ConnectError, so that fetch.translated reports it like any failed connection.
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        # One address after the other rather than raced (happy eyeballs): a site with a dead
        # address is slower to reach, and total_timeout still bounds the visit.
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.network.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # a lookup returns addresses or raises
        raise failure

    @override
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.network.connect_unix_socket(path, timeout, socket_options)

    @override
    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        # httpcore's pooled stream has aclose (it gives the connection back); plain ones may not.
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """Direct connections through ``backend``, pooled by host; TLS with ``ssl_context``."""

    def __init__(self, ssl_context: ssl.SSLContext, backend: GuardedBackend) -> None:
        self._pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)

    @override
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = await self._pool.handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    @override
    async def aclose(self) -> None:
        await self._pool.aclose()


def _no_proxy(value: str) -> list[str]:
    # curl's reading of NO_PROXY: "*" is every host; "example.com", ".example.com" and
    # "*.example.com" each cover example.com and its subdomains; "[::1]" is ::1.
    entries = [entry.strip().strip("[]").lower() for entry in value.split(",")]
    return [entry if entry == "*" else entry.lstrip("*.") for entry in entries if entry]


def _bypassed(host: str, no_proxy: list[str]) -> bool:
    host = host.lower()
    return any(entry == "*" or host == entry or host.endswith("." + entry) for entry in no_proxy)


class Routes(httpx.AsyncBaseTransport):
    """Each request through the environment's proxy for its scheme, unless ``NO_PROXY`` names
    its host; the others through ``direct``. The variables are read once, here."""

    def __init__(self, direct: httpx.AsyncBaseTransport, ssl_context: ssl.SSLContext) -> None:
        found = urllib.request.getproxies()
        self.direct = direct
        self.proxies: dict[str, httpx.AsyncBaseTransport] = {}
        for scheme in ("http", "https"):
            url = found.get(scheme) or found.get("all")
            if url:
                proxy = url if "://" in url else f"http://{url}"
                self.proxies[scheme] = httpx.AsyncHTTPTransport(proxy=proxy, verify=ssl_context)
        self.no_proxy = _no_proxy(found.get("no", ""))

    def route(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        """The transport for ``url``."""
        proxy = self.proxies.get(url.scheme)
        if proxy is None or _bypassed(url.host, self.no_proxy):
            return self.direct
        return proxy

    @override
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.route(request.url).handle_async_request(request)

    @override
    async def aclose(self) -> None:
        for transport in (self.direct, *self.proxies.values()):
            await transport.aclose()


def guarded_transport(ssl_context: ssl.SSLContext) -> httpx.AsyncBaseTransport:
    """The transport of an auditor without a ``proxy`` option: the environment's proxies, and
    the guard on every direct connection."""
    return Routes(GuardedTransport(ssl_context, GuardedBackend()), ssl_context)
