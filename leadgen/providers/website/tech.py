"""How a site is built: its CMS, analytics and libraries, read from the generator meta tag, the
response headers, the script and stylesheet URLs and the inline scripts of its home page.

Each rule is a regular expression over one text (the "evidence") that lists those sources one per
line with a prefix (``generator:``, ``header x-shopid:``, ``src:``, ``href:``, ``html-attr:``,
``inline:``), so a rule can say where its signal must come from."""

import re
from dataclasses import dataclass, field

from leadgen.providers.website.page import PageFacts

# (name, category, pattern): the first rules of the "cms" category win the ``cms`` field.
RULES: tuple[tuple[str, str, str], ...] = (
    ("WordPress", "cms", r"^generator: wordpress|/wp-(?:content|includes)/"),
    ("Shopify", "cms", r"cdn\.shopify\.com|^header x-shopid:|shopify\.theme"),
    ("Wix", "cms", r"^generator: wix|static\.(?:parastorage|wixstatic)\.com|^header x-wix-"),
    ("Squarespace", "cms", r"^generator: squarespace|(?:static1|assets)\.squarespace\.com"),
    ("Webflow", "cms", r"^generator: webflow|^html-attr: data-wf-site|website-files\.com"),
    ("Joomla", "cms", r"^generator: joomla"),
    ("Drupal", "cms", r"^generator: drupal|^header x-drupal-|/sites/default/files/"),
    ("GoDaddy Website Builder", "cms", r"^generator: (?:godaddy|starfield)|img1\.wsimg\.com"),
    ("Google Analytics", "analytics", r"google-analytics\.com|googletagmanager\.com/gtag/js"),
    ("Google Tag Manager", "analytics", r"googletagmanager\.com/gtm\.js|\bGTM-[A-Z0-9]{4,}"),
    ("Meta Pixel", "analytics", r"connect\.facebook\.net/[^ ]*/fbevents\.js|\bfbq\("),
    ("HubSpot", "analytics", r"js\.hs-(?:scripts|analytics|banner)\.(?:com|net)|js\.hsforms\.net"),
    ("Plausible", "analytics", r"plausible\.io/js/"),
    ("Matomo", "analytics", r"matomo\.js|piwik\.js"),
    ("Hotjar", "analytics", r"static\.hotjar\.com"),
    ("jQuery", "library", r"^src: [^ ]*jquery[^ /]*\.js"),
    ("Bootstrap", "library", r"bootstrap(?:\.min)?\.(?:css|js)"),
    ("Cloudflare", "hosting", r"^header server: cloudflare|^header cf-ray:"),
    ("PHP", "hosting", r"^header x-powered-by: php"),
)
_COMPILED = tuple(
    (name, category, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for name, category, pattern in RULES
)
_JQUERY_VERSION = (
    re.compile(r"jquery[-.]?(\d+\.\d+(?:\.\d+)?)(?:\.slim)?(?:\.min)?\.js", re.I),
    re.compile(r"/jquery/(\d+\.\d+(?:\.\d+)?)/", re.I),
    re.compile(r"/jquery(?:\.min)?\.js\?ver=(\d+\.\d+(?:\.\d+)?)", re.I),
)
_WORDPRESS_VERSION = re.compile(r"^wordpress (\d+\.\d+(?:\.\d+)?)", re.I)


@dataclass(frozen=True)
class Stack:
    """The technologies found, by name (sorted), and what the findings need to know of them."""

    server: str | None = None
    generator: str | None = None
    cms: str | None = None
    analytics: list[str] = field(default_factory=list)
    technologies: list[str] = field(default_factory=list)
    jquery_version: str | None = None
    wordpress_version: str | None = None


def evidence(facts: PageFacts, headers: dict[str, str]) -> str:
    """The text the rules search: one signal per line, prefixed by where it came from."""
    lines = [f"generator: {facts.generator or ''}"]
    lines += [f"header {name}: {value}" for name, value in headers.items()]
    lines += [f"src: {url}" for url in facts.scripts]
    lines += [f"href: {url}" for url in facts.links]
    lines += [f"html-attr: {name}" for name in facts.html_attributes]
    lines += [f"inline: {line}" for line in facts.inline_script.splitlines() if line.strip()]
    return "\n".join(lines)


def _jquery_version(scripts: list[str]) -> str | None:
    for url in scripts:
        for pattern in _JQUERY_VERSION:
            match = pattern.search(url)
            if match:
                return match.group(1)
    return None


def detect(facts: PageFacts, headers: dict[str, str]) -> Stack:
    """The stack of a page with these facts and response headers (names in lower case)."""
    text = evidence(facts, headers)
    found = [(name, category) for name, category, rule in _COMPILED if rule.search(text)]
    wordpress = _WORDPRESS_VERSION.match(facts.generator or "")
    return Stack(
        server=headers.get("server"),
        generator=facts.generator,
        cms=next((name for name, category in found if category == "cms"), None),
        analytics=sorted(name for name, category in found if category == "analytics"),
        technologies=sorted(name for name, _ in found),
        jquery_version=_jquery_version(facts.scripts),
        wordpress_version=wordpress.group(1) if wordpress else None,
    )


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.12.4"`` as ``(1, 12, 4)``, for comparisons."""
    return tuple(int(part) for part in re.findall(r"\d+", version))
