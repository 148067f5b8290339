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

from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: stack_client
short_description: A service's client settings on one host, from the inventory and the role defaults
description:
  - Renders C(<service>_service.clients) of the service's role for one host of its group,
    adding C(enabled), C(skipped) and C(reach_address).
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


def _true(value) -> bool:
    """A setting's truth as Ansible's bool filter reads it ("false", "no", "0" are false)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1", "y", "t")
    return bool(value)


class LookupModule(LookupBase):
    # Role files, read once per process: (role, file) -> data.
    _files: dict[tuple[str, str], dict] = {}

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

        host_vars = variables["hostvars"].raw_get(host)
        # Ansible's precedence, as when the role runs on that host: role defaults (the stack's,
        # then the service's), then the inventory, then the role's vars, then extra vars and
        # facts set in this run (both in host_vars, which win over the role's vars only for
        # the names they set).
        context = {}
        context.update(self._role_file("stack", "defaults"))
        context.update(self._role_file(service, "defaults"))
        context.update(host_vars)
        role_vars = self._role_file(service, "vars")
        context.update({name: value for name, value in role_vars.items() if name not in host_vars})
        templar = self._templar.copy_with_new_env(available_variables=context)

        declared = f"{service}_service"
        if declared not in role_vars:
            raise AnsibleError(f"stack_client: roles/{service}/vars/main.yml defines no {declared}")
        settings = templar.template(role_vars[declared]["clients"]) if "clients" in role_vars[declared] else {}
        enabled = _true(templar.template(role_vars[declared].get("enabled", True)))
        bind_address = str(templar.template(role_vars[declared].get("bind_address", "")))
        ports = templar.template(role_vars[declared].get("ports", []))
        return [
            dict(
                settings,
                enabled=enabled,
                skipped=self._skipped(service, host_vars, context),
                reach_address=self._reach_address(host, bind_address, host_vars),
                bind_address=bind_address,
                published_ports=[{"port": port["port"], "variable": port["name"]} for port in ports or []],
            )
        ]

    @staticmethod
    def _skipped(service: str, host_vars: dict, context: dict) -> bool:
        """Skipped for want of an image: as this run's step found it on that host, else as the
        last run recorded it there (the local fact file)."""
        this_run = host_vars.get("stack_skipped") or {}
        if service in this_run:
            return bool(this_run[service])
        stack_name = context.get("stack_name", "")
        local = host_vars.get("ansible_local") or (host_vars.get("ansible_facts") or {}).get("ansible_local") or {}
        return service in ((local.get(stack_name) or {}).get("skipped") or [])

    @staticmethod
    def _reach_address(host: str, bind_address: str, host_vars: dict) -> str:
        """Where other hosts reach the service's published ports: its bind address, or the
        host's address when it listens on every interface."""
        if bind_address and bind_address not in WILDCARD_ADDRESSES:
            return bind_address
        facts = host_vars.get("ansible_facts") or {}
        address = (facts.get("default_ipv4") or {}).get("address")
        return str(address or host_vars.get("ansible_host") or host)
