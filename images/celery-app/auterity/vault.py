"""The passwords the application needs, read from Vault (OpenBao) with an AppRole login.

The token is revoked as soon as the secrets are read: nothing else is asked of Vault, and a
healthcheck that runs every few seconds would otherwise leave a token behind each time.
"""

import logging
from dataclasses import dataclass, field

import hvac
import hvac.exceptions
import requests

from auterity.config import ConfigError

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


class VaultError(Exception):
    """Vault could not be reached, refused the login, or lacks a secret; the message says which."""


@dataclass(frozen=True)
class Secrets:
    redis_password: str = field(repr=False)
    redis_host: str = ""
    redis_port: int = 0
    kafka_username: str = ""
    kafka_password: str = field(default="", repr=False)
    kafka_mechanism: str = ""


def read_approle_file(path):
    """(role_id, secret_id) from lines VAULT_ROLE_ID=... and VAULT_SECRET_ID=...; other lines are ignored."""
    try:
        with open(path, encoding="utf-8") as approle:
            lines = approle.read().splitlines()
    except OSError as error:
        raise ConfigError(f"AUTERITY_VAULT_APPROLE_FILE={path}: cannot read it ({error.strerror})") from None
    values = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    missing = [key for key in ("VAULT_ROLE_ID", "VAULT_SECRET_ID") if not values.get(key)]
    if missing:
        raise ConfigError(f"AUTERITY_VAULT_APPROLE_FILE={path} has no {' or '.join(missing)} line")
    return values["VAULT_ROLE_ID"], values["VAULT_SECRET_ID"]


def _read(client, settings, variable, path, keys):
    try:
        data = client.secrets.kv.v2.read_secret_version(
            mount_point=settings.vault_mount, path=path, raise_on_deleted_version=True
        )["data"]["data"]
    except hvac.exceptions.InvalidPath:
        raise VaultError(f"no secret at {settings.vault_mount}/{path} in Vault ({variable})") from None
    except hvac.exceptions.Forbidden:
        raise VaultError(
            f"the AppRole's policy may not read {settings.vault_mount}/{path} in Vault ({variable})"
        ) from None
    missing = [key for key in keys if not str(data.get(key, ""))]
    if missing:
        raise VaultError(f"the secret {settings.vault_mount}/{path} ({variable}) has no {', '.join(missing)}")
    return data


def read_secrets(settings):
    role_id, secret_id = read_approle_file(settings.vault_approle_file)
    client = hvac.Client(url=settings.vault_addr, verify=settings.vault_ca_file or True, timeout=TIMEOUT_SECONDS)
    try:
        client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden) as error:
        raise VaultError(
            f"Vault at {settings.vault_addr} refused the AppRole login with the role_id and secret_id of "
            f"{settings.vault_approle_file} (AUTERITY_VAULT_APPROLE_FILE): {error}"
        ) from None
    except (requests.RequestException, hvac.exceptions.VaultError) as error:
        raise VaultError(f"cannot log in to Vault at {settings.vault_addr} (AUTERITY_VAULT_ADDR): {error}") from None
    try:
        redis = _read(client, settings, "AUTERITY_VAULT_REDIS_PATH", settings.vault_redis_path, ["password"])
        kafka = {}
        if settings.vault_kafka_path:
            kafka = _read(
                client, settings, "AUTERITY_VAULT_KAFKA_PATH", settings.vault_kafka_path, ["username", "password"]
            )
    except requests.RequestException as error:
        raise VaultError(f"reading secrets from Vault at {settings.vault_addr} failed: {error}") from None
    finally:
        try:
            client.auth.token.revoke_self()
        except (requests.RequestException, hvac.exceptions.VaultError) as error:
            log.warning("could not revoke the Vault token after reading the secrets: %s", error)
    try:
        redis_port = int(redis.get("port") or 0)
    except ValueError:
        raise VaultError(
            f"the secret at AUTERITY_VAULT_REDIS_PATH has a port that is not a number: {redis['port']!r}"
        ) from None
    return Secrets(
        redis_password=str(redis["password"]),
        redis_host=str(redis.get("host", "")),
        redis_port=redis_port,
        kafka_username=str(kafka.get("username", "")),
        kafka_password=str(kafka.get("password", "")),
        kafka_mechanism=str(kafka.get("mechanism") or "SCRAM-SHA-512"),
    )
