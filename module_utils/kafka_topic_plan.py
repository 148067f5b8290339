"""The kafka_topic module's decisions, free of any I/O: from the declared topics and the cluster's
state to the changes to make, the per-topic result and the --diff.

A topic's declared `config` lists topic-level overrides (the broker reports them with the source
DYNAMIC_TOPIC_CONFIG). A listed key is in sync when it is such an override with the same value,
compared as strings. With purge_unlisted_config, every other override is reset to the broker
default; broker-level and default values are never touched.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from ansible.module_utils.kafka_errors import KafkaModuleError

INTERNAL_PREFIX = "__"
# Kafka's own rule for topic names (org.apache.kafka.common.internals.Topic).
LEGAL_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
UNCHANGED = "unchanged"
ACTIONS = (CREATED, UPDATED, DELETED, UNCHANGED)


@dataclass
class DesiredTopic:
    name: str
    state: str = "present"
    partitions: int | None = None
    replication_factor: int | None = None
    config: dict = field(default_factory=dict)


@dataclass
class CurrentTopic:
    """An existing topic: its replicas per partition and its topic-level config overrides."""

    name: str
    assignment: dict
    config: dict

    @property
    def partitions(self):
        return len(self.assignment)

    @property
    def replication_factor(self):
        """Partition 0's replica count; every_partition_has() tells whether all partitions agree."""
        return len(self.assignment[min(self.assignment)]) if self.assignment else 0

    def every_partition_has(self, replication_factor):
        return all(len(replicas) == replication_factor for replicas in self.assignment.values())

    def state(self):
        return {"partitions": self.partitions, "replication_factor": self.replication_factor, "config": self.config}


@dataclass
class TopicPlan:
    """What one topic needs. Only the fields of the needed operations are set."""

    name: str
    action: str
    before: dict | None
    after: dict | None
    create: dict | None = None
    total_partitions: int | None = None
    config_set: dict = field(default_factory=dict)
    config_delete: list = field(default_factory=list)
    reassignment: dict = field(default_factory=dict)
    delete: bool = False

    @property
    def changed(self):
        return self.action != UNCHANGED

    def changes(self):
        """Human-readable lines of what changes, for the result."""
        if self.action in (CREATED, DELETED):
            return [self.action]
        lines = []
        if self.total_partitions is not None:
            lines.append(f"partitions {self.before['partitions']} -> {self.total_partitions}")
        if self.reassignment:
            lines.append(
                f"replication_factor {self.before['replication_factor']} -> {self.after['replication_factor']}"
            )
        lines += [f"config {key} set to {value!r}" for key, value in sorted(self.config_set.items())]
        lines += [f"config {key} reset to the broker default" for key in sorted(self.config_delete)]
        return lines

    def result(self):
        result = {"action": self.action, "state": "absent" if self.after is None else "present"}
        if self.after is not None:
            result.update(self.after)
        if self.changed:
            result["changes"] = self.changes()
        return result


