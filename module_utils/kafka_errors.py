"""The one error type of the Kafka modules (kafka_topic, kafka_user) and their shared code."""


class KafkaModuleError(Exception):
    """One or more problems that stop the task, each naming what it concerns (a topic, a user,
    the connection), and whether anything had changed before they arose."""

    def __init__(self, problems, changed=False):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.changed = changed
        super().__init__("; ".join(self.problems))
