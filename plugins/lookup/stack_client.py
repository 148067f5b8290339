"""The one way a service reads another's client settings: the `stack_client` lookup.

A service declares what its clients need (container name, address, ports, URLs, names of
secrets, metrics endpoint, Vault path) once, as `clients` in the `<name>_service` dict of its
role's vars/main.yml. This lookup renders that entry for one host of the service's group from
the inventory and the roles' defaults alone: the service's role need not have run on that
host in this run, so a run limited to some hosts (--limit, --tags) renders the same configs
as a full one.

Only run-time state is read from facts: whether the service was skipped for want of an image
(this run's stack_service step, else the local fact file the last run wrote on that host),
and the host's address when the service listens on every interface (its default IPv4
address, as gathered; site.yml gathers it for hosts --limit leaves out).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from jinja2 import Environment, meta

DOCUMENTATION = r"""
name: stack_client
short_description: A service's client settings on one host, from the inventory and the role defaults
description:
  - Renders C(<service>_service.clients) of the service's role for one host of its group,
    adding C(enabled), C(skipped), C(reach_address), C(bind_address) and C(published_ports)
    (each C(port) with the C(variable) that sets it).
  - For the calling host, the settings are rendered in its own context, as its roles see them
    (play vars and role parameters included); for another host, from what is known of it
    without a play (inventory, group_vars, extra vars, its facts and the facts set on it), so
    settings that other hosts read belong there, not in play vars.
  - Returns an empty dict when the host is not in the service's group.
options:
  _terms:
    description: The service's name (its role and inventory group).
    required: true
  host:
    description: The host of the service's group; default the first host of the group.
    type: str
"""

EXAMPLES = r"""
redis_exporter_redis: "{{ lookup('stack_client', 'redis', host=redis_exporter_redis_host) }}"
"""

RETURN = r"""
_raw:
  description: The service's client settings on that host, or {} when it does not run there.
  type: list
  elements: dict
"""

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
WILDCARD_ADDRESSES = ("0.0.0.0", "::")
# A variable that names one task's rendering, whatever copies of its variables it renders with.
SCOPE_VARIABLE = "stack_client_scope"
# Names that make a rendering depend on more than the variables it reads: a lookup, another
# host's variables, the time. Settings that read one are rendered on every call.
UNCACHEABLE_NAMES = frozenset({"lookup", "query", "q", "hostvars", "now", "vars"})
# A rendering is kept for the rest of the run (every task runs in a process of its own, so a
# process's memory lasts one task) under the controller's temporary directory of this run,
# which ansible-playbook makes at its start and removes at its end.
RUN_CACHE_DIR = Path(C.DEFAULT_LOCAL_TMP) / "stack_client"
# Kept renderings of one service on one host (plays of one run may set different values).
RUN_CACHE_ENTRIES = 8
_PARSER = Environment()
# Template text -> the variable names it reads (None: it cannot be parsed), per process.
_names_read: dict[str, frozenset | None] = {}


def _true(value) -> bool:
    """A setting's truth as Ansible's bool filter reads it ("false", "no", "0" are false)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1", "y", "t")
    return bool(value)


