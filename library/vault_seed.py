#!/usr/bin/python
"""Seed a Vault (or OpenBao) server: secrets engines, policies, AppRoles and KV secrets, in one task."""

DOCUMENTATION = r"""
module: vault_seed
short_description: Bring secrets engines, policies, AppRoles and KV secrets in Vault to a declared state
description:
  - Declares the secrets engines, ACL policies, AppRoles and KV secrets that the Auterity stack
    needs, and makes a Vault or OpenBao server match them in a single task.
  - Works in phases. It waits until the server is unsealed and active, checks the token, reads
    everything it manages, validates the whole request and computes a plan; only then does it
    write. Any error (unknown mount, KV version mismatch, invalid policy, bad token) stops the
    task before the first write.
  - Reads and writes run in parallel over one pooled HTTP connection set, so thousands of
    secrets reconcile in seconds. Equal data is never written again, so a re-run creates no new
    KV v2 version.
  - Secret values never appear in the task's output or in C(--diff), which shows paths, key
    names, policy rules and AppRole settings only.
author:
  - Auterity platform team
requirements:
  - hvac >= 2.0 on the host that runs the module
options:
  url:
    description:
      - Address of the Vault server.
      - Falls back to the E(VAULT_ADDR) environment variable, then to the default.
    type: str
    default: http://127.0.0.1:8200
  token:
    description:
      - Token to authenticate with. It needs to manage everything listed in the task, and to
        look itself up (the built-in C(default) policy grants that).
      - Falls back to the E(VAULT_TOKEN) environment variable.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate.
    type: bool
    default: true
  ca_cert:
    description:
      - Path to a CA bundle to verify the server's certificate with, instead of the system's.
    type: path
  timeout:
    description:
      - Timeout of each HTTP request, in seconds.
    type: int
    default: 30
  wait_timeout:
    description:
      - How long, in seconds, to wait for the server to be reachable, unsealed and active
        before giving up. A node that is starting, sealed or on standby is polled once a second.
      - An uninitialized server fails at once.
      - Also how long a read or write on a KV version 2 engine is repeated while Vault refuses
        it because the engine is upgrading its layout (just enabled, or tuned from version 1).
    type: int
    default: 60
  mounts:
    description:
      - Secrets engines to enable where they are missing. An engine that exists is left as it
        is, but if its type or KV version differs from the one listed here the task fails.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Mount path, without slashes, such as C(secret).
        type: str
        required: true
      type:
        description:
          - Engine type, such as C(kv), C(transit) or C(pki).
          - C(kv-v1) and C(kv-v2) are accepted as C(kv) with that version.
        type: str
        required: true
      options:
        description:
          - Engine options. For C(kv), C(version) (C("1") or C("2")) picks the KV version;
            it defaults to 1, as in Vault.
        type: dict
      description:
        description: Human-readable description, set when the engine is enabled.
        type: str
  policies:
    description:
      - ACL policies to create or update. A policy whose rules differ from the server's (ignoring
        trailing whitespace) is rewritten.
      - Before anything is written, every policy that is to change is sent to the server under a
        temporary name that is deleted at once, so that a syntax error stops the task while
        nothing has been written. In check mode that step is skipped, since check mode writes
        nothing.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Policy name.
        type: str
        required: true
      rules:
        description: Policy document in HCL (or JSON).
        type: str
        required: true
  approles:
    description:
      - AppRoles to create or update. The AppRole auth method is enabled at O(approle_mount_point)
        when it is missing.
      - Only the settings given are managed; the others keep their current values. Durations are
        compared in seconds, so C(1h) equals the C(3600) that Vault reports.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Role name.
        type: str
        required: true
      token_policies:
        description: Policies of the tokens issued to the role (order does not matter).
        type: list
        elements: str
      token_ttl:
        description: TTL of issued tokens, as seconds or a duration such as C(1h).
        type: raw
      token_max_ttl:
        description: Maximum lifetime of issued tokens, as seconds or a duration.
        type: raw
      token_period:
        description: Period of issued tokens, making them periodic, as seconds or a duration.
        type: raw
      token_num_uses:
        description: Number of times an issued token may be used; C(0) is unlimited.
        type: int
      token_type:
        description: Type of the issued tokens.
        type: str
        choices: [service, batch, default]
      token_bound_cidrs:
        description: CIDR blocks from which issued tokens may be used.
        type: list
        elements: str
      bind_secret_id:
        description: Whether logging in requires a secret_id.
        type: bool
      secret_id_ttl:
        description: TTL of secret_ids issued for the role, as seconds or a duration.
        type: raw
      secret_id_num_uses:
        description: Number of logins a secret_id allows; C(0) is unlimited.
        type: int
      secret_id_bound_cidrs:
        description: CIDR blocks from which a secret_id may be used.
        type: list
        elements: str
      secret_id:
        description:
          - Issue a new secret_id for the role on every run and return it in RV(secret_ids).
          - "The task must set C(no_log: true), otherwise it fails before writing anything, because
            the secret_id is returned in clear so that a registered variable can use it."
          - Issuing a secret_id does not count as a change. Nothing is issued in check mode.
        type: bool
        default: false
  approle_mount_point:
    description: Path of the AppRole auth method.
    type: str
    default: approle
  secrets:
    description:
      - KV secrets, each at one path of a C(kv) engine listed in O(mounts) or already enabled.
        Both KV versions are supported.
      - Each path is read first; it is written only if its data would change.
    type: list
    elements: dict
    default: []
    suboptions:
      mount:
        description: Mount path of the KV engine.
        type: str
        required: true
      path:
        description: Path of the secret inside the mount.
        type: str
        required: true
      data:
        description:
          - Keys and values to write. Never logged.
          - At least one of O(secrets[].data) and O(secrets[].generate) is required.
        type: dict
      generate:
        description:
          - "Keys whose values are generated, each as C(KEY) mapped to C({length: N}), optionally
            with C(chars) (a string of allowed characters; letters and digits by default)."
          - A key is generated only when it is absent at the path, so generated values are never
            regenerated. The values are never returned.
        type: dict
      mode:
        description:
          - V(create) writes the path only if it does not exist, so a value changed later by an
            operator is never overwritten. Missing keys are not added to an existing path either;
            use V(merge) for that.
          - V(merge) sets the listed keys and generates missing O(secrets[].generate) keys,
            keeping any other keys.
          - V(replace) makes the data exactly the listed keys plus the O(secrets[].generate) keys,
            which keep their current values when present.
        type: str
        choices: [create, merge, replace]
        default: create
      kv_version:
        description:
          - KV version the mount is expected to have; the task fails if it has the other one.
        type: int
        choices: [1, 2]
attributes:
  check_mode:
    support: full
    description: Reads everything and reports what would change, writing nothing.
  diff_mode:
    support: full
    description:
      - Shows the changed secret paths with their key names (generated and changed keys are
        marked), policy rules, AppRole settings, and new engines and auth methods.
      - Never shows a secret value.
notes:
  - Values in O(secrets[].data) are C(no_log). The output never contains them (it names keys
    only) and the echoed module arguments show each value as masked. Unlike Ansible's default
    masking, a short value (such as C(1)) does not also mask other text that contains it.
  - The node at O(url) must become active; point it at the cluster's active node or a load
    balancer in front of it. A standby node is waited for until O(wait_timeout).
  - A write that fails part way leaves the earlier writes of the run in place; a re-run converges.
"""

