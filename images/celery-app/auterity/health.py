"""Healthcheck of the worker in this container: `python -m auterity.health`.

Pings the worker node celery@$HOSTNAME (the worker's default `--hostname celery@%h`) through
the broker; exits 0 when it answers pong, 1 otherwise. It reads the broker's password from
Vault like the application (and revokes that Vault token at once).
"""

import argparse
import os
import socket
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m auterity.health", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--destination",
        default=f"celery@{os.environ.get('HOSTNAME') or socket.gethostname()}",
        help="the worker node to ping (default: celery@$HOSTNAME)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    options = parser.parse_args(argv)
    try:
        from auterity.application import app  # noqa: PLC0415 - its errors are the check's answer
    except Exception as error:  # noqa: BLE001 - any failure to start is an unhealthy worker
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    try:
        replies = app.control.ping(destination=[options.destination], timeout=options.timeout)
    except Exception as error:  # noqa: BLE001 - the broker is unreachable
        print(f"unhealthy: cannot reach the broker: {error}", file=sys.stderr)
        return 1
    if any(reply.get(options.destination, {}).get("ok") == "pong" for reply in replies):
        print(f"{options.destination}: pong")
        return 0
    print(f"unhealthy: {options.destination} did not answer within {options.timeout:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