def config_string(value):
    """Config values compare as the strings Kafka stores: booleans in lower case, lists (such as
    cleanup.policy: [compact, delete]) comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(config_string(element) for element in value)
    return str(value)


def parse_topics(items):
    """The declared topics, checked on their own (before the cluster is asked anything)."""
    problems = []
    seen = set()
    topics = []
    for item in items:
        name = item["name"]
        if name.startswith(INTERNAL_PREFIX):
            problems.append(f"topic {name}: names starting with '{INTERNAL_PREFIX}' are Kafka's internal topics")
        elif not LEGAL_NAME.match(name) or name in (".", ".."):
            problems.append(f"topic {name!r}: not a legal topic name (letters, digits, '.', '_', '-'; at most 249)")
        if name in seen:
            problems.append(f"topic {name}: listed more than once")
        seen.add(name)
        for option in ("partitions", "replication_factor"):
            if item.get(option) is not None and item[option] < 1:
                problems.append(f"topic {name}: {option} must be at least 1")
        config = item.get("config") or {}
        for key, value in config.items():
            if value is None:
                problems.append(f"topic {name}: config {key} has no value")
        topics.append(
            DesiredTopic(
                name=name,
                state=item.get("state") or "present",
                partitions=item.get("partitions"),
                replication_factor=item.get("replication_factor"),
                config={str(key): config_string(value) for key, value in config.items() if value is not None},
            )
        )
    if problems:
        raise KafkaModuleError(problems)
    return topics


def plan_topic(desired, current, brokers, purge_unlisted_config=False, allow_replication_factor_change=False):
    """The plan for one topic; raises KafkaModuleError naming the topic when the request cannot be met."""
    if desired.state == "absent":
        if current is None:
            return TopicPlan(desired.name, UNCHANGED, None, None)
        return TopicPlan(desired.name, DELETED, current.state(), None, delete=True)
    if current is None:
        return _plan_create(desired)
    return _plan_update(desired, current, brokers, purge_unlisted_config, allow_replication_factor_change)


def _plan_create(desired):
    # -1 asks the broker for its defaults (num.partitions, default.replication.factor); the
    # broker's validate-only answer fills in the real numbers before anything is reported.
    create = {
        "num_partitions": desired.partitions or -1,
        "replication_factor": desired.replication_factor or -1,
        "configs": dict(desired.config),
    }
    after = {
        "partitions": desired.partitions,
        "replication_factor": desired.replication_factor,
        "config": dict(sorted(desired.config.items())),
    }
    return TopicPlan(desired.name, CREATED, None, after, create=create)


def _plan_update(desired, current, brokers, purge, allow_rf_change):
    name = desired.name
    problems = []
    after = {
        "partitions": current.partitions,
        "replication_factor": current.replication_factor,
        "config": dict(current.config),
    }
    plan = TopicPlan(name, UPDATED, current.state(), after)

    if desired.partitions is not None and desired.partitions != current.partitions:
        if desired.partitions < current.partitions:
            problems.append(
                f"topic {name}: has {current.partitions} partitions, the task asks for {desired.partitions}; "
                "Kafka cannot remove partitions (delete and re-create the topic to have fewer)"
            )
        else:
            plan.total_partitions = desired.partitions
            after["partitions"] = desired.partitions

    wanted_rf = desired.replication_factor
    if wanted_rf is not None and not current.every_partition_has(wanted_rf):
        if not allow_rf_change:
            problems.append(
                f"topic {name}: replication factor is {current.replication_factor}, the task asks for "
                f"{wanted_rf}; set allow_replication_factor_change to reassign its replicas"
            )
        elif wanted_rf > len(brokers):
            problems.append(
                f"topic {name}: replication factor {wanted_rf} needs {wanted_rf} brokers, the cluster has "
                f"{len(brokers)} ({', '.join(map(str, brokers))})"
            )
        else:
            plan.reassignment = spread_replicas(current.assignment, wanted_rf, brokers)
            after["replication_factor"] = wanted_rf

    if problems:
        raise KafkaModuleError(problems)

    plan.config_set = {key: value for key, value in desired.config.items() if current.config.get(key) != value}
    if purge:
        plan.config_delete = sorted(key for key in current.config if key not in desired.config)
    config = {key: value for key, value in current.config.items() if key not in plan.config_delete}
    config.update(plan.config_set)
    after["config"] = dict(sorted(config.items()))

    if plan.total_partitions is None and not plan.reassignment and not plan.config_set and not plan.config_delete:
        plan.action = UNCHANGED
    return plan


def spread_replicas(assignment, replication_factor, brokers):
    """A new replica list per partition with replication_factor replicas, spread over brokers.

    Each partition keeps its current replicas where it can (no data moves needlessly) and its
    first replica, the preferred leader. Added replicas go to the broker holding the fewest
    replicas of this topic so far, ties rotating with the partition number; removed ones come off
    the busiest brokers. Returns only the partitions whose replica list changes.
    """
    brokers = sorted(brokers)
    load = Counter(broker for replicas in assignment.values() for broker in replicas)
    changed = {}
    for partition in sorted(assignment):
        replicas = list(assignment[partition])
        while len(replicas) > replication_factor:
            busiest = max(replicas[1:], key=lambda broker: (load[broker], broker))
            replicas.remove(busiest)
            load[busiest] -= 1
        while len(replicas) < replication_factor:
            candidates = [broker for broker in brokers if broker not in replicas]
            chosen = min(
                candidates,
                key=lambda broker: (load[broker], (brokers.index(broker) - partition) % len(brokers)),
            )
            replicas.append(chosen)
            load[chosen] += 1
        if replicas != list(assignment[partition]):
            changed[partition] = replicas
    return changed


def render_state(state):
    """A topic's state as diff text: one line per setting, so a diff shows exactly what moves."""
    if state is None:
        return "state: absent\n"
    lines = [f"partitions: {state['partitions']}", f"replication_factor: {state['replication_factor']}"]
    if state["config"]:
        lines.append("config:")
        lines += [f"  {key}: {value}" for key, value in sorted(state["config"].items())]
    else:
        lines.append("config: {}")
    return "\n".join(lines) + "\n"


def diff(plans):
    return [
        {
            "before_header": f"topic {plan.name}",
            "after_header": f"topic {plan.name}",
            "before": render_state(plan.before),
            "after": render_state(plan.after),
        }
        for plan in plans
        if plan.changed
    ]


def summary(plans):
    """The module's result: per topic, and one list of topic names per action."""
    result = {"topics": {plan.name: plan.result() for plan in plans}}
    for action in ACTIONS:
        result[action] = [plan.name for plan in plans if plan.action == action]
    return result