EXAMPLES = r"""
- name: Seed Vault for the backend
  vault_seed:
    url: https://vault.example:8200
    token: "{{ vault_root_token }}"
    ca_cert: /etc/ssl/certs/auterity-ca.pem
    mounts:
      - {path: secret, type: kv, options: {version: "2"}, description: app secrets}
    policies:
      - name: backend
        rules: |
          path "secret/data/auterity/*" { capabilities = ["read"] }
    approles:
      - {name: backend, token_policies: [backend], token_ttl: 1h}
    secrets:
      - mount: secret
        path: auterity/api-keys
        data: {openai: "{{ openai_api_key }}"}
      - mount: secret
        path: auterity/database
        generate: {password: {length: 32}}

- name: Issue a secret_id for the backend (the task must hide its output)
  vault_seed:
    url: https://vault.example:8200
    token: "{{ vault_root_token }}"
    approles:
      - {name: backend, token_policies: [backend], token_ttl: 1h, secret_id: true}
  register: backend_approle
  no_log: true

- name: Keep operator edits but add a new key, and pin a path's keys exactly
  vault_seed:
    token: "{{ vault_root_token }}"
    secrets:
      - mount: secret
        path: auterity/feature-flags
        mode: merge
        data: {new_checkout: "on"}
      - mount: secret
        path: auterity/smtp
        mode: replace
        kv_version: 2
        data: {user: mailer}
        generate: {password: {length: 40, chars: "abcdefghijkmnopqrstuvwxyz23456789"}}
"""

