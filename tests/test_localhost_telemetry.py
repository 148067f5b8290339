"""Telemetry through the all-in-one stack on this machine, checked the way a user would: a real
OpenTelemetry SDK client sends to the gateway, and each backend is asked for what it got
(traces in Jaeger, metrics in Prometheus, log lines at a sink the extra-exporter option
adds); every target is up, every rule loads, every dashboard panel has data; an alert goes
from Prometheus through Alertmanager to a webhook and resolves; a Jaeger outage loses no span
that the gateway acknowledged.

test_localhost_stack.py deploys the stack first (same pytest run); the tests that need settings
of their own (a log sink, a webhook, shorter intervals) find them deployed by the `redeployed`
run of conftest.py, which the services keep until the session ends."""

import json
import re
import time
import uuid

import pytest
from dashboards import dashboard_files, panel_queries
from kafka import KafkaProducer
from localhost import docker, get_json, prometheus, started_at, wait_for
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

pytestmark = pytest.mark.usefixtures("localhost_stack_left_as_found")

GATEWAY = "http://127.0.0.1:4318"
JAEGER = "http://127.0.0.1:16686"


def tracer_provider(exporter):
    provider = TracerProvider(resource=Resource.create({"service.name": "telemetry-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def jaeger_spans(trace_id):
    try:
        traces = get_json(f"{JAEGER}/api/traces/{trace_id}")["data"]
    except OSError:
        return []
    return [span["operationName"] for trace in traces or [] for span in trace["spans"]]


def test_a_trace_sent_to_the_gateway_is_found_in_jaeger_by_its_id():
    provider = tracer_provider(OTLPSpanExporter(endpoint=f"{GATEWAY}/v1/traces"))
    tracer = provider.get_tracer("telemetry-test")
    with tracer.start_as_current_span("checkout") as parent:
        trace_id = format(parent.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("charge-card"):
            pass
    provider.shutdown()
    spans = wait_for(lambda: sorted(jaeger_spans(trace_id)), timeout=60)
    assert spans == ["charge-card", "checkout"]


def test_a_counter_sent_to_the_gateway_is_found_in_prometheus_under_its_translated_name():
    run_id = uuid.uuid4().hex[:12]
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{GATEWAY}/v1/metrics"), 1000)
    provider = MeterProvider(resource=Resource.create({"service.name": "telemetry-test"}), metric_readers=[reader])
    counter = provider.get_meter("telemetry-test").create_counter("telemetry_test.orders")
    counter.add(5, {"run": run_id})
    provider.shutdown()
    # OTLP's dots become underscores and a counter gets _total; resource attributes are labels.
    query = f'telemetry_test_orders_total{{run="{run_id}"}}'
    result = wait_for(lambda: prometheus("query", query=query)["result"], timeout=90)
    assert result, f"{query} is not in Prometheus"
    assert result[0]["value"][1] == "5"
    assert result[0]["metric"]["service_name"] == "telemetry-test"


def test_a_container_log_line_arrives_through_agent_and_gateway_with_its_names(redeployed):
    sink = redeployed.sink
    probe = f"telemetry-probe-{uuid.uuid4().hex[:8]}"
    line = f"probe line {uuid.uuid4().hex}"
    image = docker("inspect", "redis", "--format", "{{.Config.Image}}").stdout.strip()
    try:
        # As every stack container does: its name and service label in each log line.
        started = docker(
            "run", "-d", "--name", probe, "--label", "org.auterity.service=telemetry-probe",
            "--log-opt", "tag={{.Name}}", "--log-opt", "labels=org.auterity.service",
            "--entrypoint", "sh", image, "-c", f"echo '{line}'",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

        def arrived():
            for _, body in sink.bodies:
                for resource_logs in body.get("resourceLogs", []):
                    attributes = {
                        a["key"]: a["value"].get("stringValue") for a in resource_logs["resource"]["attributes"]
                    }
                    for scope in resource_logs.get("scopeLogs", []):
                        for record in scope.get("logRecords", []):
                            if record.get("body", {}).get("stringValue") == line:
                                return attributes
            return None

        attributes = wait_for(arrived, timeout=90)
        assert attributes, f"the line never reached the sink ({len(sink.bodies)} posts arrived)"
        assert attributes["service.name"] == "telemetry-probe"
        assert attributes["container.name"] == probe
        assert attributes["host.name"] == "localhost"
    finally:
        docker("rm", "-f", probe)


def test_every_prometheus_target_is_up():
    def targets():
        active = prometheus("targets", state="active")["activeTargets"]
        return active if active and all(target["health"] == "up" for target in active) else None

    active = wait_for(targets, timeout=120, interval=5)
    down = [
        (t["labels"]["job"], t["lastError"])
        for t in prometheus("targets", state="active")["activeTargets"]
        if t["health"] != "up"
    ]
    assert active, f"targets not up: {down}"
    jobs = {target["labels"]["job"] for target in active}
    # Every running service that serves metrics, Vault through its scoped token among them.
    expected = {"vault", "kafka", "prometheus", "otel_collector", "otel_agent"}
    for optional in ("alertmanager", "jaeger", "redis_exporter", "postgres_exporter"):
        if docker("inspect", optional).returncode == 0:
            expected.add(optional)
    assert expected <= jobs, f"missing jobs: {expected - jobs}"


def test_every_rule_loads_and_evaluates_without_error():
    def groups():
        found = prometheus("rules")["groups"]
        rules = [rule for group in found for rule in group["rules"]]
        return found if rules and all(rule["health"] == "ok" for rule in rules) else None

    found = wait_for(groups, timeout=90, interval=5)
    assert found, [
        (rule["name"], rule["health"], rule.get("lastError"))
        for group in prometheus("rules")["groups"]
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    alerts = {rule["name"] for group in found for rule in group["rules"]}
    assert {"TargetDown", "VaultSealed", "KafkaNoActiveController", "CollectorDroppingData"} <= alerts


# Grafana's own variables, as it would expand them over a short time range.
GRAFANA_VARIABLES = {"__rate_interval": "2m", "__interval": "30s", "__range": "5m", "__range_s": "300"}


def expand(expr):
    """A panel's PromQL with Grafana's variables expanded: built-ins as Grafana would over a
    short range, dashboard variables ($host, ${job} ...) as "match anything"."""

    def value(match):
        name = match.group(1) or match.group(2)
        return GRAFANA_VARIABLES.get(name, ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def test_every_dashboard_panel_shows_data_from_the_real_prometheus():
    # Traffic, as the platform makes it: an event on each of the stack's topics (Kafka's
    # per-topic series start with a topic's first message).
    producer = KafkaProducer(bootstrap_servers="127.0.0.1:9092")
    for topic in ("workflow-events", "error-events", "audit-events"):
        producer.send(topic, b'{"event": "dashboard.check"}')
    producer.flush(timeout=30)
    producer.close()
    # And a trace through the gateway (its span counters, the span metrics).
    provider = tracer_provider(OTLPSpanExporter(endpoint=f"{GATEWAY}/v1/traces"))
    with provider.get_tracer("telemetry-test").start_as_current_span("dashboard-check"):
        pass
    provider.shutdown()
    queries = [query for path in dashboard_files() for query in panel_queries(json.loads(path.read_text()))]
    prometheus_queries = [q for q in queries if q[2] == "prometheus"]
    assert prometheus_queries, "the dashboards query Prometheus"

    def empty():
        return [
            (dashboard, panel, expr)
            for dashboard, panel, _, expr in prometheus_queries
            if not prometheus("query", query=expand(expr))["result"]
        ]

    # Rates need two samples of every series first.
    wait_for(lambda: not empty(), timeout=120, interval=10)
    missing = empty()
    assert not missing, "panels without data:\n" + "\n".join(map(str, missing))


def test_an_alert_reaches_a_webhook_through_alertmanager_and_resolves(redeployed):
    webhook = redeployed.webhook
    assert started_at("prometheus") == redeployed.before.prometheus_started, (
        "a configuration change must not restart Prometheus"
    )
    assert "scrape_interval: 5s" in prometheus("status/config")["yaml"]

    def alerts_of_redis(status):
        # The gateway's re-creation in the same run may have fired one for its own job.
        return [alert for alert in webhook.alerts("TargetDown", status) if alert["labels"]["job"] == "redis"]

    try:
        assert docker("stop", "redis").returncode == 0
        fired = wait_for(lambda: alerts_of_redis("firing"), timeout=120)
        assert fired, "TargetDown of redis never reached the webhook"

        assert docker("start", "redis").returncode == 0
        resolved = wait_for(lambda: alerts_of_redis("resolved"), timeout=120)
        assert resolved, "the alert was not resolved after Redis came back"
    finally:
        docker("start", "redis")


class CountingExporter(OTLPSpanExporter):
    """Counts the spans the gateway acknowledged, by trace id."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.acknowledged = []
        self.refused = 0

    def export(self, spans):
        result = super().export(spans)
        if result == SpanExportResult.SUCCESS:
            self.acknowledged += [format(span.context.trace_id, "032x") for span in spans]
        else:
            self.refused += len(spans)
        return result


# Longer than the gateway's first retries (5 s, then growing), so that spans wait in its queue.
JAEGER_OUTAGE_SECONDS = 20


def test_a_jaeger_outage_loses_no_span_the_gateway_acknowledged(capsys):
    exporter = CountingExporter(endpoint=f"{GATEWAY}/v1/traces", timeout=5)
    provider = tracer_provider(exporter)
    tracer = provider.get_tracer("telemetry-outage")

    def send_for(seconds):
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            with tracer.start_as_current_span("during-outage"):
                pass
            time.sleep(0.2)

    try:
        send_for(5)
        assert docker("stop", "jaeger").returncode == 0
        send_for(JAEGER_OUTAGE_SECONDS)
        assert docker("start", "jaeger").returncode == 0
        send_for(5)
    finally:
        docker("start", "jaeger")
        provider.shutdown()

    sent = exporter.acknowledged
    assert sent, "the gateway acknowledged no span"

    def missing():
        return [trace_id for trace_id in sent if not jaeger_spans(trace_id)]

    wait_for(lambda: not missing(), timeout=180, interval=10)
    lost = missing()
    with capsys.disabled():  # the numbers belong in the test log
        print(
            f"\nJaeger down {JAEGER_OUTAGE_SECONDS} s: {len(sent)} spans acknowledged,"
            f" {exporter.refused} refused, {len(lost)} lost"
        )
    assert not lost, f"{len(lost)} of {len(sent)} acknowledged spans never reached Jaeger"
