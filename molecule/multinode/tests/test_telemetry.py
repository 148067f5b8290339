"""The cluster's telemetry: an agent on each of the three nodes, Prometheus and the gateway on
node1. Prometheus shows every target of every host up (the three brokers and the three agents
among them), and a log line written on each node arrives with that node's host.name at a sink
that the scenario's extra-exporter option adds and these tests run on this machine."""

import base64
import gzip
import http.server
import json
import os
import pathlib
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest
import testinfra

testinfra_hosts = ["node1"]

NODES = ["node1", "node2", "node3"]
CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"
# Where the scenario's otlphttp/verify exporter sends (molecule.yml).
SINK_PORT = int(os.environ.get("MOLECULE_SINK", "172.17.0.1:14318").rsplit(":", 1)[1])


def node(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def address(name):
    """The node's address on the scenario network (its default route's, as Ansible's facts
    give it): hostname -I may list the node's own Docker bridge first."""
    return node(name).check_output("ip -4 route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'").strip()


def prometheus(path, **params):
    password = (CREDENTIALS / "prometheus_admin_password").read_text().strip()
    request = urllib.request.Request(f"http://{address('node1')}:9090/api/v1/{path}?{urllib.parse.urlencode(params)}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def wait_for(probe, timeout, interval=3.0):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def test_prometheus_shows_every_target_of_every_host_up():
    def all_up():
        targets = prometheus("targets", state="active")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, timeout=180, interval=5)
    assert targets, [
        (t["labels"]["job"], t["labels"]["host"], t["lastError"])
        for t in prometheus("targets", state="active")["activeTargets"]
        if t["health"] != "up"
    ]
    hosts = {}
    for target in targets:
        hosts.setdefault(target["labels"]["job"], set()).add(target["labels"]["host"])
    assert hosts["kafka"] == set(NODES)
    assert hosts["otel_agent"] == set(NODES)
    assert hosts["otel_collector"] == {"node1"}
    assert hosts["prometheus"] == {"node1"}


def test_host_metrics_of_every_node_reach_prometheus_through_the_gateway():
    query = "count by (host_name) (system_memory_usage_bytes)"
    result = wait_for(lambda: prometheus("query", query=query)["result"], timeout=120)
    assert {series["metric"]["host_name"] for series in result} == set(NODES)


@pytest.fixture
def sink():
    records = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            # The exporter compresses with gzip unless told otherwise.
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            body = json.loads(body or b"{}")
            for resource_logs in body.get("resourceLogs", []):
                attributes = {a["key"]: a["value"].get("stringValue") for a in resource_logs["resource"]["attributes"]}
                for scope in resource_logs.get("scopeLogs", []):
                    for record in scope.get("logRecords", []):
                        records.append((record.get("body", {}).get("stringValue"), attributes))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", SINK_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield records
    server.shutdown()
    server.server_close()


def test_a_log_line_written_on_each_node_arrives_with_its_host_name(sink):
    lines = {}
    for name in NODES:
        line = f"probe line from {name} {uuid.uuid4().hex}"
        lines[line] = name
        probe = f"telemetry-probe-{uuid.uuid4().hex[:8]}"
        host = node(name)
        image = host.check_output("docker inspect kafka --format '{{.Config.Image}}'")
        # As every stack container does: its name and service label in each log line.
        options = "--label org.auterity.service=telemetry-probe"
        options += " --log-opt tag='{{.Name}}' --log-opt labels=org.auterity.service"
        host.check_output(f"docker run -d --name {probe} {options} --entrypoint sh {image} -c 'echo \"{line}\"'")

    def arrived():
        found = {body: attributes for body, attributes in sink if body in lines}
        return found if len(found) == len(lines) else None

    # The gateway's exporter to the sink has no queue (molecule.yml): the lines go out with the
    # next batch. The wait is long because the agents read, batch and send on a loaded machine.
    found = wait_for(arrived, timeout=600)
    assert found, f"lines that arrived: {[body for body, _ in sink if body in lines]}"
    for line, attributes in found.items():
        assert attributes["host.name"] == lines[line]
        assert attributes["service.name"] == "telemetry-probe"
        assert attributes["container.name"].startswith("telemetry-probe-")
