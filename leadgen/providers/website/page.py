"""What a home page says: title, description, language, contact details, social profiles, and
the raw material (scripts, links, generator) that providers/website/tech.py reads the stack from.

HTML is parsed with selectolax's Lexbor backend: Lexbor is a spec-conformant HTML5 parser in C,
so broken markup is repaired the way browsers repair it; selectolax is many times faster than
BeautifulSoup or lxml, ships wheels for every major platform and Python version, is typed, and is
actively maintained (releases every few months)."""

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
# File names like "logo@2x.png" look like addresses; real top-level domains are not these.
_NOT_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js"})
# Grouped like a phone number (separators between groups), 9 to 15 digits in all: dates,
# prices and years do not match.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?!\w)"
)
_COPYRIGHT = re.compile(
    r"(?:©|&copy;|\(c\)|copyright)\s*(?:\d{4}\s*[-\u2013\u2014]\s*)?(\d{4})", re.I
)
SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "instagram.com": "instagram",
    "linkedin.com": "linkedin",
    "twitter.com": "x",
    "x.com": "x",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "tiktok.com": "tiktok",
}
# Links that share the page rather than name the business's own profile.
_SHARE_PATHS = ("/sharer", "/share", "/intent", "/dialog", "/plugins")
_INLINE_SCRIPT_LIMIT = 200_000


@dataclass(frozen=True)
class PageFacts:
    """What the HTML of one page shows. URLs are absolute; ``phones`` keep their spelling."""

    title: str | None = None
    description: str | None = None
    language: str | None = None
    generator: str | None = None
    viewport: bool = False
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    social: dict[str, str] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    inline_script: str = ""
    html_attributes: list[str] = field(default_factory=list)
    copyright_year: int | None = None


def decode(body: bytes, content_type: str | None) -> str:
    """The text of an HTML body: the charset of the header, else of a ``<meta>``, else UTF-8."""
    declared = [_CHARSET.search(content_type or ""), _CHARSET.search(body[:2048].decode("latin-1"))]
    for charset in [*(m.group(1) for m in declared if m), "utf-8"]:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def _attr(node: LexborNode, name: str) -> str:
    return (node.attributes.get(name) or "").strip()


def _emails(hrefs: list[str], text: str) -> list[str]:
    found = [
        unquote(address).strip()
        for href in hrefs
        if href.lower().startswith("mailto:")
        for address in href[7:].split("?")[0].split(",")
    ]
    found += _EMAIL.findall(text)
    valid = {
        address.lower()
        for address in found
        if _EMAIL.fullmatch(address) and address.rsplit(".", 1)[-1].lower() not in _NOT_TLDS
    }
    return sorted(valid)


def _phones(hrefs: list[str], text: str) -> list[str]:
    # The page's own spelling first: a tel: link often repeats it in a less readable form.
    found = [match.group(0).strip() for match in _PHONE.finditer(text)]
    found += [unquote(href[4:]).strip() for href in hrefs if href.lower().startswith("tel:")]
    phones: dict[str, str] = {}
    for phone in found:
        digits = re.sub(r"\D", "", phone)
        # The last ten digits identify a number whether or not a country code was written.
        if 7 <= len(digits) <= 15:
            phones.setdefault(digits[-10:], phone)
    return list(phones.values())


def _social(hrefs: list[str]) -> dict[str, str]:
    profiles: dict[str, str] = {}
    for href in hrefs:
        parts = urlsplit(href)
        host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
        network = SOCIAL_HOSTS.get(host)
        path = parts.path.rstrip("/")
        if network and path and not path.lower().startswith(_SHARE_PATHS):
            profiles.setdefault(network, href)
    return dict(sorted(profiles.items()))


def _copyright_year(text: str) -> int | None:
    years = [int(year) for year in _COPYRIGHT.findall(text) if 1990 <= int(year) <= 2100]
    return max(years, default=None)


def parse_page(html: str, base_url: str) -> PageFacts:
    """The facts of the page ``html`` found at ``base_url`` (relative links resolve from it)."""
    tree = LexborHTMLParser(html)
    metas: dict[str, str] = {}
    for meta in tree.css("meta[name]"):
        metas.setdefault(_attr(meta, "name").lower(), _attr(meta, "content"))
    root = tree.css_first("html")
    title = tree.css_first("title")
    hrefs = [urljoin(base_url, _attr(a, "href")) for a in tree.css("a[href]")]
    scripts = tree.css("script")
    inline = "\n".join(s.text() for s in scripts if "src" not in s.attributes)
    tree.strip_tags(["script", "style", "noscript", "template"])
    text = tree.body.text(separator=" ") if tree.body is not None else ""
    return PageFacts(
        title=_clean(title.text()) if title is not None else None,
        description=_clean(metas.get("description")),
        language=_clean(_attr(root, "lang")) if root is not None else None,
        generator=_clean(metas.get("generator")),
        viewport="viewport" in metas,
        emails=_emails(hrefs, text),
        phones=_phones(hrefs, text),
        social=_social(hrefs),
        scripts=[urljoin(base_url, _attr(s, "src")) for s in scripts if _attr(s, "src")],
        links=[urljoin(base_url, _attr(link, "href")) for link in tree.css("link[href]")],
        inline_script=inline[:_INLINE_SCRIPT_LIMIT],
        html_attributes=sorted(root.attributes) if root is not None else [],
        copyright_year=_copyright_year(text),
    )
