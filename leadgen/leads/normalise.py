"""Phase ``enrich`` as pure functions: tidy names and websites, derive domains, find duplicates.

Every function here is deterministic and idempotent: applying it to its own output changes
nothing, so a redelivered ``enrich`` task writes the same fields again."""

import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from leadgen.store.models import Lead

# Written in their canonical form whatever case the source used.
_SPECIAL_WORDS = {
    word.lower(): word
    for word in (
        "LLC", "LLP", "PLLC", "PLC", "PC", "PA", "DDS", "DMD", "MD", "CPA", "CPAs", "USA",
        "UK", "NYC", "HVAC", "BBQ", "II", "III", "IV", "GmbH", "SARL",
    )
}  # fmt: skip
# Kept lower-case inside a name ("Bright Smile Dental of Austin"), capitalised when first.
_SMALL_WORDS = frozenset(
    ["a", "an", "and", "at", "by", "de", "du", "for", "in", "la", "le", "of", "on", "the", "to",
     "van", "von", "der"]
)  # fmt: skip
# Removed from the end of a name's dedupe key: "Acme Plumbing, LLC" is "Acme Plumbing".
LEGAL_SUFFIXES = frozenset(
    ["llc", "llp", "pllc", "plc", "lp", "pc", "pa", "inc", "incorporated", "co", "corp",
     "corporation", "company", "ltd", "limited", "gmbh", "sarl", "dds", "dmd", "md", "cpa"]
)  # fmt: skip
_WORD_PARTS = re.compile(r"(\W*)(.*?)(\W*)", re.DOTALL)
_HAS_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_HOST_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "mc_cid", "mc_eid"})


def fold(text: str) -> str:
    """``text`` without accents: "Montréal" becomes "Montreal"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _capitalise(word: str) -> str:
    # "o'brien" -> "O'Brien", but "joe's" -> "Joe's"; each part of "saint-denis" capitalised.
    pieces = re.split(r"([-/])", word)
    out = []
    for piece in pieces:
        head, apostrophe, rest = piece.partition("'")
        if apostrophe and len(head) == 1:
            out.append(f"{head.upper()}'{rest.capitalize()}")
        else:
            out.append(piece.capitalize())
    return "".join(out)


def _normalise_word(word: str, first: bool, shouting: bool) -> str:
    parts = _WORD_PARTS.fullmatch(word)
    if parts is None or not any(c.isalpha() for c in parts[2]):
        return word
    lead, core, trail = parts.groups()
    special = _SPECIAL_WORDS.get(core.replace(".", "").lower())
    if special is not None:
        return lead + (special if "." not in core else core.upper()) + trail
    is_lower, is_upper = core == core.lower(), core == core.upper()
    if is_upper and not shouting:
        return word  # an all-caps word in a mixed-case name is most likely an acronym
    if is_lower or is_upper:
        small = core.lower() in _SMALL_WORDS and not first
        return lead + (core.lower() if small else _capitalise(core)) + trail
    return word  # mixed case ("McAllister", "iPhone") is how the owner writes it


def normalise_name(name: str) -> str:
    """``name`` trimmed, single-spaced, and title-cased where it was all-caps or all-lower.

    Known acronyms and legal forms ("LLC", "DDS", "GmbH") get their usual spelling; words in
    mixed case are left as written."""
    words = name.split()
    shouting = not any(c.islower() for c in name)
    return " ".join(_normalise_word(w, i == 0, shouting) for i, w in enumerate(words))


def name_key(name: str) -> str:
    """The key two listings of one business share: "The Bright-Smile Dental, L.L.C." gives
    "brightsmiledental". Empty when nothing but legal words remain."""
    text = fold(name).lower().replace("&", " and ")
    text = re.sub("[.'\u2019]", "", text)  # apostrophes: "O'Brien" is "obrien"
    words = re.findall(r"[^\W_]+", text)
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return "".join(words)


def _valid_host(host: str) -> bool:
    # An address or localhost is a website too (an intranet's): the auditor's address guard,
    # not normalisation, decides whether it may be visited.
    if host == "localhost" or _is_address(host):
        return True
    labels = host.split(".")
    return (
        len(labels) >= 2
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and any(c.isalpha() for c in labels[-1])  # not an IP address
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _strip_tracking(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        key = pair.partition("=")[0].lower()
        if pair and not key.startswith("utm_") and key not in _TRACKING_PARAMS:
            kept.append(pair)
    return "&".join(kept)


def normalise_website(url: str | None) -> tuple[str, str] | None:
    """``(website, domain)`` of a listing's website, or None when it is not a usable http(s) URL.

    The website gets ``https://`` when it has no scheme, a lower-case host, no default port, no
    fragment, no tracking parameters (``utm_*``, ``gclid``...) and no trailing slash except the
    root path ``/``. The domain is the host without a leading ``www.``."""
    text = (url or "").strip()
    if not text or any(c.isspace() for c in text):
        return None
    if text.startswith("//"):
        text = "https:" + text
    elif not _HAS_SCHEME.match(text):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or "@" in parts.netloc or not _valid_host(host):
        return None
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    netloc = shown if port in (None, _DEFAULT_PORTS[scheme]) else f"{shown}:{port}"
    query = _strip_tracking(parts.query)
    website = f"{scheme}://{netloc}{parts.path.rstrip('/') or '/'}" + (f"?{query}" if query else "")
    bare = host.removeprefix("www.")
    return website, bare if "." in bare else host


def normalise_location(location: str | None) -> str | None:
    """``austin,  TX`` -> ``Austin, TX``: parts trimmed, a part written in one case recased
    (two letters read as a region code); a part in mixed case is kept as written."""
    if location is None:
        return None
    parts = [" ".join(part.split()) for part in location.split(",")]
    recased = [
        part.upper()
        if len(part) == 2
        else part.title()
        if part in (part.lower(), part.upper())
        else part
        for part in parts
        if part
    ]
    return ", ".join(recased) or None


def enrich(leads: Sequence[Lead]) -> dict[str, dict[str, Any]]:
    """For every lead id, the fields to ``$set``: name, website, domain, location and
    duplicate_of.

    A lead is a duplicate of the first lead (by ``source_rank``, then ``lead_id``) that has the
    same domain or the same ``name_key``; ``duplicate_of`` always names a lead that is not itself
    a duplicate, and is None for those. An unusable website becomes None."""
    ordered = sorted(leads, key=lambda lead: (lead.source_rank, lead.lead_id))
    rank = {lead.lead_id: index for index, lead in enumerate(ordered)}
    by_domain: dict[str, str] = {}
    by_key: dict[str, str] = {}
    changes: dict[str, dict[str, Any]] = {}
    for lead in ordered:
        name = normalise_name(lead.name)
        website, domain = normalise_website(lead.website) or (None, None)
        key = name_key(name)
        found = [by_domain.get(domain or ""), by_key.get(key)]
        originals = [lead_id for lead_id in found if lead_id is not None]
        original = min(originals, key=rank.__getitem__) if originals else None
        # Register what a duplicate brings too, pointing at its original, so a later listing
        # that shares only the duplicate's name still finds the original.
        if domain:
            by_domain.setdefault(domain, original or lead.lead_id)
        if key:
            by_key.setdefault(key, original or lead.lead_id)
        changes[lead.lead_id] = {
            "name": name,
            "website": website,
            "domain": domain,
            "location": normalise_location(lead.location),
            "duplicate_of": original,
        }
    return changes
