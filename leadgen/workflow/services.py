"""What every actor works with: the store, the broker, the providers, the settings and the
worker's metrics."""

from dataclasses import dataclass, field

from leadgen.broker.base import Broker
from leadgen.providers.base import Auditor, LeadSource
from leadgen.settings import Settings
from leadgen.store.base import Store
from leadgen.workflow.metrics import Metrics
from leadgen.workflow.outbox import Publisher


@dataclass
class Services:
    """The dependencies of the actors, built once per worker process."""

    store: Store
    broker: Broker
    lead_source: LeadSource
    auditor: Auditor
    settings: Settings = field(default_factory=Settings)
    metrics: Metrics = field(default_factory=Metrics)
    publisher: Publisher = field(init=False)

    def __post_init__(self) -> None:
        self.publisher = Publisher(self.broker, self.store)
