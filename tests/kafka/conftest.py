"""Fixtures for the kafka_topic tests: one real broker for the session, a runner for the module,
and an admin client of the tests' own that checks the broker's state independently of it.

Every test works on topics named after its own random prefix, so the tests stay independent
while sharing the broker.
"""

import itertools
import secrets

import kafka_broker
import pytest
from kafka_playbook import kafka_topic_task, run_tasks


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    started = kafka_broker.start(tmp_path_factory.mktemp("kafka"), secure=True)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def admin(broker):
    client = broker.admin()
    yield client
    client.close()


@pytest.fixture
def uid():
    """A prefix unique to the test, for its topic names."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def topic_state(admin):
    """A topic's (partitions, replication_factor, config overrides), or None when it does not exist."""
    return lambda name: kafka_broker.topic_state(admin, name)


@pytest.fixture
def kafka_topic(broker, tmp_path):
    """Run one kafka_topic task through ansible-playbook; returns the PlaybookRun with its result.

    Module options are keyword arguments; bootstrap_servers defaults to the session's broker.
    """
    return module_run(broker, tmp_path, "kafka_topic")


@pytest.fixture
def kafka_user(broker, tmp_path):
    """Run one kafka_user task, like kafka_topic above."""
    return module_run(broker, tmp_path, "kafka_user")


def module_run(broker, tmp_path, module):
    runs = itertools.count()

    def run(*, check=False, diff=False, verbose=False, **options):
        options.setdefault("bootstrap_servers", [broker.bootstrap])
        flags = [flag for flag, wanted in (("--check", check), ("--diff", diff), ("-vvv", verbose)) if wanted]
        task = kafka_topic_task(options, module=module)
        return run_tasks(tmp_path / f"{module}{next(runs)}", [task], flags, register="kafka_result")

    return run
