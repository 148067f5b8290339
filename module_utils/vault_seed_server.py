"""Vault access for the vault_seed module: hvac over one pooled HTTP session, fanned out on threads.

Vault has no batch API for KV, so a thousand secrets mean a thousand reads and up to a thousand
writes. They run WORKERS at a time on one requests.Session whose pool keeps a keep-alive connection
per worker, which is what turns minutes of sequential round trips into seconds.
"""

import secrets
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.vault_seed_plan import SeedError, engine_kind

HVAC_IMPORT_ERROR = None
try:
    import hvac
    import requests
    from hvac.exceptions import Forbidden, InvalidPath, Unauthorized, VaultError
    from requests.adapters import HTTPAdapter

    REQUEST_ERRORS = (VaultError, requests.RequestException)
except ImportError:
    HVAC_IMPORT_ERROR = traceback.format_exc()
    REQUEST_ERRORS = ()

WORKERS = 32
MAX_REPORTED_FAILURES = 20
HEALTH_POLL_SECONDS = 1
# Vault refuses reads and writes on a KV version 2 engine with this message while the engine
# sets up its versioned layout: for a moment after it is enabled, and after a tune from
# version 1 for as long as converting the existing data takes (over a minute for a few
# thousand secrets on a busy machine). The same request succeeds afterwards.
KV_UPGRADING = "Upgrading from non-versioned to versioned data"
KV_UPGRADE_POLL_SECONDS = 0.5
# /v1/sys/health answers with a status code per node state; only "active" takes writes.
HEALTH_STATES = {
    200: "active",
    429: "standby",
    472: "a DR secondary",
    473: "a performance standby",
    501: "not initialized",
    503: "sealed",
}


def server_message(exc):
    """The server's own words for a failed request, without hvac's method-and-URL suffix."""
    if isinstance(exc, VaultError):
        return ", ".join(exc.errors or []) or exc.args[0] or type(exc).__name__
    return str(exc)


def _summarize(failures):
    if len(failures) <= MAX_REPORTED_FAILURES:
        return failures
    return [*failures[:MAX_REPORTED_FAILURES], f"... and {len(failures) - MAX_REPORTED_FAILURES} more"]


