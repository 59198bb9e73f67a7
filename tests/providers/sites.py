"""Local HTTP servers for the provider tests: fixture websites and a scripted Overpass API.

There is no internet here, so every site lives on one aiohttp server on a free 127.0.0.1 port,
told apart by the ``Host`` header as a virtual-hosting web server does. Clients reach it as an
HTTP proxy (the auditor's ``proxy`` option, or ``HTTP_PROXY`` for a subprocess), so the sites keep
real names like ``http://wordpress.example/``, the only kind of website phase ``enrich`` keeps."""

import asyncio
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def html_file(
    name: str, *, content_type: str = "text/html; charset=utf-8", **headers: str
) -> Handler:
    """A handler serving ``fixtures/sites/<name>`` with these headers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        text = (FIXTURES / "sites" / name).read_text(encoding="utf-8")
        text = text.replace("%YEAR%", str(datetime.date.today().year))
        return web.Response(body=text.encode(), headers={"Content-Type": content_type, **headers})

    return handle


def text(body: str, status: int = 200, content_type: str = "text/plain") -> Handler:
    """A handler answering ``body`` with ``status``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body.encode(), status=status, headers={"Content-Type": content_type}
        )

    return handle


def redirect(location: str, status: int = 301) -> Handler:
    """A handler redirecting to ``location``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handle


def slow(seconds: float) -> Handler:
    """A handler that answers a small page after ``seconds``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(text="<html><title>Finally</title></html>", content_type="text/html")

    return handle


def huge(size: int, *, declared: bool) -> Handler:
    """A handler sending ``size`` bytes of HTML, with or without a Content-Length."""

    async def handle(request: web.Request) -> web.StreamResponse:
        chunk = b"<p>" + b"x" * 65_530 + b"</p>\n"
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        if declared:
            response.content_length = size
        await response.prepare(request)
        try:
            for _ in range(size // len(chunk) + 1):
                await response.write(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading, as it should
        return response

    return handle


CONTACT_PAGE = "<html><head><title>Home</title></head><body>Call 020 7946 0958</body></html>"

# Host -> path -> handler: the fixture sites, one per case the auditor must handle.
SITES: dict[str, dict[str, Handler]] = {
    "wordpress.example": {
        "/": html_file(
            "wordpress.html", Server="Apache/2.4.41 (Ubuntu)", **{"X-Powered-By": "PHP/7.2.24"}
        ),
        "/robots.txt": text(
            "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
        ),
    },
    "shop.example": {
        "/": html_file(
            "shopify.html", Server="cloudflare", **{"X-ShopId": "4567", "CF-Ray": "8d1f-DFW"}
        ),
        "/robots.txt": text("User-agent: *\nDisallow: /cart\nDisallow: /checkout\n"),
    },
    "bare.example": {"/": html_file("bare.html", content_type="text/html", Server="nginx")},
    "old.example": {"/": redirect("http://www.old.example/")},
    "www.old.example": {
        "/": redirect("/home", status=302),
        "/home": text(CONTACT_PAGE, content_type="text/html"),
    },
    "slow.example": {"/": slow(2.0)},
    "sluggish.example": {"/": slow(0.3)},
    "broken.example": {"/": text("<h1>Internal Server Error</h1>", 500, "text/html")},
    "huge.example": {
        "/": huge(3_000_000, declared=False),
        "/declared": huge(3_000_000, declared=True),
    },
    "private.example": {
        "/": html_file("bare.html"),
        "/robots.txt": text("User-agent: *\nDisallow: /\n"),
    },
    "members.example": {
        "/": redirect("/members/login", status=302),
        "/robots.txt": text("User-agent: *\nDisallow: /members/\n"),
    },
    "picky.example": {
        "/": html_file("bare.html"),
        "/robots.txt": text("User-agent: leadgen\nDisallow: /\n\nUser-agent: *\nAllow: /\n"),
    },
    "locked.example": {"/": html_file("bare.html"), "/robots.txt": text("Forbidden", 403)},
    "sorry.example": {"/": html_file("bare.html"), "/robots.txt": text("oops", 503)},
    "pdf.example": {"/": text("%PDF-1.4 fake", content_type="application/pdf")},
    "loop.example": {"/": redirect("/", status=302)},
}


@dataclass
class Server:
    """A running test server: its base URL and the requests it received."""

    url: str
    requests: list[web.Request] = field(default_factory=list)


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[Server]:
    """Run ``handler`` for every request on a free 127.0.0.1 port until the block ends."""
    server = Server(url="")

    async def record(request: web.Request) -> web.StreamResponse:
        server.requests.append(request)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    # A short shutdown_timeout: a handler still sleeping for a client that gave up is cancelled.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def virtual_hosts(request: web.Request) -> web.StreamResponse:
    """Answer as the fixture site named by the request's host, 404 for anything unknown."""
    routes = SITES.get(request.host.split(":")[0], {})
    handler = routes.get(request.path)
    if handler is None:
        return web.Response(status=404, text="Not Found")
    return await handler(request)


@asynccontextmanager
async def fixture_sites() -> AsyncIterator[Server]:
    """The fixture sites, reachable through the server's URL used as an HTTP proxy."""
    async with serve(virtual_hosts) as server:
        yield server
