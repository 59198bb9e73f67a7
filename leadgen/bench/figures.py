"""What one bench round measured, and the summary printed from the rounds."""

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Round:
    """One timed run of ``jobs`` jobs by one contender."""

    name: str
    jobs: int
    messages: int
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU
    latencies: list[float] = field(default_factory=list)  # seconds per job, start to end
    store_calls: int = 0
    dossiers: int = 0  # audits the jobs ran (done or failed)
    commands: int = 0  # database commands, when counted

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.wall if self.wall else 0.0

    @property
    def cpu_per_message(self) -> float:
        """This process's CPU per message, in milliseconds."""
        return 1000 * self.cpu / self.messages if self.messages else 0.0


def summary(rounds: list[Round]) -> dict[str, Any]:
    """Medians per contender and leadgen's ratios to the chain."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(r.name for r in rounds):
        mine = [r for r in rounds if r.name == name]
        latencies = sorted(x for r in mine for x in r.latencies)
        out[name] = {
            "rounds": len(mine),
            "messages_per_job": mine[0].messages / mine[0].jobs,
            "messages_per_second": statistics.median(r.rate for r in mine),
            "cpu_ms_per_message": statistics.median(r.cpu_per_message for r in mine),
            "latency_p50_ms": 1000 * _quantile(latencies, 0.5),
            "latency_p99_ms": 1000 * _quantile(latencies, 0.99),
            "store_calls_per_job": statistics.median(r.store_calls / r.jobs for r in mine),
        }
    if "chain" in out and "leadgen" in out:
        chain, leadgen = out["chain"], out["leadgen"]
        out["ratio"] = {
            "messages_per_second": leadgen["messages_per_second"] / chain["messages_per_second"],
            "cpu_per_message": leadgen["cpu_ms_per_message"] / chain["cpu_ms_per_message"],
            "latency_p50": leadgen["latency_p50_ms"] / chain["latency_p50_ms"],
        }
    return out


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def render(result: dict[str, Any]) -> str:
    """The figures of ``measure`` as tables for a terminal."""
    plan = result["plan"]
    lines = [
        f"{plan['rounds']} interleaved rounds of {plan['jobs']} jobs ({plan['leads']} leads, "
        f"{plan['dossiers']} dossiers) on RabbitMQ; leadgen on the memory store",
        "",
        f"{'':8} {'msg/job':>8} {'msg/s':>9} {'CPU ms/msg':>11} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'store/job':>10}",
    ]
    lines += _rows(result["throughput"])
    lines += _ratio(result["throughput"])
    lines += ["", "one job in flight:"]
    lines += _rows(result["one_in_flight"])
    latency = result["one_in_flight"]["ratio"]["latency_p50"]
    lines.append(f"leadgen/chain: {latency:.2f}x latency p50")
    lines += ["", "one job in flight, without dossiers:"]
    lines += _rows(result["one_in_flight_no_dossiers"])
    latency = result["one_in_flight_no_dossiers"]["ratio"]["latency_p50"]
    lines.append(f"leadgen/chain: {latency:.2f}x latency p50")
    embedded = result["embedded"]
    lines += [
        "",
        f"embedded pair: {embedded['messages_per_second']:.0f} messages/s, "
        f"{embedded['cpu_ms_per_message']:.3f} ms CPU per message, "
        f"{embedded['store_calls_per_job']:.1f} store calls per job",
        "",
        "scaling (embedded, one job, half the leads with dossiers):",
        f"{'leads':>6} {'dossiers':>9} {'messages':>9} {'CPU ms/dossier':>15}"
        f" {'store/dossier':>14}",
    ]
    for row in result["scaling"]:
        lines.append(
            f"{row['leads']:6} {row['dossiers']:9} {row['messages']:9}"
            f" {row['cpu_ms_per_dossier']:15.2f} {row['store_calls_per_dossier']:14.2f}"
        )
    memory = result["memory"]
    lines += [
        "",
        f"memory: {memory['rss_first_batch_mib']:.1f} MiB after the first tenth of"
        f" {memory['jobs']} jobs, {memory['rss_last_batch_mib']:.1f} MiB after the last"
        f" ({100 * memory['growth']:+.1f}%)",
    ]
    if "mongodb" in result:
        lines += _mongodb(result["mongodb"])
    return "\n".join(lines)


def _mongodb(figures: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"MongoDB (embedded broker, {figures['jobs']} jobs): "
        f"{figures['store_calls_per_job']:.1f} store calls and "
        f"{figures['commands_per_job']:.1f} commands per job, "
        f"{figures['commands_per_dossier']:.2f} commands per dossier",
        f"{'leads':>6} {'dossiers':>9} {'CPU ms/dossier':>15} {'store/dossier':>14}"
        f" {'commands/dossier':>17}",
    ]
    for row in figures["scaling"]:
        lines.append(
            f"{row['leads']:6} {row['dossiers']:9} {row['cpu_ms_per_dossier']:15.2f}"
            f" {row['store_calls_per_dossier']:14.2f} {row['commands_per_dossier']:17.2f}"
        )
    return lines


def _rows(figures: dict[str, Any]) -> list[str]:
    return [
        f"{name:8} {f['messages_per_job']:8.0f} {f['messages_per_second']:9.0f}"
        f" {f['cpu_ms_per_message']:11.3f} {f['latency_p50_ms']:8.1f}"
        f" {f['latency_p99_ms']:8.1f} {f['store_calls_per_job']:10.1f}"
        for name, f in figures.items()
        if name in ("chain", "leadgen")
    ]


def _ratio(figures: dict[str, Any]) -> list[str]:
    ratio = figures.get("ratio")
    if ratio is None:
        return []
    return [
        f"leadgen/chain: {ratio['messages_per_second']:.2f}x messages/s, "
        f"{ratio['cpu_per_message']:.2f}x CPU per message"
    ]