class Vault:
    def __init__(self, url, token, verify, timeout, wait_timeout):
        session = requests.Session()
        pooled = HTTPAdapter(pool_connections=1, pool_maxsize=WORKERS)
        session.mount("http://", pooled)
        session.mount("https://", pooled)
        # hvac takes verify from a session it is given (a fresh session says True), and
        # requests then prefers REQUESTS_CA_BUNDLE to True: set the CA path on the session.
        session.verify = verify
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.wait_timeout = wait_timeout
        self.client = hvac.Client(url=self.url, token=token, verify=verify, timeout=timeout, session=session)

    def map(self, fn, items, label):
        """fn(item) for every item, WORKERS at a time. Raises one SeedError naming every item that failed."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
        results, failures = [], []
        for item, future in zip(items, futures, strict=True):
            try:
                results.append(future.result())
            except REQUEST_ERRORS as exc:
                failures.append(f"{label(item)}: {server_message(exc)}")
        if failures:
            raise SeedError(_summarize(failures))
        return results

    # --- Availability and credentials ----------------------------------------------------

    def _health_state(self, timeout):
        response = self.client.adapter.get("/v1/sys/health", raise_exception=False, timeout=timeout)
        # hvac's JSON adapter hands back the decoded body for a 200 and the raw response otherwise.
        status = 200 if isinstance(response, dict) else response.status_code
        return HEALTH_STATES.get(status, f"answering HTTP {status} on /v1/sys/health")

    def wait_until_active(self):
        """Poll the health endpoint, for up to wait_timeout seconds, until the node is active: it
        may be starting, sealed or on standby."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            detail = ""
            try:
                state = self._health_state(timeout=max(1, min(self.timeout, deadline - time.monotonic())))
            except requests.exceptions.SSLError as exc:
                raise SeedError(f"TLS verification of {self.url} failed (see ca_cert, validate_certs): {exc}") from exc
            except requests.RequestException as exc:
                state, detail = "unreachable", f": {exc}"
            if state == "active":
                return
            if state == "not initialized":
                raise SeedError(f"Vault at {self.url} is not initialized: initialize and unseal it first")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SeedError(f"Vault at {self.url} is still {state} after waiting {self.wait_timeout}s{detail}")
            time.sleep(min(HEALTH_POLL_SECONDS, remaining))

    def check_token(self):
        try:
            self.client.auth.token.lookup_self()
        except (Forbidden, Unauthorized) as exc:
            raise SeedError(
                f"Vault at {self.url} rejected the token ({server_message(exc)}): check that it is valid, not expired"
            ) from exc

    # --- Engines and auth methods --------------------------------------------------------

    def secrets_engines(self):
        """{path: (type, kv version or None)} for every enabled secrets engine."""
        engines = self.client.sys.list_mounted_secrets_engines()["data"]
        return {path.strip("/"): engine_kind(info["type"], info.get("options")) for path, info in engines.items()}

    def auth_methods(self):
        """{path: type} for every enabled auth method."""
        return {path.strip("/"): info["type"] for path, info in self.client.sys.list_auth_methods()["data"].items()}

    def enable_engine(self, mount):
        self.client.sys.enable_secrets_engine(
            mount.type, path=mount.path, description=mount.description, options=mount.options or None
        )

    def enable_auth(self, path, method_type):
        self.client.sys.enable_auth_method(method_type, path=path)

    # --- Policies -------------------------------------------------------------------------

    def read_policy(self, name):
        try:
            return self.client.sys.read_policy(name)["data"]["rules"]
        except InvalidPath:
            return None

    def check_policy(self, rules):
        """Have the server parse the rules by storing them under a throwaway name, deleted at once.

        Vault has no endpoint that only validates a policy, and a policy stored under a name that
        nothing references grants nothing.
        """
        name = f"vault-seed-check-{secrets.token_hex(8)}"
        self.client.sys.create_or_update_policy(name, rules)
        self.client.sys.delete_policy(name)

    def write_policy(self, name, rules):
        self.client.sys.create_or_update_policy(name, rules)

    # --- AppRoles -------------------------------------------------------------------------

    def read_approle(self, mount, name):
        try:
            return self.client.auth.approle.read_role(name, mount_point=mount)["data"]
        except InvalidPath:
            return None

    def write_approle(self, mount, name, settings):
        self.client.auth.approle.create_or_update_approle(name, mount_point=mount, **settings)

    def role_id(self, mount, name):
        return self.client.auth.approle.read_role_id(name, mount_point=mount)["data"]["role_id"]

    def new_secret_id(self, mount, name):
        return self.client.auth.approle.generate_secret_id(name, mount_point=mount)["data"]["secret_id"]

    # --- KV secrets -----------------------------------------------------------------------

    def _once_upgraded(self, request):
        """request(), repeated while its KV version 2 engine is upgrading, for up to wait_timeout seconds."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                return request()
            except VaultError as exc:
                if KV_UPGRADING not in server_message(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(KV_UPGRADE_POLL_SECONDS)

    def read_secret(self, mount, kv_version, path):
        """(data, version) at a path. data is None when the path is absent or its latest KV v2 version deleted."""
        if kv_version == "1":
            try:
                return self.client.secrets.kv.v1.read_secret(path, mount_point=mount)["data"], 0
            except InvalidPath:
                return None, 0
        try:
            body = self._once_upgraded(
                lambda: self.client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=True
                )
            )
        except InvalidPath as exc:
            # A deleted or destroyed latest version still reports its metadata, and with it the
            # version number that a check-and-set write has to name.
            body = exc.json or {}
        secret = body.get("data") or {}
        return secret.get("data"), (secret.get("metadata") or {}).get("version", 0)

    def write_secret(self, mount, kv_version, path, data, cas):
        """Write a secret; on KV v2 only if the version is still the one read, so a concurrent edit is not lost."""
        if kv_version == "1":
            self.client.secrets.kv.v1.create_or_update_secret(path, data, method="PUT", mount_point=mount)
        else:
            self._once_upgraded(
                lambda: self.client.secrets.kv.v2.create_or_update_secret(path, data, cas=cas, mount_point=mount)
            )
