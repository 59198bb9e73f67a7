"""What operators load, checked by the real tools: the alert rules by promtool (syntax and unit
tests), every PromQL expression of the dashboard and the rules by a real Prometheus scraping a
real ``leadgen worker`` while jobs start, pause, get refused, resume, complete with failed audits
and get cancelled, every LogQL query's events against that worker's own log lines, and the
compose file with and without its ``observability`` profile.

Prometheus, promtool and docker-compose come from Debian packages that ``.ci/run`` installs;
without them a test is skipped, unless ``CI`` is set, where it fails."""

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadgen import constants as c
from tests.support.processes import leadgen, running_worker, worker_env
from tests.support.servers import free_port, rabbitmq_vhost, unavailable

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "leadgen.json"
# Events the dashboard may name though a healthy run cannot produce them (an outage, a stalled
# job, a stopped worker's outbox): each must still be an event the code logs.
RARE_EVENTS = {
    "job_redriven",
    "outbox_relayed",
    "broker_connection_lost",
    "broker_reconnected",
    "job_failed",
    "finalize_skipped_paused",
    "complete_flow_skipped_paused",
    "on_complete_skipped_stale",
}


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (.ci/run installs it)")
    assert found is not None
    return found


def test_promtool_checks_the_alert_rules_and_runs_their_unit_tests() -> None:
    """Every rule is valid, and every alert fires when it must and stays quiet otherwise."""
    promtool = tool("promtool")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run(
            [promtool, *args], cwd=OBSERVABILITY, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (OBSERVABILITY / "alerts.test.yml").read_text()))
    assert tested == {rule["alert"] for rule in alert_rules()}


def test_compose_config_with_and_without_the_observability_profile() -> None:
    """docker-compose accepts the file both ways; the observability services come only with
    the profile, and every one of them publishes on 127.0.0.1 only."""
    compose = tool("docker-compose")
    for args in ([], ["--profile", "observability"]):
        done = subprocess.run(
            [compose, *args, "config", "-q"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    profiled = {name for name, s in services.items() if "observability" in s.get("profiles", [])}
    assert profiled == {"prometheus", "loki", "promtail", "grafana"}


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard_targets(datasource: str) -> list[str]:
    """The query of every target of the dashboard on the datasource ``datasource``."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [
        target["expr"]
        for panel in panels
        for target in panel.get("targets", [])
        if target["datasource"]["type"] == datasource
    ]


def measured(expression: str) -> list[str]:
    """The parts of an alert expression that must return series: each side of an ``or``,
    without its threshold."""
    sides = re.split(r"\s+or\s+", expression)
    return [re.sub(r"\s*(>|<|==|!=|>=|<=)\s*[\d.]+\s*$", "", side) for side in sides]


@dataclass
class Observed:
    """A real worker's run, as Prometheus scraped it and as it logged it."""

    prometheus: str
    log_events: set[str]

    def query(self, expression: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


def run_scenario(env: dict[str, str]) -> None:
    """Two jobs: one pauses for dossier credits, has a resume refused, is resumed after a
    top-up and completes with some audits failed; the other pauses for lack of a discovery
    credit and is cancelled. Then a command for another customer's job is refused and one
    that is not JSON is dead-lettered."""

    def expect(code: int, *args: str) -> None:
        done = leadgen(*args, env=env)
        assert done.returncode == code, (args, done.stdout, done.stderr)

    expect(0, "credits", "grant", "acme", "lead_discovery", "1")
    expect(3, "start", "--customer", "acme", "--query", "dentists", "--job-id", "obs-1",
           "--max-leads", "6", "--max-dossiers", "4", "--follow")  # fmt: skip
    expect(5, "resume", "obs-1", "--customer", "acme")  # no dossier credits yet
    expect(0, "credits", "grant", "acme", "dossier_research", "4", "--no-auto-resume")
    expect(0, "resume", "obs-1", "--customer", "acme", "--follow")
    expect(3, "start", "--customer", "acme", "--query", "plumbers", "--job-id", "obs-2",
           "--follow")  # fmt: skip
    expect(0, "cancel", "obs-2", "--customer", "acme", "--reason", "enough")
    expect(5, "cancel", "obs-1", "--customer", "mallory")
    publish_poison(env["LEADGEN_AMQP_URL"])


def publish_poison(amqp_url: str) -> None:
    """A command that is not JSON: the worker dead-letters it."""
    import asyncio

    import aio_pika

    async def send() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(c.COMMANDS_EXCHANGE)
            await exchange.publish(aio_pika.Message(b"not json"), routing_key=c.START_KEY)

    asyncio.run(send())


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, mongodb_url: str) -> Iterator[Observed]:
    """A real ``leadgen worker`` scraped every second by a real Prometheus through the
    scenario; the worker's log events once it stopped."""
    prometheus = tool("prometheus")
    tmp = tmp_path_factory.mktemp("observability")
    with rabbitmq_vhost() as amqp_url:
        port, prom_port = free_port(), free_port()
        env = worker_env(
            amqp_url,
            mongodb_url,
            LEADGEN_HTTP_PORT=str(port),
            LEADGEN_AUDITOR="offline:0.5",  # some audits fail, and are refunded
        )
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "leadgen",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                        }
                    ],
                }
            )
        )
        log = tmp / "worker.log"
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        observed = Observed(f"http://127.0.0.1:{prom_port}", set())
        try:
            with running_worker(env, log):
                wait_until(lambda: _up(observed), "Prometheus scraping the worker")
                run_scenario(env)
                time.sleep(4)  # a few more scrapes after the last event
                observed.log_events = {
                    json.loads(line)["event"]
                    for line in log.read_text().splitlines()
                    if line.startswith("{")
                }
                yield observed
        finally:
            server.terminate()
            server.wait(timeout=60)


