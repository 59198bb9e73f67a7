"""The provider registry: lead sources and auditors by name, built from a spec string.

A spec is a registered name, optionally followed by ``:argument`` (``offline``,
``file:/data/leads.csv``); the factory registered under the name receives the argument, or None
when the spec has no colon. Names not registered here are looked up among installed packages'
entry points (``leadgen.lead_sources``, ``leadgen.auditors``). Built in: ``offline`` (both
kinds), ``file`` and ``osm`` (lead sources), ``website`` (auditor); docs/providers.md tells how
to choose them and how to write one's own."""

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from leadgen.errors import ConfigurationError
from leadgen.providers.base import Auditor, LeadSource
from leadgen.providers.offline import OfflineAuditor, OfflineLeadSource

LeadSourceFactory = Callable[[str | None], LeadSource]
AuditorFactory = Callable[[str | None], Auditor]
_T = TypeVar("_T")

_lead_sources: dict[str, LeadSourceFactory] = {}
_auditors: dict[str, AuditorFactory] = {}


def register_lead_source(name: str, factory: LeadSourceFactory) -> None:
    """Make ``lead_source(name)`` use ``factory``, replacing any earlier registration."""
    _lead_sources[name] = factory


def register_auditor(name: str, factory: AuditorFactory) -> None:
    """Make ``auditor(name)`` use ``factory``, replacing any earlier registration."""
    _auditors[name] = factory


# Installed packages offer providers under these entry-point groups; each entry point is a
# factory, loaded the first time its name is asked for.
ENTRY_POINT_GROUPS = {"lead source": "leadgen.lead_sources", "auditor": "leadgen.auditors"}


def _build(kind: str, registry: dict[str, Callable[[str | None], _T]], spec: str) -> _T:
    name, colon, argument = spec.partition(":")
    name = name.strip()
    factory = registry.get(name) or _plugin(ENTRY_POINT_GROUPS[kind], name, registry)
    if factory is None:
        known = ", ".join(sorted(registry)) or "none"
        raise ConfigurationError(f"unknown {kind} {name!r} (known: {known})")
    return factory(argument if colon else None)


def _plugin(
    group: str, name: str, registry: dict[str, Callable[[str | None], _T]]
) -> Callable[[str | None], _T] | None:
    """The factory an installed package offers as ``name`` in ``group``, now registered."""
    for entry in entry_points(group=group, name=name):
        factory: Callable[[str | None], _T] = entry.load()
        registry[name] = factory
        return factory
    return None


def lead_source(spec: str) -> LeadSource:
    """The lead source named by ``spec`` (``name`` or ``name:argument``).

    Raises ConfigurationError for an unknown name or an argument its factory refuses."""
    return _build("lead source", _lead_sources, spec)


def auditor(spec: str) -> Auditor:
    """The auditor named by ``spec`` (``name`` or ``name:argument``).

    Raises ConfigurationError for an unknown name or an argument its factory refuses."""
    return _build("auditor", _auditors, spec)


def _offline_lead_source(seed: str | None) -> LeadSource:
    return OfflineLeadSource(seed=seed or None)


def _offline_auditor(failure_rate: str | None) -> Auditor:
    if not failure_rate:
        return OfflineAuditor()
    try:
        return OfflineAuditor(failure_rate=float(failure_rate))
    except ValueError:
        raise ConfigurationError(
            f"offline auditor: the argument is a failure rate within 0..1, got {failure_rate!r}"
        ) from None


# The networked providers are imported when first asked for, so the offline default (and every
# command that needs no provider) does not load httpx and selectolax.
def _file_lead_source(path: str | None) -> LeadSource:
    from leadgen.providers.file import FileLeadSource

    if not path:
        raise ConfigurationError(
            "file lead source: give the path of a CSV or JSON Lines file, e.g. file:/data/leads.csv"
        )
    return FileLeadSource(path)


def _osm_lead_source(endpoint: str | None) -> LeadSource:
    from leadgen.providers.osm import OsmLeadSource

    return OsmLeadSource(endpoint) if endpoint else OsmLeadSource()


def _website_auditor(options: str | None) -> Auditor:
    from leadgen.providers.website import WebsiteAuditor

    return WebsiteAuditor.from_options(options)


register_lead_source("offline", _offline_lead_source)
register_lead_source("file", _file_lead_source)
register_lead_source("osm", _osm_lead_source)
register_auditor("offline", _offline_auditor)
register_auditor("website", _website_auditor)
