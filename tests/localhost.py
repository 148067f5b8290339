"""The all-in-one stack on this machine (inventory/local), as `make deploy` brings it up and
its tests reach it: published ports on 127.0.0.1, secrets in inventory/local/credentials."""

import base64
import json
import subprocess
import time
import urllib.parse
import urllib.request

from project import ROOT, SERVICES, role_default

CREDENTIALS = ROOT / "inventory/local/credentials"
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