def _up(observed: Observed) -> bool:
    try:
        return any(s["value"][1] == "1" for s in observed.query('up{job="leadgen"}'))
    except OSError:
        return False


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.2)


@pytest.mark.amqp
@pytest.mark.mongo
def test_every_promql_expression_returns_series_from_a_real_worker(observed: Observed) -> None:
    """Each dashboard query and each alert expression (threshold aside) returns series from
    the scraped worker: no panel or alert points at a metric that does not exist. The ones the
    scenario drives show what it did."""
    expressions = [
        *dashboard_targets("prometheus"),
        *(part for rule in alert_rules() for part in measured(rule["expr"])),
    ]
    assert len(expressions) >= 20
    empty = [e for e in expressions if not observed.query(e)]
    assert empty == [], empty

    def total(expression: str) -> float:
        return sum(float(s["value"][1]) for s in observed.query(expression))

    assert total("leadgen_jobs_started_total") == 2
    assert total('leadgen_jobs_finished_total{status="completed"}') == 1
    assert total('leadgen_jobs_finished_total{status="cancelled"}') == 1
    assert total('leadgen_billing_pauses_total{feature_id="dossier_research"}') == 1
    assert total('leadgen_billing_pauses_total{feature_id="lead_discovery"}') == 1
    assert total('leadgen_resumes_total{outcome="refused"}') >= 1
    assert total('leadgen_resumes_total{outcome="resumed"}') == 1
    assert total('leadgen_messages_total{queue="leadgen.commands",outcome="rejected"}') == 1
    assert total("max by (instance) (leadgen_ready)") == 1
    assert min(float(s["value"][1]) for s in observed.query("leadgen_queue_consumers")) >= 1


def logql_queries() -> list[str]:
    """Every LogQL query operators are given: the dashboard's Loki targets, the log queries its
    panels link to, and the examples of the README and docs/."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    links = [
        json.loads(urllib.parse.unquote(link["url"].split("left=", 1)[1]))["queries"][0]["expr"]
        for panel in panels
        for link in panel.get("links", [])
    ]
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    examples = [
        line
        for block in re.findall(r"```logql\n(.*?)```", readme, flags=re.DOTALL)
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [*dashboard_targets("loki"), *links, *examples]


def event_names(query: str) -> set[str]:
    """The event names a LogQL query filters on (``event="x"`` or ``event=~"a|b"``)."""
    names: set[str] = set()
    for op, value in re.findall(r'event(=~|=)"([^"]+)"', query):
        names |= set(value.split("|")) if op == "=~" else {value}
    return names


@pytest.mark.amqp
@pytest.mark.mongo
def test_every_logql_query_filters_on_events_the_worker_logs(observed: Observed) -> None:
    """Each event name in the LogQL of the dashboard and the docs is one the worker logged in
    the scenario; the few that only an outage or a stalled job produces must be events the
    code logs. Every query selects the stack's worker stream."""
    queries = logql_queries()
    assert queries and all('{compose_service="worker"}' in q for q in queries), queries
    named = set().union(*(event_names(q) for q in queries))
    source = "\n".join(p.read_text() for p in (ROOT / "leadgen").rglob("*.py"))
    rare = {e for e in named - observed.log_events if e in RARE_EVENTS}
    assert named - observed.log_events - rare == set()
    assert all(re.search(rf'log\.\w+\(\s*"{e}"', source) for e in rare), rare


def test_the_dashboard_uses_the_provisioned_data_sources_and_labels() -> None:
    """Every panel and target of the dashboard names a data source Grafana is provisioned
    with, and the stream label every LogQL query selects on is the one promtail sets."""
    provisioned = yaml.safe_load(
        (OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
    )
    uids = {(d["type"], d["uid"]) for d in provisioned["datasources"]}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = {
        (source["type"], source["uid"])
        for panel in panels
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
    }
    assert used == uids
    promtail = yaml.safe_load((OBSERVABILITY / "promtail.yml").read_text())
    labels = {
        rule["target_label"]
        for job in promtail["scrape_configs"]
        for rule in job["relabel_configs"]
    }
    assert "compose_service" in labels