RETURN = r"""
mounts:
  description: Secrets engines listed in O(mounts), by path.
  returned: always
  type: dict
  contains:
    created:
      description: Engines enabled by this run (or that would be, in check mode).
      type: list
      elements: str
    unchanged:
      description: Engines that already existed.
      type: list
      elements: str
  sample: {created: [secret], unchanged: []}
auth_methods:
  description: The AppRole auth method, by path, when O(approles) is given.
  returned: always
  type: dict
  contains:
    created:
      description: Auth methods enabled by this run.
      type: list
      elements: str
    unchanged:
      description: Auth methods that already existed.
      type: list
      elements: str
  sample: {created: [approle], unchanged: []}
policies:
  description: Policies listed in O(policies), by name.
  returned: always
  type: dict
  contains:
    created:
      description: Policies created.
      type: list
      elements: str
    updated:
      description: Policies whose rules were rewritten.
      type: list
      elements: str
    unchanged:
      description: Policies already as listed.
      type: list
      elements: str
  sample: {created: [backend], updated: [], unchanged: []}
approles:
  description: AppRoles listed in O(approles), by name.
  returned: always
  type: dict
  contains:
    created:
      description: Roles created.
      type: list
      elements: str
    updated:
      description: Roles whose settings were changed.
      type: list
      elements: str
    unchanged:
      description: Roles already as listed.
      type: list
      elements: str
  sample: {created: [backend], updated: [], unchanged: []}
secrets:
  description: Secrets listed in O(secrets), as C(MOUNT/PATH).
  returned: always
  type: dict
  contains:
    created:
      description: Paths written that did not exist.
      type: list
      elements: str
    updated:
      description: Paths whose data was rewritten.
      type: list
      elements: str
    unchanged:
      description: Paths left as they were.
      type: list
      elements: str
  sample: {created: [secret/auterity/api-keys], updated: [], unchanged: [secret/auterity/database]}
role_ids:
  description:
    - The role_id of each AppRole, by name. In check mode, only for roles that already exist.
  returned: always
  type: dict
  sample: {backend: 7d2f5c3e-7f0b-4a8e-9f4e-2b1f0d6c9a11}
secret_ids:
  description:
    - A newly issued secret_id for each AppRole that sets O(approles[].secret_id), by name.
    - "Returned in clear so that a registered variable can use it; the task must set
      C(no_log: true). Empty in check mode."
  returned: always
  type: dict
  sample: {backend: 0b9f6c1e-3a5d-4e2f-8c7b-6d4a2e1f9b30}
"""

import copy

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.vault_seed_plan import (
    CREATED,
    UNCHANGED,
    Change,
    Plan,
    SeedError,
    parse_request,
    plan_approle,
    plan_policy,
    plan_secret,
    raise_problems,
)
from ansible.module_utils.vault_seed_server import HVAC_IMPORT_ERROR, REQUEST_ERRORS, Vault

NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

MOUNT_OPTIONS = {
    "path": {"type": "str", "required": True},
    "type": {"type": "str", "required": True},
    "options": {"type": "dict"},
    "description": {"type": "str"},
}

POLICY_OPTIONS = {
    "name": {"type": "str", "required": True},
    "rules": {"type": "str", "required": True},
}

# no_log=False is explicit where a name merely contains "token" or "secret": these are settings.
APPROLE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "token_policies": {"type": "list", "elements": "str", "no_log": False},
    "token_ttl": {"type": "raw", "no_log": False},
    "token_max_ttl": {"type": "raw", "no_log": False},
    "token_period": {"type": "raw", "no_log": False},
    "token_num_uses": {"type": "int", "no_log": False},
    "token_type": {"type": "str", "choices": ["service", "batch", "default"], "no_log": False},
    "token_bound_cidrs": {"type": "list", "elements": "str", "no_log": False},
    "bind_secret_id": {"type": "bool", "no_log": False},
    "secret_id_ttl": {"type": "raw", "no_log": False},
    "secret_id_num_uses": {"type": "int", "no_log": False},
    "secret_id_bound_cidrs": {"type": "list", "elements": "str", "no_log": False},
    "secret_id": {"type": "bool", "default": False, "no_log": False},
}

SECRET_OPTIONS = {
    "mount": {"type": "str", "required": True},
    "path": {"type": "str", "required": True},
    "data": {"type": "dict", "no_log": True},
    # generate holds lengths and character sets, no secret. Marking it no_log would make Ansible
    # mask every "32" or "abc" in the output, role_ids included.
    "generate": {"type": "dict", "no_log": False},
    "mode": {"type": "str", "default": "create", "choices": ["create", "merge", "replace"]},
    "kv_version": {"type": "int", "choices": [1, 2]},
}

