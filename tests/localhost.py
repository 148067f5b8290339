"""The all-in-one stack on this machine (inventory/local), as `make deploy` brings it up and
its tests reach it: published ports on 127.0.0.1, secrets in inventory/local/credentials."""

import base64
import gzip
import http.server
import json
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from project import ROOT, SERVICES, role_default

CREDENTIALS = ROOT / "inventory/local/credentials"
# MLflow's published port.
MLFLOW = "http://127.0.0.1:5000"
# The services' containers, as the roles name them.
STACK_CONTAINERS = [role_default(name, f"{name}_container_name") for name in SERVICES]


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def secret(name):
    return (CREDENTIALS / name).read_text().strip()


def get_bytes(url, user=None, password_secret=None, data=None, timeout=10):
    """GET (or POST data) url and return its answer, with a basic-auth login if given."""
    request = urllib.request.Request(url, data=data)
    if user:
        token = base64.b64encode(f"{user}:{secret(password_secret)}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def get_json(url, user=None, password_secret=None, data=None, timeout=10):
    """GET (or POST data) url and decode its JSON answer, with a basic-auth login if given."""
    return json.loads(get_bytes(url, user, password_secret, data, timeout) or b"null")


def prometheus(path, **params):
    """Prometheus's HTTP API on its published port, with its login."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return get_json(f"http://127.0.0.1:9090/api/v1/{path}{query}", "admin", "prometheus_admin_password")["data"]


def wait_for(probe, timeout, interval=2.0):
    """probe() until it returns something truthy; its last answer otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def stack_network_gateway():
    """The host's address on the stack's Docker network: where containers reach a server
    that a test runs on this machine."""
    return docker("network", "inspect", "auterity", "--format", "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()


class Sink:
    """An HTTP server on this machine that keeps every JSON body posted to it."""

    def __init__(self):
        self.bodies = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                bodies.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Webhook(Sink):
    """A Sink that Alertmanager posts its notifications to."""

    def alerts(self, name, status):
        return [
            alert
            for _, body in self.bodies
            for alert in body.get("alerts", [])
            if alert["labels"].get("alertname") == name and alert["status"] == status
        ]


# The step, and its second run once tasks/service_supply.yml has supplied secrets or an image.
SERVICE_STEP = re.compile(r"Service \| (?:deploy|plan)(?: with what it needs supplied)? - (\w+)")


def service_steps(run):
    """Each service's stack_service step in the run's events: name -> "changed" if any of its
    steps reported a change, else its last status."""
    found = {}
    for event in run.results("localhost"):
        step = SERVICE_STEP.fullmatch(event["name"])
        if step and found.get(step.group(1)) != "changed":
            found[step.group(1)] = event["status"]
    return found


def started_at(container):
    return docker("container", "inspect", container, "--format", "{{.State.StartedAt}}").stdout.strip()


def container_id(container):
    return docker("container", "inspect", container, "--format", "{{.Id}}").stdout.strip()
