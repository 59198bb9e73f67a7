"""Lead sources and auditors: the two provider ports, their implementations, the registry.

The names a provider's author needs are here: the ports (base.py), the registry that builds a
provider from a spec string such as ``file:/data/leads.csv`` (registry.py), and the offline
pair every installation has (offline.py; its lead source takes a catalogue seed,
``offline:demo``, its auditor a failure rate, ``offline:0.2``). The networked providers are
``file:PATH`` (file.py), ``osm[:ENDPOINT_URL]`` (osm.py) and the auditor
``website[:key=value,...]`` (website/); docs/providers.md tells how to choose them and how to
write one's own."""

from leadgen.providers.base import USER_AGENT, Auditor, LeadSource, RawLead
from leadgen.providers.offline import MAX_LEADS, OfflineAuditor, OfflineLeadSource
from leadgen.providers.registry import (
    AuditorFactory,
    LeadSourceFactory,
    auditor,
    lead_source,
    register_auditor,
    register_lead_source,
)

__all__ = [
    "MAX_LEADS",
    "USER_AGENT",
    "Auditor",
    "AuditorFactory",
    "LeadSource",
    "LeadSourceFactory",
    "OfflineAuditor",
    "OfflineLeadSource",
    "RawLead",
    "auditor",
    "lead_source",
    "register_auditor",
    "register_lead_source",
]
