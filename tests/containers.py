"""What the tests' throwaway servers in containers share: the docker client, a free loopback
port, and the newest image the project built of a recipe."""

import json
import socket
import subprocess


def docker(*args, check=True, timeout=120):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def newest_image(repository):
    """The newest <repository>:<tag> on this engine, or None."""
    listing = docker("images", repository, "--format", "{{json .}}").stdout.splitlines()
    images = [json.loads(line) for line in listing]
    images = sorted((image for image in images if image["Tag"] != "<none>"), key=lambda image: image["CreatedAt"])
    return f"{repository}:{images[-1]['Tag']}" if images else None