class LookupModule(LookupBase):
    # Role files, read once per process: (role, file) -> data.
    _files: dict[tuple[str, str], dict] = {}
    # Other hosts' settings, by (service, host, the host's gathered address): rendering costs
    # tens of milliseconds, and Prometheus's targets alone read every service of every host.
    # They are rendered from the inventory, extra vars and role files, which do not change
    # during a run, and the host's set facts at the first call (no service's client settings
    # depend on one). Whether a service was skipped is read again on every call.
    _rendered: dict[tuple[str, str, str], dict] = {}
    # The calling host's own settings, for as long as one task renders: while its variables are
    # the same object, or carry the same scope (SCOPE_VARIABLE: an action that renders with
    # copies of its task's variables, such as the stack_service action, sets it in each).
    _own: dict = {"scope": None, "rendered": {}}

    def _role_file(self, role: str, name: str) -> dict:
        key = (role, name)
        if key not in self._files:
            path = ROLES_DIR / role / name / "main.yml"
            data = self._loader.load_from_file(str(path), trusted_as_template=True) if path.is_file() else None
            self._files[key] = data or {}
        return self._files[key]

    def run(self, terms, variables=None, **kwargs):
        if len(terms) != 1 or not isinstance(terms[0], str):
            raise AnsibleError("stack_client takes one service name")
        service = terms[0]
        variables = variables or {}
        members = list((variables.get("groups") or {}).get(service) or [])
        host = kwargs.get("host") or (members[0] if members else "")
        if not host or host not in members:
            return [{}]
        if not (ROLES_DIR / service).is_dir():
            raise AnsibleError(f"stack_client: no role for the service {service!r} under {ROLES_DIR}")

        host_vars = None
        state = _run_state(variables, host)
        if state is None:
            # Another variable manager than this was written for: read all of the host's variables.
            host_vars = variables["hostvars"].raw_get(host)
            state = (host_vars.get("ansible_facts") or {}, host_vars)
        facts, set_facts = state
        # The fact cache keeps the gathered names (ansible_default_ipv4); ansible_facts drops the prefix.
        gathered = facts.get("ansible_default_ipv4") or facts.get("default_ipv4") or {}
        address = str(gathered.get("address") or "")
        if host == variables.get("inventory_hostname"):
            # The calling host's own services, in its own context (play vars, role parameters),
            # as its roles render them: kept only while the same task renders (its variables).
            scope = variables.get(SCOPE_VARIABLE) or variables
            known = LookupModule._own["scope"]
            if not (known is scope or (isinstance(scope, str) and known == scope)):
                LookupModule._own = {"scope": scope, "rendered": {}}
            own = LookupModule._own["rendered"]
            if service not in own:
                own[service] = self._render(service, host, variables)
            rendered = own[service]
        else:
            key = (service, host, address)
            if key not in self._rendered:
                if host_vars is None:
                    host_vars = variables["hostvars"].raw_get(host)
                self._rendered[key] = self._render(service, host, host_vars)
            rendered = self._rendered[key]
        bind_address = rendered["bind_address"]
        return [
            dict(
                rendered["settings"],
                enabled=rendered["enabled"],
                skipped=_skipped(service, rendered["stack_name"], facts, set_facts),
                reach_address=bind_address
                if bind_address and bind_address not in WILDCARD_ADDRESSES
                else (address or rendered["ansible_host"] or host),
                bind_address=bind_address,
                published_ports=rendered["published_ports"],
            )
        ]

    def _render(self, service: str, host: str, host_vars: dict) -> dict:
        """The service's declared settings on that host, rendered with Ansible's precedence as
        when the role runs there: role defaults (the stack's, then the service's), then the
        inventory, then the role's vars, then extra vars and facts set in this run (both in
        host_vars, which win over the role's vars only for the names they set).

        A rendering is kept for the run (see run_cache_get), with the values of every variable
        it read, directly or through other variables: a later call whose variables hold the
        same values gets it back without rendering again."""
        context = {}
        context.update(self._role_file("stack", "defaults"))
        context.update(self._role_file(service, "defaults"))
        context.update(host_vars)
        role_vars = self._role_file(service, "vars")
        context.update({name: value for name, value in role_vars.items() if name not in host_vars})
        declared = f"{service}_service"
        if declared not in role_vars:
            raise AnsibleError(f"stack_client: roles/{service}/vars/main.yml defines no {declared}")
        entry = role_vars[declared]
        read = {key: entry.get(key) for key in ("ports", "clients", "enabled", "bind_address")}
        key = inputs_digest([read, context.get("stack_name", ""), host_vars.get("ansible_host", "")], context)
        rendered = run_cache_get(service, host, key)
        if rendered is None:
            rendered = self._render_entry(entry, context, host_vars)
            run_cache_put(service, host, key, rendered)
        return rendered

    def _render_entry(self, entry: dict, context: dict, host_vars: dict) -> dict:
        templar = self._templar.copy_with_new_env(available_variables=context)
        ports = templar.template(entry.get("ports", []))
        return {
            "settings": templar.template(entry["clients"]) if "clients" in entry else {},
            "enabled": _true(templar.template(entry.get("enabled", True))),
            "bind_address": str(templar.template(entry.get("bind_address", ""))),
            "published_ports": [{"port": port["port"], "variable": port["name"]} for port in ports or []],
            "stack_name": str(templar.template(context.get("stack_name", ""))),
            "ansible_host": str(templar.template(host_vars.get("ansible_host", ""))),
        }


