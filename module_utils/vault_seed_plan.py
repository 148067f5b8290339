"""Request parsing and change planning for the vault_seed module.

Nothing here talks to Vault. The module reads the server's state, hands it to these functions and
gets back a complete plan; only then does it write. That is what lets every error surface before
the first write, and lets check mode and --diff report exactly what a real run would do.
"""

import ipaddress
import re
import secrets
import string
from dataclasses import dataclass, field

DEFAULT_CHARS = string.ascii_letters + string.digits
MAX_GENERATED_LENGTH = 4096

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
# Existing engines and auth methods are never reconfigured, so they are never "updated".
CATEGORY_ACTIONS = {
    "mounts": (CREATED, UNCHANGED),
    "auth_methods": (CREATED, UNCHANGED),
    "policies": (CREATED, UPDATED, UNCHANGED),
    "approles": (CREATED, UPDATED, UNCHANGED),
    "secrets": (CREATED, UPDATED, UNCHANGED),
}

DURATION_SETTINGS = ("token_ttl", "token_max_ttl", "token_period", "secret_id_ttl")
CIDR_SETTINGS = ("token_bound_cidrs", "secret_id_bound_cidrs")
APPROLE_SETTINGS = (
    *DURATION_SETTINGS,
    *CIDR_SETTINGS,
    "token_policies",
    "token_num_uses",
    "token_type",
    "bind_secret_id",
    "secret_id_num_uses",
)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class SeedError(Exception):
    """A request the module refuses, or a write that failed. Carries every problem found, so that one
    run reports them all, and whether anything had been written by then."""

    def __init__(self, problems, changed=False):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.changed = changed
        super().__init__("; ".join(self.problems))


def raise_problems(problems):
    if problems:
        raise SeedError(problems)


# --- Request ------------------------------------------------------------------------------


@dataclass
class MountRequest:
    path: str
    type: str
    kv_version: str
    description: str
    options: dict


@dataclass
class SecretRequest:
    mount: str
    path: str
    data: dict
    generate: dict
    mode: str
    kv_version: str

    @property
    def ref(self):
        return f"{self.mount}/{self.path}"


@dataclass
class ApproleRequest:
    name: str
    settings: dict
    want_secret_id: bool


@dataclass
class Request:
    mounts: list
    policies: dict
    approles: list
    secrets: list
    approle_mount_point: str


def engine_kind(engine_type, options):
    """(type, kv version) for an engine; kv-v1/kv-v2 are folded into kv plus a version."""
    if engine_type in ("kv-v1", "kv-v2"):
        return "kv", engine_type[-1]
    if engine_type == "kv":
        return "kv", str((options or {}).get("version") or "1")
    return engine_type, None


