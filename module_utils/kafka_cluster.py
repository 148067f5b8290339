"""The Kafka modules' conversation with a Kafka cluster (kafka_topic, kafka_user), through
kafka-python's admin client: connection options, TLS and SASL settings, one run_module().

Every request is batched: one request per kind of operation for all the topics of the task. The
broker validates creations, partition increases and config changes in validate-only mode first
(Cluster.validate), so that a bad value in one topic stops the task before anything changes.
"""

import logging
import os
import re
import ssl
import tempfile
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.kafka_errors import KafkaModuleError
from ansible.module_utils.kafka_topic_plan import CurrentTopic

try:
    import kafka.errors as kafka_errors
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.structs import TopicPartition
except ImportError:
    KAFKA_IMPORT_ERROR = traceback.format_exc()
    KafkaError = Exception
else:
    KAFKA_IMPORT_ERROR = None
    KafkaError = kafka_errors.KafkaError
    FATAL_CONNECTION_ERRORS = (
        kafka_errors.SaslAuthenticationFailedError,
        kafka_errors.UnsupportedSaslMechanismError,
        kafka_errors.IllegalSaslStateError,
        kafka_errors.AuthorizationError,
    )
    # The client logs its retries; the module reports failures itself, in its result.
    logging.getLogger("kafka").addHandler(logging.NullHandler())
    logging.getLogger("kafka").propagate = False

# The connection options of the Kafka modules (kafka_topic, kafka_user) and their rules.
CONNECTION_OPTIONS = {
    "timeout": {"type": "int", "default": 30},
    "security_protocol": {
        "type": "str",
        "choices": ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
        "default": "PLAINTEXT",
    },
    "sasl_mechanism": {"type": "str", "choices": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]},
    "sasl_username": {"type": "str"},
    "sasl_password": {"type": "str", "no_log": True},
    "ssl_cafile": {"type": "path"},
    "ssl_ca_content": {"type": "str"},
    "ssl_certfile": {"type": "path"},
    "ssl_cert_content": {"type": "str"},
    "ssl_keyfile": {"type": "path"},
    "ssl_key_content": {"type": "str", "no_log": True},
    "ssl_key_password": {"type": "str", "no_log": True},
    "ssl_check_hostname": {"type": "bool", "default": True},
}
SASL_SETTINGS = ("sasl_mechanism", "sasl_username", "sasl_password")
CONNECTION_RULES = {
    "mutually_exclusive": [
        ("ssl_cafile", "ssl_ca_content"),
        ("ssl_certfile", "ssl_cert_content"),
        ("ssl_keyfile", "ssl_key_content"),
    ],
    "required_if": [
        ("security_protocol", "SASL_PLAINTEXT", SASL_SETTINGS),
        ("security_protocol", "SASL_SSL", SASL_SETTINGS),
    ],
}


