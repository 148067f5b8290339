#!/usr/bin/python
"""Bring Kafka topics to a declared state: partitions, replication factor, config, presence."""

DOCUMENTATION = r"""
module: kafka_topic
short_description: Create, update and delete Kafka topics in one batched, validated task
description:
  - Makes the listed Kafka topics match their declaration through Kafka's admin API (no Kafka
    command-line tool, no JVM on the managed host).
  - Creates missing topics, raises partition counts, sets topic-level config overrides with
    incremental config changes (only the listed keys), changes the replication factor by
    reassigning replicas when allowed, and deletes topics declared C(absent).
  - Works in phases. It reads the listed topics, plans every change, and has the brokers validate
    all creations, partition increases and config changes in validate-only mode; only then does it
    change anything. An unknown config key or an invalid value in one topic therefore stops the
    task with nothing changed, naming the topic.
  - Each kind of operation is one request for all topics, so fifty topics take about as long as one.
  - Kafka's internal topics (names starting with C(__)) are never touched; a task naming one fails.
author:
  - Auterity platform team
requirements:
  - kafka-python >= 3.0 on the host that runs the module
extends_documentation_fragment:
  - kafka_connection
options:
  topics:
    description:
      - The topics to manage. Topics not listed are left alone.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Topic name. Names starting with C(__) (Kafka's internal topics) are refused.
        type: str
        required: true
      partitions:
        description:
          - Number of partitions. Can only grow; asking for fewer than the topic has fails, naming
            the topic, because Kafka cannot remove partitions.
          - When omitted, a new topic gets the broker's C(num.partitions) and an existing topic's
            count is left as it is.
        type: int
      replication_factor:
        description:
          - Number of replicas of each partition.
          - When omitted, a new topic gets the broker's C(default.replication.factor) and an
            existing topic's replicas are left as they are.
          - A change for an existing topic fails unless O(allow_replication_factor_change) is set.
        type: int
      config:
        description:
          - Topic-level config overrides, such as C(retention.ms) or C(cleanup.policy). Values
            are compared as strings (booleans as C(true)/C(false), lists joined with commas).
          - Only the listed keys are set. A key that is left out of the list later keeps its
            value, unless O(purge_unlisted_config) is set.
        type: dict
        default: {}
      state:
        description:
          - C(present) creates or updates the topic, C(absent) deletes it.
        type: str
        choices: [present, absent]
        default: present
  purge_unlisted_config:
    description:
      - Reset every topic-level override that a present topic has but its O(topics[].config)
        does not list to the broker default. Broker-level settings and defaults are never touched.
    type: bool
    default: false
  allow_replication_factor_change:
    description:
      - Allow changing the replication factor of existing topics. Replicas are then reassigned
        (spread over the brokers, keeping each partition's current replicas and preferred leader
        where possible) and the task waits until the reassignment has finished, at most
        O(reassignment_timeout) seconds.
      - A replication factor above the number of brokers fails, naming the topic.
    type: bool
    default: false
  reassignment_timeout:
    description:
      - Seconds to wait for a replica reassignment to finish. When they run out the task fails;
        the reassignment goes on in the cluster.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Reads and validates everything (the brokers' validate-only mode) and reports
      what would change, changing nothing.
  diff_mode:
    support: full
    description: Shows, per changed topic, its partitions, replication factor and config
      overrides before and after.
notes:
  - The replication factor of an existing topic is read from its partitions; a topic whose
    partitions have different replica counts counts as needing a change.
  - A failure while changing (after validation passed, for example a broker going away) leaves
    the changes made before it in place; a re-run converges.
"""

EXAMPLES = r"""
- name: Topics of the workflow engine
  kafka_topic:
    bootstrap_servers: ["kafka-1:9092", "kafka-2:9092", "kafka-3:9092"]
    topics:
      - name: workflow-events
        partitions: 6
        replication_factor: 3
        config:
          retention.ms: "604800000"
          cleanup.policy: delete
      - name: workflow-state
        partitions: 3
        replication_factor: 3
        config: {cleanup.policy: compact, min.insync.replicas: 2}

- name: Exactly these overrides, nothing else
  kafka_topic:
    bootstrap_servers: ["kafka-1:9094"]
    purge_unlisted_config: true
    topics:
      - name: workflow-events
        config: {retention.ms: "86400000"}

- name: Go from one replica to three
  kafka_topic:
    bootstrap_servers: ["kafka-1:9094"]
    allow_replication_factor_change: true
    reassignment_timeout: 1800
    topics:
      - name: workflow-events
        replication_factor: 3

- name: Remove an old topic
  kafka_topic:
    bootstrap_servers: ["kafka-1:9094"]
    topics:
      - name: legacy-events
        state: absent

- name: Over SASL_SSL with SCRAM
  kafka_topic:
    bootstrap_servers: ["kafka-1:9094"]
    security_protocol: SASL_SSL
    sasl_mechanism: SCRAM-SHA-512
    sasl_username: admin
    sasl_password: "{{ kafka_admin_password }}"
    ssl_ca_content: "{{ lookup('ansible.builtin.file', 'kafka-ca.pem') }}"
    topics:
      - name: workflow-events
        partitions: 6
"""

