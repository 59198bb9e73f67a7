"""Which addresses the website auditor may connect to: public ones only.

A lead's website comes from a customer's file or from OpenStreetMap, so it can name an internal
service (``http://127.0.0.1:15672/``, ``http://169.254.169.254/latest/meta-data/``,
``http://10.0.0.5/``) and turn the worker into a proxy into its own network: server-side request
forgery. ``public_addresses`` is the check made before every connection: it resolves the host with
the event loop's ``getaddrinfo`` and refuses it, with WebsiteBlockedAddress, when any address is
not globally routable. providers/website/transport.py then connects to the very address checked."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from leadgen.providers.website.errors import WebsiteBlockedAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# How a host's addresses are found: (host, port) -> addresses, as text.
Lookup = Callable[[str, int], Awaitable[list[str]]]

# RFC 6598 space for carrier-grade NAT: not global, yet not "private" to Python's ipaddress.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# RFC 6052 NAT64 prefix: the gateway connects to the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The first property that holds names the class. ``is_global`` alone is not enough: Python counts
# multicast (224.0.0.0/4, ff00::/8) and the old IPv6 site-local range (fec0::/10) as global.
# Reserved comes before private so that 240.0.0.0/4 reads "reserved", not "private".
_CLASSES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_site_local", "site-local"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    # An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64) ends up at that IPv4 host,
    # so that host is the one to judge: ::ffff:127.0.0.1 is loopback.
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is off limits (``"loopback"``, ``"private"``...), None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return classify(embedded)
    for prop, name in _CLASSES:
        if getattr(address, prop, False):
            return name
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "carrier-grade NAT"
    # Whatever else the IANA special-purpose registries set aside (192.0.0.0/24, ...).
    return None if address.is_global else "special-purpose"


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses of ``host`` in the resolver's order, from the event loop's non-blocking
    ``getaddrinfo``; ``socket.gaierror`` when it has none."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def public_addresses(host: str, port: int, lookup: Lookup = system_lookup) -> list[str]:
    """The addresses to connect to for ``host``, every one of them public.

    A literal IP is judged as it is, without a lookup. Raises WebsiteBlockedAddress when any
    address is not public: a name resolving to one public and one internal address could be
    answered either way on the next lookup, so one bad address condemns the host."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    found = [host] if literal is not None else await lookup(host, port)
    for address in found:
        kind = classify(ipaddress.ip_address(address))
        if kind is not None:
            where = host if literal is not None else f"{host} resolves to {address}, which"
            raise WebsiteBlockedAddress(f"{where} is not a public address ({kind})")
    return found
