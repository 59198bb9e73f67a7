"""Why a website audit failed: one ProviderError subclass per cause, named for the dossier error.

The class name becomes the lead's ``dossier_error.name`` (the class itself is lost on the wire),
so each name says the cause on its own and each message is one line naming the URL."""

from leadgen.errors import ProviderError


class WebsiteError(ProviderError):
    """Raised when a website audit fails; the root of the causes below."""


class WebsiteMissing(WebsiteError):
    """Raised when the lead has no website, or one that is not an http(s) URL."""


class WebsiteUnreachable(WebsiteError):
    """Raised when the site's host cannot be resolved, refuses or drops the connection."""


class WebsiteTimeout(WebsiteError):
    """Raised when the site does not connect or answer within the audit's time limits."""


class WebsiteTLSError(WebsiteError):
    """Raised when the TLS handshake fails: bad certificate, wrong protocol, expired..."""


class WebsiteHTTPError(WebsiteError):
    """Raised when the site answers with an HTTP error status (4xx or 5xx)."""


class WebsiteTooManyRedirects(WebsiteError):
    """Raised when the site redirects more times than the audit follows."""


class WebsiteNotHTML(WebsiteError):
    """Raised when the page is not HTML (a PDF, an image, JSON...)."""


class WebsiteTooLarge(WebsiteError):
    """Raised when the page is larger than the audit reads."""


class WebsiteBlockedByRobots(WebsiteError):
    """Raised when the site's robots.txt disallows a page the audit would fetch."""


class WebsiteBlockedAddress(WebsiteError):
    """Raised when the site's host is, or resolves to, an address that is not public."""
