"""The ``website`` auditor: a visit to a lead's home page, turned into a sales dossier.

Modules: ``fetch`` (polite, bounded HTTP with robots.txt), ``addresses`` (which addresses may be
visited: public ones) and ``transport`` (connections to those, or through a proxy), ``page``
(what the HTML says, parsed with selectolax), ``tech`` (how the site is built), ``findings``
(what to fix, and the score), ``auditor`` (the provider and its dossier), ``errors`` (why an
audit failed)."""

from leadgen.providers.website.auditor import WebsiteAuditor
from leadgen.providers.website.errors import (
    WebsiteBlockedAddress,
    WebsiteBlockedByRobots,
    WebsiteError,
    WebsiteHTTPError,
    WebsiteMissing,
    WebsiteNotHTML,
    WebsiteTimeout,
    WebsiteTLSError,
    WebsiteTooLarge,
    WebsiteTooManyRedirects,
    WebsiteUnreachable,
)

__all__ = [
    "WebsiteAuditor",
    "WebsiteBlockedAddress",
    "WebsiteBlockedByRobots",
    "WebsiteError",
    "WebsiteHTTPError",
    "WebsiteMissing",
    "WebsiteNotHTML",
    "WebsiteTLSError",
    "WebsiteTimeout",
    "WebsiteTooLarge",
    "WebsiteTooManyRedirects",
    "WebsiteUnreachable",
]