def run_module(argument_spec, reconcile):
    """The Kafka modules' main(): parse the arguments (with the connection rules), run
    reconcile(module) and report its result, or the module's error with its problems."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **CONNECTION_RULES)
    if KAFKA_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("kafka-python"), exception=KAFKA_IMPORT_ERROR)
    try:
        module.exit_json(**reconcile(module))
    except KafkaModuleError as error:
        module.fail_json(msg=str(error), errors=error.problems, changed=error.changed)
    except KafkaError as error:
        module.fail_json(msg=f"Kafka request failed: {error}")


DYNAMIC_TOPIC_CONFIG = "DYNAMIC_TOPIC_CONFIG"
CONNECT_RETRY_INTERVAL = 1.0
BOOTSTRAP_ROUND = 5.0
POLL_INTERVAL = 0.2
CONFIG_ERROR = re.compile(r"^\[Error -?\d+\] (?P<error>\w+): (?P<message>.*)$", re.S)


def ssl_context(options):
    """The TLS settings as one SSLContext, so that PEM content needs no file on the managed host
    beyond the moment the certificate chain is loaded."""
    context = ssl.create_default_context(cafile=options.get("ssl_cafile"), cadata=options.get("ssl_ca_content"))
    context.check_hostname = options.get("ssl_check_hostname", True)
    certfile, keyfile = options.get("ssl_certfile"), options.get("ssl_keyfile")
    cert_content, key_content = options.get("ssl_cert_content"), options.get("ssl_key_content")
    if not (certfile or cert_content):
        return context
    # load_cert_chain reads files only: content goes to a private directory for that call.
    with tempfile.TemporaryDirectory(prefix="kafka_topic_") as private:
        if cert_content:
            certfile = _private_file(private, "cert.pem", cert_content)
        if key_content:
            keyfile = _private_file(private, "key.pem", key_content)
        context.load_cert_chain(certfile, keyfile, options.get("ssl_key_password"))
    return context


def _private_file(directory, name, content):
    path = os.path.join(directory, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(content)
    return path


def client_options(options):
    """kafka-python's settings for the module's security options."""
    protocol = options.get("security_protocol") or "PLAINTEXT"
    settings = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        settings.update(
            sasl_mechanism=options["sasl_mechanism"],
            sasl_plain_username=options["sasl_username"],
            sasl_plain_password=options["sasl_password"],
        )
    if protocol.endswith("SSL"):
        settings["ssl_context"] = ssl_context(options)
    return settings


class ConnectionProblems(logging.Handler):
    """While connecting: why connections failed. kafka-python retries a failed bootstrap
    connection until its timeout and only logs the reason (the exception is among the log
    record's arguments); the module wants to report it, and to stop at once on a problem that
    retrying cannot solve: a refused login, an untrusted certificate."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.last = None
        self.fatal = None

    def emit(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        for error in (arg for arg in args if isinstance(arg, BaseException)):
            if isinstance(error, kafka_errors.KafkaTimeoutError):
                continue  # the bootstrap giving up: the reason is the error before it
            # KafkaError's text starts with its class name already.
            self.last = str(error) if isinstance(error, KafkaError) else f"{type(error).__name__}: {error}"
            if self.fatal is None and _is_fatal(error):
                self.fatal = self.last

    def __enter__(self):
        logging.getLogger("kafka").addHandler(self)
        return self

    def __exit__(self, *exc_info):
        logging.getLogger("kafka").removeHandler(self)


def _is_fatal(error):
    if isinstance(error, FATAL_CONNECTION_ERRORS):
        return True
    # A TLS verification failure arrives wrapped in a KafkaConnectionError ("Handshake failed").
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(error)


class Cluster:
    """An admin connection and the time bounds the module keeps to: `timeout` for reaching the
    cluster and for each request, `reassignment_timeout` for replicas to move."""

    def __init__(self, admin, timeout, reassignment_timeout):
        self.admin = admin
        self.timeout = timeout
        self.reassignment_timeout = reassignment_timeout
        self.brokers = []

    @classmethod
    def connect(cls, servers, options, timeout, reassignment_timeout):
        """Connect, retrying while the cluster is still starting (brokers not listening yet, no
        broker registered, no controller) until `timeout` seconds have passed; then fail naming
        the servers. A refused login or an untrusted certificate fails at once."""
        try:
            settings = client_options(options)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise KafkaModuleError(f"the TLS settings cannot be used: {error}") from error
        where = ", ".join(servers)
        deadline = time.monotonic() + timeout
        last_problem = "no answer"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaModuleError(f"cannot reach the Kafka cluster at {where} within {timeout} s: {last_problem}")
            with ConnectionProblems() as problems:
                try:
                    admin = KafkaAdminClient(
                        bootstrap_servers=list(servers),
                        client_id="ansible-kafka_topic",
                        # In short rounds, so that a fatal problem stops the task early.
                        bootstrap_timeout_ms=int(min(remaining, BOOTSTRAP_ROUND) * 1000),
                        request_timeout_ms=timeout * 1000,
                        **settings,
                    )
                except KafkaError as error:
                    if problems.fatal or not getattr(error, "retriable", False):
                        raise KafkaModuleError(
                            f"cannot connect to the Kafka cluster at {where}: {problems.fatal or error}"
                        ) from error
                    last_problem = problems.last or str(error)
                    admin = None
            if admin is not None:
                cluster = cls(admin, timeout, reassignment_timeout)
                last_problem = cluster._ready()
                if last_problem is None:
                    return cluster
                admin.close()
            time.sleep(min(CONNECT_RETRY_INTERVAL, max(0.0, deadline - time.monotonic())))

    def _ready(self):
        """None when the cluster can take admin requests, else what it is still waiting for."""
        try:
            description = self.admin.describe_cluster()
        except KafkaError as error:
            return str(error)
        self.brokers = sorted(broker["broker_id"] for broker in description["brokers"] if not broker.get("is_fenced"))
        if not self.brokers:
            return "no broker is registered yet"
        if description.get("controller_id", -1) < 0:
            return "no controller is available yet"
        return None

    def close(self):
        self.admin.close()

    @property
    def timeout_ms(self):
        return self.timeout * 1000

    # -- reading ----------------------------------------------------------------------------

    def read(self, names):
        """The listed topics that exist, by name, with their topic-level config overrides."""
        existing = {}
        for topic in self.admin.describe_topics(list(names)):
            error = kafka_errors.for_code(topic["error_code"])
            if error is kafka_errors.UnknownTopicOrPartitionError:
                continue
            if error is not kafka_errors.NoError:
                raise KafkaModuleError(f"topic {topic['name']}: cannot describe it: {error.__name__}")
            assignment = {part["partition_index"]: list(part["replica_nodes"]) for part in topic["partitions"]}
            existing[topic["name"]] = CurrentTopic(topic["name"], assignment, {})
        if existing:
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in existing]
            described = self.admin.describe_configs(resources, config_filter="all").get("topic", {})
            for name, topic in existing.items():
                topic.config = {
                    key: entry["value"]
                    for key, entry in described.get(name, {}).items()
                    if entry["config_source"] == DYNAMIC_TOPIC_CONFIG
                }
        return existing

    # -- validating -------------------------------------------------------------------------

    def validate(self, plans):
        """Ask the brokers to validate every change without making it; raise all problems at once.

        Creations are validated with CreateTopics, partition increases with CreatePartitions and
        config changes with IncrementalAlterConfigs, each in validate-only mode. Creations come
        back with the partition count and replication factor the broker would use, which
        complete the plans of topics declared without them.
        """
        problems = []
        creates = {plan.name: plan for plan in plans if plan.create}
        if creates:
            response = self.admin.create_topics(
                {name: plan.create for name, plan in creates.items()},
                timeout_ms=self.timeout_ms,
                validate_only=True,
                raise_errors=False,
            )
            for topic in response["topics"]:
                problem = _topic_problem(topic["name"], topic["error_code"], topic.get("error_message"))
                if problem:
                    problems.append(problem)
                    continue
                after = creates[topic["name"]].after
                after["partitions"] = topic["num_partitions"]
                after["replication_factor"] = topic["replication_factor"]
        partitions = {plan.name: plan.total_partitions for plan in plans if plan.total_partitions}
        if partitions:
            problems += self._create_partitions(partitions, validate_only=True)
        configs = [plan for plan in plans if plan.config_set or plan.config_delete]
        if configs:
            problems += self._alter_configs(configs, validate_only=True)
        reassigned = [plan.name for plan in plans if plan.reassignment]
        if reassigned:
            problems += self._reassignments_in_progress(reassigned)
        if problems:
            raise KafkaModuleError(problems)

    def _reassignments_in_progress(self, names):
        # All of the cluster's reassignments: an empty partition list would ask for none.
        ongoing = self.admin.list_partition_reassignments(timeout_ms=self.timeout_ms)
        busy = sorted({partition.topic for partition in ongoing} & set(names))
        return [f"topic {name}: a partition reassignment is already in progress; re-run when it ends" for name in busy]

    # -- changing ---------------------------------------------------------------------------

    def apply(self, plans):
        """Make the changes of validated plans: creations, configs, replicas, partitions, deletions.

        Replicas are reassigned before partitions are added, so that new partitions get the new
        replication factor from the broker.
        """
        creates = {plan.name: plan.create for plan in plans if plan.create}
        if creates:
            response = self.admin.create_topics(creates, timeout_ms=self.timeout_ms, raise_errors=False)
            _raise_topic_problems((t["name"], t["error_code"], t.get("error_message")) for t in response["topics"])
            # The next task (or run) must find the new topics in the metadata.
            self.admin.wait_for_topics(list(creates), timeout_ms=self.timeout_ms)
        configs = [plan for plan in plans if plan.config_set or plan.config_delete]
        if configs:
            _raise_problems(self._alter_configs(configs, validate_only=False))
        reassignments = {
            TopicPartition(plan.name, partition): replicas
            for plan in plans
            for partition, replicas in plan.reassignment.items()
        }
        if reassignments:
            self._reassign(reassignments)
        partitions = {plan.name: plan.total_partitions for plan in plans if plan.total_partitions}
        if partitions:
            _raise_problems(self._create_partitions(partitions, validate_only=False))
        deletes = [plan.name for plan in plans if plan.delete]
        if deletes:
            response = self.admin.delete_topics(deletes, timeout_ms=self.timeout_ms, raise_errors=False)
            _raise_topic_problems((t["name"], t["error_code"], t.get("error_message")) for t in response["topics"])
            self._wait_until_gone(deletes)

    def _create_partitions(self, partitions, validate_only):
        response = self.admin.create_partitions(
            partitions, timeout_ms=self.timeout_ms, validate_only=validate_only, raise_errors=False
        )
        return [
            problem
            for result in response.results
            if (problem := _topic_problem(result.name, result.error_code, result.error_message))
        ]

    def _alter_configs(self, plans, validate_only):
        resources = []
        for plan in plans:
            changes = {key: (AlterConfigOp.SET, value) for key, value in plan.config_set.items()}
            changes.update({key: (AlterConfigOp.DELETE, None) for key in plan.config_delete})
            resources.append(ConfigResource(ConfigResourceType.TOPIC, plan.name, changes))
        # raise_on_unknown=False: the broker itself judges the keys, in the same answer.
        results = self.admin.alter_configs(
            resources, validate_only=validate_only, raise_on_unknown=False, incremental=True
        ).get("topic", {})
        return [
            f"topic {name}: {_config_problem(result)}" for name, result in sorted(results.items()) if result != "OK"
        ]

    def _reassign(self, reassignments):
        results = self.admin.alter_partition_reassignments(reassignments, timeout_ms=self.timeout_ms)
        failed = sorted(
            f"topic {partition.topic} partition {partition.partition}: {error.__name__}"
            for partition, error in results.items()
            if error is not None
        )
        if failed:
            raise KafkaModuleError(failed)
        self._wait_for_reassignments(reassignments)

    def _wait_for_reassignments(self, reassignments):
        """Wait until the controller reports none of the partitions as still reassigning."""
        topics = {}
        for partition in reassignments:
            topics.setdefault(partition.topic, []).append(partition.partition)
        deadline = time.monotonic() + self.reassignment_timeout
        while True:
            ongoing = self.admin.list_partition_reassignments(topics, timeout_ms=self.timeout_ms)
            if not ongoing:
                return
            if time.monotonic() >= deadline:
                names = ", ".join(sorted({f"{p.topic}/{p.partition}" for p in ongoing}))
                raise KafkaModuleError(
                    f"replica reassignment still running after {self.reassignment_timeout} s for {names}; "
                    "it goes on in the cluster, re-run the task when it ends",
                    changed=True,
                )
            time.sleep(POLL_INTERVAL)

    def _wait_until_gone(self, names):
        """Deleted topics leave the metadata shortly after; a re-creation right away would fail."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            described = self.admin.describe_topics(names)
            if all(topic["error_code"] == kafka_errors.UnknownTopicOrPartitionError.errno for topic in described):
                return
            time.sleep(POLL_INTERVAL)


def _topic_problem(name, error_code, message):
    error = kafka_errors.for_code(error_code)
    if error is kafka_errors.NoError:
        return None
    return f"topic {name}: {message or error.description} ({error.__name__})"


def _config_problem(result):
    """kafka-python words config errors as '[Error 40] InvalidConfigurationError: <broker message>';
    put them like the other problems: the broker's message, then the error's name."""
    match = CONFIG_ERROR.match(result)
    return f"{match['message']} ({match['error']})" if match else result


def _raise_topic_problems(results):
    _raise_problems([problem for result in results if (problem := _topic_problem(*result))])


def _raise_problems(problems):
    if problems:
        raise KafkaModuleError(problems, changed=True)
