#!/usr/bin/python
"""Bring the SCRAM users of a Kafka cluster to a declared state."""

DOCUMENTATION = r"""
module: kafka_user
short_description: Create and delete Kafka SCRAM users
description:
  - Makes the listed users' SCRAM credentials match their declaration through Kafka's admin API
    (no Kafka command-line tool, so no password on any command line).
  - A user declared C(present) gets a credential for O(mechanism) when it has none. An existing
    credential is kept, since Kafka stores only a salted hash that cannot be compared with a
    password; O(update_password=always) sets it again on every run.
  - A user declared C(absent) loses its credential for O(mechanism).
  - Every change is one request for all users.
author:
  - Auterity platform team
requirements:
  - kafka-python >= 3.0 on the host that runs the module
extends_documentation_fragment:
  - kafka_connection
options:
  users:
    description:
      - The users, each with C(name), C(password) (needed to create it) and C(state).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - User name (the SASL principal).
        type: str
        required: true
      password:
        description:
          - Password of a C(present) user.
        type: str
      state:
        description:
          - C(present) or C(absent).
        type: str
        choices: [present, absent]
        default: present
  mechanism:
    description:
      - The SCRAM mechanism the credentials are for.
    type: str
    choices: [SCRAM-SHA-256, SCRAM-SHA-512]
    default: SCRAM-SHA-512
  iterations:
    description:
      - SCRAM iterations of a new credential (Kafka accepts 4096 and more).
    type: int
    default: 8192
  update_password:
    description:
      - C(on_create) sets a password only for a user without a credential; C(always) sets it on
        every run (and so always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
attributes:
  check_mode:
    support: full
    description: Reads the users and reports what would change, changing nothing.
  diff_mode:
    support: full
    description: Shows the users that have a credential for O(mechanism) before and after (names only).
"""

EXAMPLES = r"""
- name: Users of the SASL listener
  kafka_user:
    bootstrap_servers: ["kafka-1:9092"]
    users:
      - name: auterity
        password: "{{ kafka_auterity_password }}"
      - name: retired-service
        state: absent
  no_log: true
"""

RETURN = r"""
users:
  description: Per user, what was done - created, updated, deleted or unchanged.
  returned: always
  type: dict
  sample: {"auterity": "created", "retired-service": "unchanged"}
"""

import contextlib

from ansible.module_utils.kafka_cluster import (
    CONNECTION_OPTIONS,
    Cluster,
    run_module,
)
from ansible.module_utils.kafka_errors import KafkaModuleError

with contextlib.suppress(ImportError):  # reported through KAFKA_IMPORT_ERROR
    from kafka.admin import ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion

USER_OPTIONS = {
    "name": {"type": "str", "required": True},
    "password": {"type": "str", "no_log": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}

ARGUMENT_SPEC = {
    "bootstrap_servers": {"type": "list", "elements": "str", "required": True},
    "users": {"type": "list", "elements": "dict", "required": True, "options": USER_OPTIONS},
    "mechanism": {"type": "str", "choices": ["SCRAM-SHA-256", "SCRAM-SHA-512"], "default": "SCRAM-SHA-512"},
    "iterations": {"type": "int", "default": 8192},
    "update_password": {"type": "str", "choices": ["on_create", "always"], "default": "on_create"},
    **CONNECTION_OPTIONS,
}


def validate(params):
    """Every problem of the declaration, before the cluster is asked anything."""
    problems = []
    names = [user["name"] for user in params["users"]]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"user {name!r} is listed more than once")
    for user in params["users"]:
        if not user["name"]:
            problems.append("a user has an empty name")
        elif user["state"] == "present" and not user["password"]:
            problems.append(f"user {user['name']!r} is present but has no password")
    if params["iterations"] < 4096:
        problems.append(f"iterations must be at least 4096 (is {params['iterations']})")
    if problems:
        raise KafkaModuleError(problems)


def plan(users, holders, update_password):
    """What to do per user, given the names that hold a credential for the mechanism."""
    actions = {}
    for user in users:
        has = user["name"] in holders
        if user["state"] == "absent":
            actions[user["name"]] = "deleted" if has else "unchanged"
        elif not has:
            actions[user["name"]] = "created"
        else:
            actions[user["name"]] = "updated" if update_password == "always" else "unchanged"
    return actions


def reconcile(module):
    params = module.params
    validate(params)
    if params["timeout"] < 1:
        raise KafkaModuleError("timeout must be at least 1 second")
    mechanism = ScramMechanism[params["mechanism"].replace("-", "_")]
    cluster = Cluster.connect(params["bootstrap_servers"], params, params["timeout"], params["timeout"])
    try:
        described = cluster.admin.describe_user_scram_credentials([user["name"] for user in params["users"]])
        holders = {
            name
            for name, info in described.items()
            if not info.get("error") and any(cred["mechanism"] == mechanism for cred in info["credential_infos"])
        }
        actions = plan(params["users"], holders, params["update_password"])
        changed = any(action != "unchanged" for action in actions.values())
        if changed and not module.check_mode:
            alterations = []
            for user in params["users"]:
                action = actions[user["name"]]
                if action == "deleted":
                    alterations.append(UserScramCredentialDeletion(user["name"], mechanism))
                elif action in ("created", "updated"):
                    alterations.append(
                        UserScramCredentialUpsertion(
                            user["name"], mechanism, user["password"], iterations=params["iterations"]
                        )
                    )
            errors = {
                name: error for name, error in cluster.admin.alter_user_scram_credentials(alterations).items() if error
            }
            if errors:
                raise KafkaModuleError(
                    [f"user {name!r}: {error}" for name, error in sorted(errors.items())], changed=True
                )
    finally:
        cluster.close()
    result = {"changed": changed, "users": actions}
    if module._diff:
        after = {name for name, action in actions.items() if action in ("created", "updated")} | (
            holders - {name for name, action in actions.items() if action == "deleted"}
        )
        result["diff"] = {"before": {"users": sorted(holders)}, "after": {"users": sorted(after)}}
    return result


def main():
    run_module(ARGUMENT_SPEC, reconcile)


if __name__ == "__main__":
    main()
