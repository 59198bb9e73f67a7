"""Prometheus metrics of one worker: what it handled, how long it took, and what it did to jobs
and credits. ``/metrics`` (health.py) serves them in the Prometheus text format.

Each worker owns a registry of its own rather than prometheus-client's global one, so that
several workers in one process (tests, ``leadgen run``) never add to each other's counters."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from leadgen.constants import (
    DOSSIER_RESEARCH,
    FEATURES,
    GENERATE_DOSSIER,
    LEAD_DISCOVERY,
    SOURCE,
)
from leadgen.store.models import Job

# Phases run from milliseconds (score) to many minutes (generate_dossier on a large job).
PHASE_BUCKETS = (0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Metrics:
    """The worker's counters and histograms, registered in ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = self._counter(
            "leadgen_messages",
            "Messages handled, by queue and outcome (acked, rejected, retried, requeued).",
            "queue",
            "outcome",
        )
        self.message_seconds = Histogram(
            "leadgen_message_seconds",
            "Time to handle and settle one message, by queue.",
            ("queue",),
            registry=self.registry,
        )
        self.jobs_started = self._counter(
            "leadgen_jobs_started", "Jobs created by a start command."
        )
        self.jobs_finished = self._counter(
            "leadgen_jobs_finished", "Jobs that reached a terminal status, by status.", "status"
        )
        self.billing_pauses = self._counter(
            "leadgen_billing_pauses",
            "Jobs paused for lack of credits, by feature and phase.",
            "feature_id",
            "phase",
        )
        self.resumes = self._counter(
            "leadgen_resumes", "Resumes of paused jobs, by outcome (resumed, refused).", "outcome"
        )
        self.credits_charged = self._counter(
            "leadgen_credits_charged", "Credits charged, by feature.", "feature_id"
        )
        self.credits_refunded = self._counter(
            "leadgen_credits_refunded",
            "Credits refunded for failed audits, by feature.",
            "feature_id",
        )
        self.phase_seconds = Histogram(
            "leadgen_phase_seconds",
            "Duration of a finished phase (finished_at - started_at), by phase.",
            ("phase",),
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self.completions_skipped = self._counter(
            "leadgen_completions_skipped",
            "Run completions that changed nothing, by reason (paused, stale).",
            "reason",
        )

        self.jobs_redriven = self._counter(
            "leadgen_jobs_redriven",
            "Running jobs without progress that the reconciler re-drove from their stored state.",
        )
        self.outbox_relayed = self._counter(
            "leadgen_outbox_relayed",
            "Messages a stopped worker stored and left unsent, published by the relay.",
        )
        # Set when /metrics is scraped (health.py): what the scrape sees is current.
        self.ready = Gauge(
            "leadgen_ready",
            "1 while this worker is ready (broker connected, every consumer attached, MongoDB"
            " answering), else 0.",
            registry=self.registry,
        )
        self.queue_consumers = Gauge(
            "leadgen_queue_consumers",
            "Consumers of each leadgen queue on the broker, from every worker, as this worker"
            " last saw them.",
            ("queue",),
            registry=self.registry,
        )

        self._initialise_known_labels()

    def _initialise_known_labels(self) -> None:
        """Create every series whose label values are known in advance, at 0: a dashboard or
        an alert over them has a series from the first scrape, not only after the first
        event (a counter that starts later would also hide its first increase from rate())."""
        for status in ("completed", "failed", "cancelled"):
            self.jobs_finished.labels(status)
        for outcome in ("resumed", "refused"):
            self.resumes.labels(outcome)
        for reason in ("paused", "stale"):
            self.completions_skipped.labels(reason)
        for feature in FEATURES:
            self.credits_charged.labels(feature)
            self.credits_refunded.labels(feature)
        for feature, phase in ((LEAD_DISCOVERY, SOURCE), (DOSSIER_RESEARCH, GENERATE_DOSSIER)):
            self.billing_pauses.labels(feature, phase)

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def phase_finished(self, job: Job | None, phase: str) -> None:
        """Observe how long ``phase`` of ``job`` ran, if it has both timestamps."""
        state = job.phase(phase) if job is not None else None
        if state is not None and state.started_at and state.finished_at:
            seconds = (state.finished_at - state.started_at).total_seconds()
            self.phase_seconds.labels(phase).observe(max(seconds, 0.0))

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample, e.g. ``value("leadgen_resumes_total", outcome=...)``;
        0 for a sample not recorded yet."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