ARGUMENT_SPEC = {
    "url": {"type": "str", "default": "http://127.0.0.1:8200", "fallback": (env_fallback, ["VAULT_ADDR"])},
    "token": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["VAULT_TOKEN"])},
    "validate_certs": {"type": "bool", "default": True},
    "ca_cert": {"type": "path"},
    "timeout": {"type": "int", "default": 30},
    "wait_timeout": {"type": "int", "default": 60},
    "mounts": {"type": "list", "elements": "dict", "default": [], "options": MOUNT_OPTIONS},
    "policies": {"type": "list", "elements": "dict", "default": [], "options": POLICY_OPTIONS},
    "approles": {"type": "list", "elements": "dict", "default": [], "options": APPROLE_OPTIONS},
    "approle_mount_point": {"type": "str", "default": "approle"},
    "secrets": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": SECRET_OPTIONS,
        "required_one_of": [["data", "generate"]],
    },
}


# --- Plan: reads only ---------------------------------------------------------------------


def plan_mounts(plan, request, engines):
    problems = []
    for mount in request.mounts:
        existing = engines.get(mount.path)
        if existing is None:
            after = {"type": mount.type, "options": mount.options, "description": mount.description}
            plan.add("mounts", Change(mount.path, CREATED, after=after, payload=mount))
        elif existing != (mount.type, mount.kv_version):
            problems.append(
                f"mount {mount.path!r} already exists as {_describe_engine(existing)}, "
                f"not {_describe_engine((mount.type, mount.kv_version))}"
            )
        else:
            plan.add("mounts", Change(mount.path, UNCHANGED))
    return problems


def _describe_engine(kind):
    engine_type, kv_version = kind
    return f"KV version {kv_version}" if engine_type == "kv" else f"a {engine_type!r} engine"


def plan_auth_method(plan, request, auth_methods):
    if not request.approles:
        return []
    path = request.approle_mount_point
    existing = auth_methods.get(path)
    if existing is None:
        plan.add("auth_methods", Change(path, CREATED, after={"type": "approle"}))
    elif existing != "approle":
        return [f"auth method path {path!r} is already used by a {existing!r} method, not approle"]
    else:
        plan.add("auth_methods", Change(path, UNCHANGED))
    return []


def secret_kv_versions(request, engines):
    """The KV version of each secret's mount, from the server or from mounts; problems for the rest."""
    declared = {mount.path: (mount.type, mount.kv_version) for mount in request.mounts}
    versions, problems = {}, []
    for secret in request.secrets:
        kind = engines.get(secret.mount) or declared.get(secret.mount)
        if kind is None:
            problems.append(f"secret {secret.ref!r}: mount {secret.mount!r} does not exist and is not in mounts")
        elif kind[0] != "kv":
            problems.append(f"secret {secret.ref!r}: mount {secret.mount!r} is {_describe_engine(kind)}, not kv")
        elif secret.kv_version and secret.kv_version != kind[1]:
            problems.append(
                f"secret {secret.ref!r}: kv_version {secret.kv_version} was requested "
                f"but mount {secret.mount!r} is KV version {kind[1]}"
            )
        else:
            versions[secret.ref] = kind[1]
    return versions, problems


def plan_policies(vault, plan, request, check_mode):
    names = list(request.policies)
    current = vault.map(vault.read_policy, names, label=lambda name: f"policy {name!r}")
    changes = [plan_policy(name, request.policies[name], rules) for name, rules in zip(names, current, strict=True)]
    if not check_mode:
        pending = [change for change in changes if change.action != UNCHANGED]
        vault.map(lambda change: vault.check_policy(change.payload), pending, label=lambda c: f"policy {c.name!r}")
    for change in changes:
        plan.add("policies", change)


def plan_approles(vault, plan, request, auth_exists):
    mount = request.approle_mount_point

    def read(approle):
        return vault.read_approle(mount, approle.name) if auth_exists else None

    current = vault.map(read, request.approles, label=lambda approle: f"approle {approle.name!r}")
    for approle, settings in zip(request.approles, current, strict=True):
        plan.add("approles", plan_approle(approle, settings))


def plan_secrets(vault, plan, request, engines, versions):
    def read(secret):
        if secret.mount not in engines:  # the engine is created by this run: nothing there yet
            return None, 0
        return vault.read_secret(secret.mount, versions[secret.ref], secret.path)

    states = vault.map(read, request.secrets, label=lambda secret: f"secret {secret.ref!r}")
    for secret, (current, version) in zip(request.secrets, states, strict=True):
        plan.add("secrets", plan_secret(secret, versions[secret.ref], current, version))