RETURN = r"""
topics:
  description:
    - Per listed topic, what the task did (C(created), C(updated), C(deleted) or C(unchanged);
      in check mode, what it would do), and the topic's state afterwards.
    - C(changes) lists the changes of a created, updated or deleted topic.
  returned: always
  type: dict
  sample:
    workflow-events:
      action: updated
      state: present
      partitions: 6
      replication_factor: 3
      config: {cleanup.policy: delete, retention.ms: "604800000"}
      changes: ["partitions 3 -> 6", "config retention.ms set to '604800000'"]
    legacy-events:
      action: deleted
      state: absent
      changes: [deleted]
created:
  description: Names of the topics created.
  returned: always
  type: list
  elements: str
  sample: [workflow-state]
updated:
  description: Names of the topics whose partitions, replicas or config changed.
  returned: always
  type: list
  elements: str
  sample: [workflow-events]
deleted:
  description: Names of the topics deleted.
  returned: always
  type: list
  elements: str
  sample: [legacy-events]
unchanged:
  description: Names of the topics that already matched (including absent topics that did not exist).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.kafka_cluster import (
    CONNECTION_OPTIONS,
    Cluster,
    KafkaError,
    run_module,
)
from ansible.module_utils.kafka_errors import KafkaModuleError
from ansible.module_utils.kafka_topic_plan import diff, parse_topics, plan_topic, summary

TOPIC_OPTIONS = {
    "name": {"type": "str", "required": True},
    "partitions": {"type": "int"},
    "replication_factor": {"type": "int"},
    "config": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}

ARGUMENT_SPEC = {
    "bootstrap_servers": {"type": "list", "elements": "str", "required": True},
    "topics": {"type": "list", "elements": "dict", "required": True, "options": TOPIC_OPTIONS},
    "purge_unlisted_config": {"type": "bool", "default": False},
    "allow_replication_factor_change": {"type": "bool", "default": False},
    "reassignment_timeout": {"type": "int", "default": 300},
    **CONNECTION_OPTIONS,
}


def plan_all(cluster, desired, params):
    """Every topic's plan; the problems of all topics are reported together."""
    current = cluster.read([topic.name for topic in desired])
    plans, problems = [], []
    for topic in desired:
        try:
            plans.append(
                plan_topic(
                    topic,
                    current.get(topic.name),
                    cluster.brokers,
                    purge_unlisted_config=params["purge_unlisted_config"],
                    allow_replication_factor_change=params["allow_replication_factor_change"],
                )
            )
        except KafkaModuleError as error:
            problems += error.problems
    if problems:
        raise KafkaModuleError(problems)
    return plans


def reconcile(module):
    params = module.params
    desired = parse_topics(params["topics"])
    if params["timeout"] < 1 or params["reassignment_timeout"] < 1:
        raise KafkaModuleError("timeout and reassignment_timeout must be at least 1 second")
    cluster = Cluster.connect(params["bootstrap_servers"], params, params["timeout"], params["reassignment_timeout"])
    try:
        plans = plan_all(cluster, desired, params)
        cluster.validate(plans)
        changed = any(plan.changed for plan in plans)
        if changed and not module.check_mode:
            try:
                cluster.apply(plans)
            except (KafkaModuleError, KafkaError) as error:
                raise KafkaModuleError(
                    f"changing the topics failed part way (the changes before it stay; a re-run converges): {error}",
                    changed=True,
                ) from error
    finally:
        cluster.close()
    result = {"changed": changed, **summary(plans)}
    if module._diff:
        result["diff"] = diff(plans)
    return result


def main():
    run_module(ARGUMENT_SPEC, reconcile)


if __name__ == "__main__":
    main()
