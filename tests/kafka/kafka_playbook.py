"""Run kafka_topic and kafka_user through ansible-playbook the way a user does (see module_runner)."""

import functools

import module_runner

run_tasks = functools.partial(module_runner.run_tasks, play_name="kafka module run", timeout=600)


def kafka_topic_task(options, name="Manage Kafka topics", register="kafka_result", module="kafka_topic"):
    """One task of a Kafka module that saves its result even when it fails."""
    return {"name": name, module: options, "register": register, "ignore_errors": True}