def build_plan(vault, request, check_mode):
    """Everything the run will do, from reads only. Raises SeedError for anything that would fail."""
    engines = vault.secrets_engines()
    auth_methods = vault.auth_methods() if request.approles else {}
    plan = Plan()
    versions, secret_problems = secret_kv_versions(request, engines)
    raise_problems(
        plan_mounts(plan, request, engines) + plan_auth_method(plan, request, auth_methods) + secret_problems
    )
    plan_policies(vault, plan, request, check_mode)
    plan_approles(vault, plan, request, auth_exists=request.approle_mount_point in auth_methods)
    plan_secrets(vault, plan, request, engines, versions)
    return plan


# --- Apply: one phase per kind of change -----------------------------------------------------


def apply(vault, plan, request):
    """Write the plan. Engines and the auth method come first because everything else lives on them,
    policies before the roles that name them."""
    mount = request.approle_mount_point
    phases = (
        ("mounts", "mount", lambda change: vault.enable_engine(change.payload)),
        ("auth_methods", "auth method", lambda change: vault.enable_auth(change.name, "approle")),
        ("policies", "policy", lambda change: vault.write_policy(change.name, change.payload)),
        ("approles", "approle", lambda change: vault.write_approle(mount, change.name, change.payload)),
        ("secrets", "secret", lambda change: vault.write_secret(**change.payload)),
    )
    for category, noun, write in phases:
        vault.map(write, plan.pending(category), label=lambda change, noun=noun: f"{noun} {change.name!r}")


def _approle_label(name):
    return f"approle {name!r}"


def approle_credentials(vault, plan, request, check_mode):
    """role_id of every role that exists by now, and a fresh secret_id where one was asked for."""
    mount = request.approle_mount_point
    existing = {change.name for change in plan.changes["approles"] if not check_mode or change.action != CREATED}
    names = [approle.name for approle in request.approles if approle.name in existing]
    wanted = [] if check_mode else [approle.name for approle in request.approles if approle.want_secret_id]
    role_ids = vault.map(lambda name: vault.role_id(mount, name), names, label=_approle_label)
    secret_ids = vault.map(lambda name: vault.new_secret_id(mount, name), wanted, label=_approle_label)
    return dict(zip(names, role_ids, strict=True)), dict(zip(wanted, secret_ids, strict=True))


def seed(module):
    params = module.params
    request = parse_request(params, task_no_log=module.no_log)
    verify = params["ca_cert"] if params["ca_cert"] and params["validate_certs"] else params["validate_certs"]
    vault = Vault(params["url"], params["token"], verify, params["timeout"], params["wait_timeout"])
    vault.wait_until_active()
    vault.check_token()
    plan = build_plan(vault, request, module.check_mode)
    if not module.check_mode:
        try:
            apply(vault, plan, request)
        except SeedError as exc:
            message = f"writing failed part way (the writes before it stay; a re-run converges): {exc}"
            raise SeedError(message, changed=True) from exc
    try:
        role_ids, secret_ids = approle_credentials(vault, plan, request, module.check_mode)
    except SeedError as exc:
        raise SeedError(exc.problems, changed=plan.changed and not module.check_mode) from exc
    return {
        "changed": plan.changed,
        "diff": plan.diff(),
        "role_ids": role_ids,
        "secret_ids": secret_ids,
        **plan.summary(),
    }


def _scalar_strings(value):
    """Every scalar in a data structure, as the string Ansible's no_log masking would look for."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for element in value:
            yield from _scalar_strings(element)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def mask_data_by_position(module):
    """The module_args to echo back, with each secrets[].data value replaced by the no_log mask.

    Ansible hides a no_log value wherever it occurs in the output, even inside other strings, so
    a short data value such as "1" or "app" would garble paths and role_ids in the result. The
    result never holds a data value (it names keys only), so the values are masked where they do
    occur, in the echoed module_args, and taken out of that search. The token stays in it.
    """
    module_args = copy.deepcopy(module.params)
    values = set()
    for item in module_args["secrets"]:
        if item["data"]:
            values.update(_scalar_strings(item["data"]))
            item["data"] = dict.fromkeys(item["data"], NO_LOG_MASK)
    module.no_log_values.difference_update(values - {module.params["token"]})
    return {"module_args": module_args}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if HVAC_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("hvac"), exception=HVAC_IMPORT_ERROR)
    invocation = mask_data_by_position(module)
    try:
        module.exit_json(invocation=invocation, **seed(module))
    except SeedError as exc:
        module.fail_json(msg=str(exc), errors=exc.problems, changed=exc.changed, invocation=invocation)
    except REQUEST_ERRORS as exc:
        module.fail_json(msg=f"Vault request failed: {exc}", invocation=invocation)


if __name__ == "__main__":
    main()