def duration_seconds(value):
    """Whole seconds in a Vault duration (3600, "3600", "90s", "15m", "1h30m", "2d"), as Vault reports them."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{value!r} is not a duration such as 3600, 90s, 15m or 1h30m")
    return int(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def canonical_cidr(value):
    """A CIDR the way Vault echoes it back: a single address loses its /32 or /128."""
    network = ipaddress.ip_network(str(value).strip())
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def normalize_setting(name, value):
    """A role setting in the form Vault returns it, so that requested and current values compare equal."""
    if name in DURATION_SETTINGS:
        return duration_seconds(value)
    if name in CIDR_SETTINGS:
        return sorted(canonical_cidr(cidr) for cidr in value or [])
    if name == "token_policies":
        return sorted(set(value or []))
    return value


def normalize_rules(rules):
    """Policy text without trailing whitespace, which Vault may store differently than it was written."""
    return "\n".join(line.rstrip() for line in (rules or "").splitlines()).strip("\n")


def _duplicates(names):
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def _parse_mounts(items):
    mounts, problems = [], []
    for item in items:
        path = item["path"].strip("/")
        engine_type, kv_version = engine_kind(item["type"], item["options"])
        if kv_version not in (None, "1", "2"):
            problems.append(f"mount {path!r}: kv version must be 1 or 2, got {kv_version!r}")
        options = dict(item["options"] or {})
        if kv_version:
            options["version"] = kv_version
        mounts.append(MountRequest(path, engine_type, kv_version, item["description"] or "", options))
    problems += [f"mount {path!r} is listed more than once" for path in _duplicates(m.path for m in mounts)]
    return mounts, problems


def _generate_problems(ref, generate, data):
    problems = []
    for key, spec in generate.items():
        if key in data:
            problems.append(f"secret {ref!r}: key {key!r} is both in data and in generate")
        if not isinstance(spec, dict) or set(spec) - {"length", "chars"}:
            problems.append(f"secret {ref!r}: generate.{key} takes only length and chars")
            continue
        length = spec.get("length")
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_GENERATED_LENGTH:
            problems.append(f"secret {ref!r}: generate.{key}.length must be a number from 1 to {MAX_GENERATED_LENGTH}")
        chars = spec.get("chars", DEFAULT_CHARS)
        if not isinstance(chars, str) or not chars:
            problems.append(f"secret {ref!r}: generate.{key}.chars must be a non-empty string")
    return problems


def _parse_secrets(items):
    parsed, problems = [], []
    for item in items:
        mount, path = item["mount"].strip("/"), item["path"].strip("/")
        kv_version = str(item["kv_version"]) if item["kv_version"] else None
        secret = SecretRequest(mount, path, item["data"] or {}, item["generate"] or {}, item["mode"], kv_version)
        if not mount or not path:
            problems.append(f"secret {secret.ref!r}: mount and path must not be empty")
        problems += _generate_problems(secret.ref, secret.generate, secret.data)
        parsed.append(secret)
    problems += [f"secret {ref!r} is listed more than once" for ref in _duplicates(s.ref for s in parsed)]
    return parsed, problems


def _parse_policies(items):
    policies, problems = {}, []
    for item in items:
        name = item["name"]
        if name.lower() == "root":
            problems.append("policy 'root' is built in and cannot be changed")
        if name in policies:
            problems.append(f"policy {name!r} is listed more than once")
        policies[name] = item["rules"]
    return policies, problems


def _parse_approles(items, task_no_log):
    approles, problems = [], []
    for item in items:
        name, settings = item["name"], {}
        for key in APPROLE_SETTINGS:
            if item[key] is None:
                continue
            try:
                settings[key] = normalize_setting(key, item[key])
            except ValueError as exc:
                problems.append(f"approle {name!r}: {key}: {exc}")
        # The secret_id has to be returned in clear to be usable, so only a task whose output
        # Ansible hides may ask for one.
        if item["secret_id"] and not task_no_log:
            problems.append(f"approle {name!r} asks for a secret_id: set no_log: true on the task")
        approles.append(ApproleRequest(name, settings, item["secret_id"]))
    problems += [f"approle {name!r} is listed more than once" for name in _duplicates(a.name for a in approles)]
    return approles, problems


def parse_request(params, task_no_log):
    """Check the request on its own, before any server is contacted. Raises SeedError with every problem."""
    mounts, mount_problems = _parse_mounts(params["mounts"] or [])
    policies, policy_problems = _parse_policies(params["policies"] or [])
    approles, approle_problems = _parse_approles(params["approles"] or [], task_no_log)
    seeds, secret_problems = _parse_secrets(params["secrets"] or [])
    raise_problems(mount_problems + policy_problems + approle_problems + secret_problems)
    return Request(mounts, policies, approles, seeds, params["approle_mount_point"].strip("/"))


# --- Plan ---------------------------------------------------------------------------------


@dataclass
class Change:
    """One managed object: what happens to it, what --diff shows, and what the write phase sends."""

    name: str
    action: str
    before: object = None
    after: object = None
    payload: object = None


@dataclass
class Plan:
    changes: dict = field(default_factory=lambda: {category: [] for category in CATEGORY_ACTIONS})

    def add(self, category, change):
        self.changes[category].append(change)

    def pending(self, category):
        return [change for change in self.changes[category] if change.action != UNCHANGED]

    @property
    def changed(self):
        return any(self.pending(category) for category in CATEGORY_ACTIONS)

    def summary(self):
        return {
            category: {
                action: [change.name for change in self.changes[category] if change.action == action]
                for action in actions
            }
            for category, actions in CATEGORY_ACTIONS.items()
        }

    def diff(self):
        """Before/after views of the pending changes only: names, key names, rules and role settings."""
        before, after = {}, {}
        for category in CATEGORY_ACTIONS:
            pending = self.pending(category)
            if pending:
                before[category] = {c.name: c.before for c in pending if c.action != CREATED}
                after[category] = {c.name: c.after for c in pending}
        return {"before": before, "after": after}


def generated_value(spec):
    chars = spec.get("chars") or DEFAULT_CHARS
    return "".join(secrets.choice(chars) for _ in range(spec["length"]))


def target_data(secret, current):
    """The data a secret path should hold given what it holds now (None when absent), and the keys generated."""
    missing = {key: spec for key, spec in secret.generate.items() if current is None or key not in current}
    if current is None:
        target = dict(secret.data)
    elif secret.mode == "create":
        return current, set()
    elif secret.mode == "merge":
        target = {**current, **secret.data}
    else:
        kept = {key: current[key] for key in secret.generate if key in current}
        target = {**secret.data, **kept}
    target.update((key, generated_value(spec)) for key, spec in missing.items())
    return target, set(missing)


def secret_key_view(current, target, generated):
    """Key names for --diff, marked where a value is generated or changed; never a value."""
    view = []
    for key in sorted(target):
        if key in generated:
            view.append(f"{key} (generated)")
        elif current is not None and key in current and current[key] != target[key]:
            view.append(f"{key} (changed)")
        else:
            view.append(key)
    return view


def plan_secret(secret, kv_version, current, version):
    """A Change for one secret path; its payload is the write: data, and the KV v2 version to check-and-set on."""
    target, generated = target_data(secret, current)
    action = CREATED if current is None else UNCHANGED if target == current else UPDATED
    return Change(
        name=secret.ref,
        action=action,
        before=sorted(current) if current is not None else None,
        after=secret_key_view(current, target, generated),
        payload={"mount": secret.mount, "kv_version": kv_version, "path": secret.path, "data": target, "cas": version},
    )


def plan_policy(name, rules, current):
    if current is None:
        action = CREATED
    elif normalize_rules(current) == normalize_rules(rules):
        action = UNCHANGED
    else:
        action = UPDATED
    # Rules as lists of lines, so that --diff shows which lines of a policy change.
    before = normalize_rules(current).splitlines() if current is not None else None
    return Change(name=name, action=action, before=before, after=normalize_rules(rules).splitlines(), payload=rules)


def plan_approle(approle, current):
    """Compare only the settings the request names: the others stay as the server has them."""
    if current is None:
        return Change(approle.name, CREATED, after=approle.settings, payload=approle.settings)
    now = {key: normalize_setting(key, current.get(key)) for key in approle.settings}
    action = UNCHANGED if now == approle.settings else UPDATED
    return Change(approle.name, action, before=now, after=approle.settings, payload=approle.settings)