def names_read(value) -> set | None:
    """The variable names that the templates in value (a string, or lists and dicts of them)
    read; None when one cannot be parsed."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return set()
        if value not in _names_read:
            try:
                _names_read[value] = frozenset(meta.find_undeclared_variables(_PARSER.parse(value)))
            except Exception:  # noqa: BLE001 - Ansible's own syntax beyond Jinja's: render every time
                _names_read[value] = None
        found = _names_read[value]
        return None if found is None else set(found)
    items = []
    if isinstance(value, Mapping):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    names = set()
    for item in items:
        found = names_read(item)
        if found is None:
            return None
        names |= found
    return names


def inputs_digest(templates, context: dict) -> str | None:
    """A digest of the values of every variable that rendering `templates` reads, directly or
    through the templates those variables hold; None when the rendering may read anything else
    (a lookup, another host's variables) or a value has no plain form."""
    pending = names_read(templates)
    if pending is None:
        return None
    seen: dict[str, object] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        if name in UNCACHEABLE_NAMES:
            return None
        value = context.get(name, "\0undefined")
        seen[name] = value
        found = names_read(value)
        if found is None:
            return None
        pending |= found - seen.keys()
    try:
        text = json.dumps([templates, sorted(seen.items())], sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_file(service: str, host: str) -> Path:
    return RUN_CACHE_DIR / hashlib.sha256(f"{service}\0{host}".encode()).hexdigest()


def run_cache_get(service: str, host: str, key: str | None) -> dict | None:
    """A rendering kept earlier in this run under key, or None."""
    if key is None:
        return None
    try:
        entries = json.loads(_cache_file(service, host).read_text())
    except (OSError, ValueError):
        return None
    return entries.get(key)


def run_cache_put(service: str, host: str, key: str | None, rendered: dict) -> None:
    """Keep a rendering for the rest of the run (the newest RUN_CACHE_ENTRIES of each service
    on each host). Written whole, then renamed: tasks of several hosts render side by side."""
    if key is None:
        return
    path = _cache_file(service, host)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    entries.pop(key, None)
    entries[key] = rendered
    entries = dict(list(entries.items())[-RUN_CACHE_ENTRIES:])
    try:
        text = json.dumps(entries, allow_nan=False)
    except (TypeError, ValueError):
        return  # a value with no plain form: rendered again next time
    try:
        RUN_CACHE_DIR.mkdir(mode=0o700, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    except OSError:
        pass  # a cache: without it, the next call renders again


def _run_state(variables, host):
    """(gathered facts, facts set in this run) of the host, straight from the variable
    manager's caches (reading all of a host's variables costs tens of milliseconds); None
    where the manager keeps them otherwise."""
    manager = getattr(variables.get("hostvars"), "_variable_manager", None)
    try:
        try:
            facts = manager._fact_cache.get(host) or {}
        except KeyError:
            facts = {}
        set_facts = manager._nonpersistent_fact_cache.get(host) or {}
    except AttributeError:
        return None
    return facts, set_facts


def _skipped(service: str, stack_name: str, facts: dict, set_facts: dict) -> bool:
    """Skipped for want of an image: as this run's step found it on that host, else as the
    last run recorded it there (the local fact file)."""
    # The stack_service action returns it as a host fact (a fact cache entry).
    this_run = facts.get("stack_skipped") or set_facts.get("stack_skipped") or {}
    if service in this_run:
        return bool(this_run[service])
    local = facts.get("ansible_local") or set_facts.get("ansible_local") or {}
    return service in ((local.get(stack_name) or {}).get("skipped") or [])
