"""The application's settings, all from the environment (AUTERITY_* variables). Passwords are
never among them: they come from Vault (auterity.vault)."""

import os
from dataclasses import dataclass

SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_SSL")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


def _text(environ, name, default=None):
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is not set")
    return default


def _number(environ, name, default, *, minimum=1, kind=int):
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is below {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    vault_addr: str
    vault_ca_file: str
    vault_approle_file: str
    vault_mount: str
    vault_redis_path: str
    vault_kafka_path: str
    redis_host: str
    redis_port: int
    redis_broker_db: int
    redis_result_db: int
    kafka_bootstrap: tuple
    kafka_security_protocol: str
    kafka_ca_file: str
    topic_workflow: str
    topic_error: str
    topic_audit: str
    beat_heartbeat_seconds: float
    visibility_timeout: int
    redbeat_lock_timeout: int
    soft_shutdown_seconds: float
    max_tasks_per_child: int

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        heartbeat = _number(env, "AUTERITY_BEAT_HEARTBEAT_SECONDS", 60.0, kind=float)
        settings = cls(
            vault_addr=_text(env, "AUTERITY_VAULT_ADDR").rstrip("/"),
            vault_ca_file=_text(env, "AUTERITY_VAULT_CA_FILE", ""),
            vault_approle_file=_text(env, "AUTERITY_VAULT_APPROLE_FILE"),
            vault_mount=_text(env, "AUTERITY_VAULT_MOUNT", "secret"),
            vault_redis_path=_text(env, "AUTERITY_VAULT_REDIS_PATH", "auterity/redis"),
            vault_kafka_path=_text(env, "AUTERITY_VAULT_KAFKA_PATH", ""),
            # Empty: the host and port that Vault keeps beside the password.
            redis_host=_text(env, "AUTERITY_REDIS_HOST", ""),
            redis_port=_number(env, "AUTERITY_REDIS_PORT", 0),
            redis_broker_db=_number(env, "AUTERITY_REDIS_BROKER_DB", 0, minimum=0),
            redis_result_db=_number(env, "AUTERITY_REDIS_RESULT_DB", 1, minimum=0),
            kafka_bootstrap=tuple(
                server.strip() for server in _text(env, "AUTERITY_KAFKA_BOOTSTRAP").split(",") if server.strip()
            ),
            kafka_security_protocol=_text(env, "AUTERITY_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            kafka_ca_file=_text(env, "AUTERITY_KAFKA_CA_FILE", ""),
            topic_workflow=_text(env, "AUTERITY_TOPIC_WORKFLOW", "workflow-events"),
            topic_error=_text(env, "AUTERITY_TOPIC_ERROR", "error-events"),
            topic_audit=_text(env, "AUTERITY_TOPIC_AUDIT", "audit-events"),
            beat_heartbeat_seconds=heartbeat,
            visibility_timeout=_number(env, "AUTERITY_VISIBILITY_TIMEOUT", 3600),
            # How long the lock of a scheduler that died keeps a standby one from taking over.
            redbeat_lock_timeout=_number(env, "AUTERITY_REDBEAT_LOCK_TIMEOUT", max(int(5 * heartbeat), 10)),
            soft_shutdown_seconds=_number(env, "AUTERITY_SOFT_SHUTDOWN_SECONDS", 30.0, minimum=0, kind=float),
            max_tasks_per_child=_number(env, "AUTERITY_MAX_TASKS_PER_CHILD", 100),
        )
        settings.check()
        return settings

    def check(self):
        if self.kafka_security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"AUTERITY_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol!r} is not one of "
                f"{', '.join(SECURITY_PROTOCOLS)}"
            )
        sasl = self.kafka_security_protocol == "SASL_SSL"
        if sasl != bool(self.vault_kafka_path):
            raise ConfigError(
                "AUTERITY_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs AUTERITY_VAULT_KAFKA_PATH (the Kafka login "
                "in Vault), and that path is only used with SASL_SSL: set both or neither"
            )
        ca_files = {"AUTERITY_VAULT_CA_FILE": self.vault_ca_file, "AUTERITY_KAFKA_CA_FILE": self.kafka_ca_file}
        for name, path in ca_files.items():
            if path and not os.access(path, os.R_OK):
                raise ConfigError(f"{name}={path}: no readable file there")
