#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of the stack's service step (the stack_service action plugin): what a
service's directories, files and container look like, in one call; writing the directories
and files that differ; waiting for the container's own healthcheck."""

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_service_host
short_description: Read, write and wait for one stack service's directories, files and container
description:
  - The host side of the C(stack_service) action plugin of the stack role, which renders
    everything on the controller and calls this module once to read the host (O(state=query)),
    once to write what differs (O(state=present)) and once to wait for the container
    (O(wait_healthy)).
  - Talks to Docker Engine through its UNIX socket with the Python standard library only.
options:
  state:
    description:
      - V(query) reads each path (type, mode, owner, group, sha256 of files) and the container.
      - V(present) makes each directory and writes each file given with content, through a
        staged copy that O(files[].validate) checks first.
      - V(survey) reads, in one call for every service of the host, every directory and file
        under O(roots) (as V(query) reads a path), the engine's image tags and the stack's
        containers and networks (O(stack_label)). A service's step then asks the host only for
        what differs.
      - V(absent) removes the containers of O(remove) (stopped side by side, each within its
        own stop timeout, then removed), and with O(remove_data) its volumes and paths too.
    type: str
    choices: [query, present, survey, absent]
    default: query
  directories:
    description: Directories of the service.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: path, required: true}
      mode: {description: Octal mode., type: str, required: true}
      owner: {description: Numeric uid., type: int, required: true}
      group: {description: Numeric gid., type: int, required: true}
  files:
    description: Files of the service.
    type: list
    elements: dict
    default: []
    suboptions:
      dest: {description: Absolute path., type: path, required: true}
      mode: {description: Octal mode., type: str, required: true}
      owner: {description: Numeric uid., type: int, required: true}
      group: {description: Numeric gid., type: int, required: true}
      content_base64:
        description: The content to write (O(state=present)); never logged.
        type: str
      validate:
        description: Command that checks the staged file before it replaces O(files[].dest); C(%s) is its path.
        type: str
      private:
        description: The file holds a secret; a failed check's output, which may quote it, is not returned.
        type: bool
        default: false
      return_content:
        description: With O(state=query), return the file's current text (for a diff; never set for a secret).
        type: bool
        default: false
  container:
    description: Name of the service's container to inspect; empty for none.
    type: str
    default: ""
  docker_socket:
    description: Docker Engine's UNIX socket.
    type: path
    default: /var/run/docker.sock
  wait_healthy:
    description: Seconds to wait for O(container) to report healthy (0 does not wait).
    type: int
    default: 0
  roots:
    description: With O(state=survey), the directories read recursively (symbolic links are not followed).
    type: list
    elements: path
    default: []
  stack_label:
    description: With O(state=survey) or O(settle), the V(key=value) label of the stack's containers.
    type: str
    default: ""
  remove:
    description: With O(state=absent), what to remove, in this order.
    type: dict
    default: {}
    suboptions:
      containers: {description: Container names., type: list, elements: str, default: []}
      volumes: {description: Named volumes (O(remove_data) only)., type: list, elements: str, default: []}
      paths:
        description: Files and directories, removed whole (O(remove_data) only).
        type: list
        elements: path
        default: []
  remove_data:
    description: With O(state=absent), remove the volumes and paths of O(remove) as well.
    type: bool
    default: false
  settle:
    description:
      - Seconds to wait until none of the stack's containers (O(stack_label)) is still starting
        by Docker's own healthcheck, which runs one interval after the start, later than the
        service's step found it healthy by running the same check (0 does not wait). Returns
        C(containers), each one's state and health.
    type: int
    default: 0
author: Auterity
"""

EXAMPLES = r"""
- name: What the host has of Redis
  stack_service_host:
    directories: [{path: /opt/auterity/redis, mode: "0750", owner: 999, group: 999}]
    files: [{dest: /opt/auterity/redis/redis.conf, mode: "0600", owner: 999, group: 999}]
    container: redis
"""

RETURN = r"""
paths:
  description: Per path, what is there (O(state=query)).
  returned: always
  type: dict
container:
  description: The container (exists, running, health, config hash label, networks, image id).
  returned: when O(container) is set
  type: dict
written:
  description: Paths created or rewritten, or whose mode or owner was set (O(state=present)).
  returned: always
  type: list
removed:
  description: With O(state=absent), what was removed (or would be, in check mode) of O(remove).
  returned: when O(state=absent)
  type: dict
  sample: {containers: [redis], volumes: [redis-data], paths: [/opt/auterity/redis]}
containers:
  description: With O(settle), each of the stack's containers by name, with its state and health.
  returned: when O(settle) is set
  type: dict
engine:
  description: >-
    With O(state=survey): whether Docker Engine answered (C(ready)), its error otherwise, each
    image tag with its image id (C(images)), each of the stack's containers by name with
    its config hash label, whether it runs healthy and its networks (C(containers)), and each
    of the stack's networks by name with its driver and labels (C(networks)).
  returned: when O(state=survey)
  type: dict
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

CONFIG_HASH_LABEL = "org.auterity.config-hash"


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to Docker Engine over its UNIX socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def container_data(socket_path, name):
    """`docker inspect` of the container, or None when there is none."""
    try:
        return engine_call(socket_path, "GET", f"/containers/{urllib.parse.quote(name)}/json")
    except ContainerMissing:
        return None


def inspect_container(socket_path, name, data=None):
    """The parts of `docker inspect` that decide whether a container is current."""
    data = data if data is not None else container_data(socket_path, name)
    if data is None:
        return {"exists": False}
    state = data.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    return {
        "exists": True,
        "running": bool(state.get("Running")),
        "status": state.get("Status", ""),
        "exit_code": state.get("ExitCode"),
        "health": health.get("Status", ""),
        "health_output": (log[-1].get("Output", "") if log else "")[-400:],
        "config_hash": ((data.get("Config") or {}).get("Labels") or {}).get(CONFIG_HASH_LABEL, ""),
        "networks": sorted(((data.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
        "image_id": data.get("Image", ""),
        "started_at": state.get("StartedAt", ""),
    }


def survey_engine(socket_path, label):
    """Every image tag, and every container and network of the stack, in three questions to
    the engine."""
    try:
        images = engine_call(socket_path, "GET", "/images/json")
        by_label = f"filters={urllib.parse.quote(json.dumps({'label': [label]}))}" if label else ""
        containers = engine_call(socket_path, "GET", "/containers/json?all=1" + (f"&{by_label}" if by_label else ""))
        networks = engine_call(socket_path, "GET", "/networks" + (f"?{by_label}" if by_label else ""))
    except (OSError, RuntimeError, ValueError) as error:
        return {"ready": False, "error": str(error), "images": {}, "containers": {}, "networks": {}}
    tags = {tag: image.get("Id", "") for image in images for tag in image.get("RepoTags") or []}
    found = {}
    for container in containers:
        for name in container.get("Names") or []:
            found[name.lstrip("/")] = {
                "config_hash": (container.get("Labels") or {}).get(CONFIG_HASH_LABEL, ""),
                "healthy": container.get("State") == "running" and "(healthy)" in (container.get("Status") or ""),
                "networks": sorted(((container.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
            }
    stack_networks = {
        network.get("Name", ""): {"driver": network.get("Driver", ""), "labels": network.get("Labels") or {}}
        for network in networks
    }
    return {"ready": True, "images": tags, "containers": found, "networks": stack_networks}


# A survey reads the stack's configuration: small files. Larger ones (a data directory kept under
# the base directory) are listed without their sha256, so a step that manages one asks for it.
SURVEY_HASH_LIMIT = 1 << 20
SURVEY_MAX_ENTRIES = 20000


def survey_paths(roots):
    """Every directory and file under the roots, described as V(query) describes them."""
    paths = {}
    for root in roots:
        if not os.path.isdir(root) or os.path.islink(root):
            continue
        paths[root] = describe(root, False, False)
        for directory, subdirectories, files in os.walk(root):
            for name in subdirectories + files:
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                hashed = stat.S_ISREG(info.st_mode) and info.st_size <= SURVEY_HASH_LIMIT
                paths[path] = describe(path, hashed, False)
                if len(paths) >= SURVEY_MAX_ENTRIES:
                    return paths
    return paths


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path, is_file, with_content):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    entry = {
        "exists": True,
        "type": "directory" if stat.S_ISDIR(info.st_mode) else "file" if stat.S_ISREG(info.st_mode) else "other",
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        "uid": info.st_uid,
        "gid": info.st_gid,
    }
    if is_file and entry["type"] == "file":
        entry["sha256"] = sha256_of(path)
        if with_content and info.st_size <= 256 * 1024:
            with open(path, "rb") as handle:
                entry["content"] = handle.read().decode("utf-8", errors="replace")
    return entry


def set_attributes(path, mode, owner, group):
    """Mode and owner as asked; True when either changed."""
    info = os.lstat(path)
    changed = False
    if (info.st_uid, info.st_gid) != (owner, group):
        os.chown(path, owner, group)
        changed = True
    if stat.S_IMODE(info.st_mode) != int(mode, 8):
        os.chmod(path, int(mode, 8))
        changed = True
    return changed


def write_file(module, entry):
    """Stage the content beside its destination, check it, then move it into place."""
    dest = entry["dest"]
    content = base64.b64decode(entry["content_base64"])
    directory = os.path.dirname(dest)
    if os.path.exists(dest) and os.path.isfile(dest) and sha256_of(dest) == hashlib.sha256(content).hexdigest():
        return set_attributes(dest, entry["mode"], entry["owner"], entry["group"])
    handle, staged = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(content)
        os.chown(staged, entry["owner"], entry["group"])
        os.chmod(staged, int(entry["mode"], 8))
        if entry.get("validate"):
            if "%s" not in entry["validate"]:
                module.fail_json(msg=f"The check of {dest} must name the staged file as %s: {entry['validate']}")
            rc, out, err = module.run_command(entry["validate"] % staged, use_unsafe_shell=True)
            if rc != 0:
                message = f"{dest} was not written: its check failed (exit {rc}); the file in place is unchanged."
                if entry.get("private"):
                    # A checker may quote the offending line, and this file holds a secret.
                    module.fail_json(msg=f"{message} Its output is not shown: the file holds a secret.")
                module.fail_json(msg=message, validate_stdout=out[-2000:], validate_stderr=err[-2000:])
        os.replace(staged, dest)
        staged = None
    finally:
        if staged and os.path.exists(staged):
            os.unlink(staged)
    return True


def write_all(module, directories, files):
    """Make each directory and write each file; the paths that changed."""
    written = []
    for entry in directories:
        path = entry["path"]
        created = not os.path.isdir(path)
        try:
            if created:
                os.makedirs(path, exist_ok=True)
            if set_attributes(path, entry["mode"], entry["owner"], entry["group"]) or created:
                written.append(path)
        except OSError as error:
            module.fail_json(msg=f"Directory {path} could not be made: {error.strerror} ({error.filename or path}).")
    for entry in files:
        if entry.get("content_base64") is None:
            module.fail_json(msg=f"No content given for {entry['dest']}.")
        try:
            if write_file(module, entry):
                written.append(entry["dest"])
        except OSError as error:
            module.fail_json(
                msg=f"{entry['dest']} could not be written: {error.strerror} ({error.filename or entry['dest']})."
            )
    return written


class ContainerMissing(RuntimeError):
    """Docker Engine knows no such container."""


def engine_call(socket_path, method, path, body=None, *, timeout=30, accept=(200, 201, 204)):
    """One call to Docker Engine's API; its JSON answer (None when it has no body)."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status == 404 and path.startswith("/containers/") and method == "GET":
        raise ContainerMissing(path)
    if response.status not in accept:
        raise RuntimeError(f"Docker Engine answered {response.status} for {method} {path}: {data[:300]!r}")
    return json.loads(data) if data.strip() else None


def healthcheck_passes(socket_path, name, config):
    """Run the container's own healthcheck command once, inside it, as Docker runs it: True when
    it exits 0 within the healthcheck's timeout (at most 30 s).

    Docker runs the first check only one interval (10 to 30 s here) after the start, so a
    service that is up at once would otherwise wait out that interval before the next
    service may start."""
    healthcheck = config.get("Healthcheck") or {}
    test = healthcheck.get("Test") or []
    if len(test) >= 2 and test[0] == "CMD":
        command = test[1:]
    elif len(test) == 2 and test[0] == "CMD-SHELL":
        command = [*(config.get("Shell") or ["/bin/sh", "-c"]), test[1]]
    else:
        return False
    timeout = min((healthcheck.get("Timeout") or 30_000_000_000) / 1e9, 30.0)
    created = engine_call(
        socket_path, "POST", f"/containers/{urllib.parse.quote(name)}/exec",
        {"Cmd": command, "AttachStdout": False, "AttachStderr": False},
    )  # fmt: skip
    engine_call(socket_path, "POST", f"/exec/{created['Id']}/start", {"Detach": True, "Tty": False})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = engine_call(socket_path, "GET", f"/exec/{created['Id']}/json") or {}
        if not state.get("Running"):
            return state.get("ExitCode") == 0
        time.sleep(0.2)
    return False


def wait_healthy(module, socket_path, name, timeout):
    """Until the container is healthy: Docker says so, or its own healthcheck command, run here
    every second, passes (then the result says health healthy, checked_by_wait true)."""
    deadline = time.monotonic() + timeout
    while True:
        data = container_data(socket_path, name)
        found = inspect_container(socket_path, name, data)
        if found.get("health") == "healthy":
            return found
        # A container that has stopped will not become healthy: say so at once.
        if not found.get("exists") or found.get("status") in ("exited", "dead"):
            break
        if found.get("running") and found.get("health") == "starting":
            try:
                passed = healthcheck_passes(socket_path, name, data.get("Config") or {})
            except (OSError, RuntimeError, ValueError):
                passed = False  # stopped or restarting meanwhile: the next round says
            if passed:
                return dict(found, health="healthy", checked_by_wait=True)
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    module.fail_json(
        msg=(
            f"Container {name} did not report healthy within {timeout} s (state "
            f"{found.get('status', 'missing')}, health {found.get('health') or 'none'}, exit code "
            f"{found.get('exit_code')}). Its last healthcheck said: "
            f"{found.get('health_output', '').strip() or 'nothing'}. "
            f"See `docker logs {name}`."
        ),
        container=found,
    )


def settle(socket_path, label, timeout):
    """The stack's containers once Docker's own healthchecks have caught up with the waits
    above: until none is still starting, at most timeout seconds. Name -> state and health."""
    deadline = time.monotonic() + timeout
    filters = urllib.parse.quote(json.dumps({"label": [label]}))
    while True:
        containers = {}
        for container in engine_call(socket_path, "GET", f"/containers/json?all=1&filters={filters}") or []:
            status = container.get("Status") or ""
            health = next((word for word in ("healthy", "unhealthy", "health: starting") if f"({word})" in status), "")
            for name in container.get("Names") or []:
                containers[name.lstrip("/")] = {"state": container.get("State", ""), "health": health}
        starting = [name for name, found in containers.items() if found["health"] == "health: starting"]
        if not starting or time.monotonic() >= deadline:
            return containers
        time.sleep(1)


def stop_timeout(data):
    """Seconds Docker gives the container to stop before it kills it (its own StopTimeout)."""
    configured = (data.get("Config") or {}).get("StopTimeout")
    return 10 if configured is None else int(configured)


def remove_all(socket_path, remove, remove_data, check_mode):
    """Remove the containers (stopped side by side first: a stop may take up to the container's
    stop timeout, and one after the other those add up), then with remove_data the volumes
    and paths. What was found, and so removed (or would be, in check mode)."""
    removed = {"containers": [], "volumes": [], "paths": []}
    found = {name: container_data(socket_path, name) for name in remove["containers"]}
    removed["containers"] = [name for name, data in found.items() if data is not None]
    if remove_data:
        listed = (engine_call(socket_path, "GET", "/volumes") or {}).get("Volumes") or []
        volumes = {volume.get("Name") for volume in listed}
        removed["volumes"] = [volume for volume in remove["volumes"] if volume in volumes]
        removed["paths"] = [path for path in remove["paths"] if os.path.lexists(path)]
    if check_mode:
        return removed

    def stop(name):
        quoted = urllib.parse.quote(name)
        seconds = stop_timeout(found[name])
        # 304: it was not running.
        engine_call(socket_path, "POST", f"/containers/{quoted}/stop", timeout=seconds + 30, accept=(204, 304, 404))

    running = [name for name in removed["containers"] if (found[name].get("State") or {}).get("Running")]
    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(stop, running))
    anonymous = "1" if remove_data else "0"
    for name in removed["containers"]:
        engine_call(
            socket_path, "DELETE", f"/containers/{urllib.parse.quote(name)}?force=1&v={anonymous}", accept=(204, 404)
        )
    for volume in removed["volumes"]:
        engine_call(socket_path, "DELETE", f"/volumes/{urllib.parse.quote(volume)}", accept=(204, 404))
    for path in removed["paths"]:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
    return removed


def exit_removed(module):
    params = module.params
    try:
        removed = remove_all(params["docker_socket"], params["remove"], params["remove_data"], module.check_mode)
    except (OSError, RuntimeError, ValueError) as error:
        module.fail_json(msg=f"Could not remove the stack's services: {error}")
    module.exit_json(changed=any(removed.values()), removed=removed)


def main():
    path_options = {
        "mode": {"type": "str", "required": True},
        "owner": {"type": "int", "required": True},
        "group": {"type": "int", "required": True},
    }
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["query", "present", "survey", "absent"], "default": "query"},
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"path": {"type": "path", "required": True}, **path_options},
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "dest": {"type": "path", "required": True},
                    **path_options,
                    "content_base64": {"type": "str", "no_log": True},
                    "validate": {"type": "str"},
                    "private": {"type": "bool", "default": False},
                    "return_content": {"type": "bool", "default": False},
                },
            },
            "container": {"type": "str", "default": ""},
            "docker_socket": {"type": "path", "default": "/var/run/docker.sock"},
            "wait_healthy": {"type": "int", "default": 0},
            "roots": {"type": "list", "elements": "path", "default": []},
            "stack_label": {"type": "str", "default": ""},
            "settle": {"type": "int", "default": 0},
            "remove": {
                "type": "dict",
                "default": {},
                "options": {
                    "containers": {"type": "list", "elements": "str", "default": []},
                    "volumes": {"type": "list", "elements": "str", "default": []},
                    "paths": {"type": "list", "elements": "path", "default": []},
                },
            },
            "remove_data": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "paths": {}, "written": []}

    if params["state"] == "absent":
        exit_removed(module)
    if params["state"] == "survey":
        result["paths"] = survey_paths(params["roots"])
        result["engine"] = survey_engine(params["docker_socket"], params["stack_label"])
    elif params["state"] == "query":
        for entry in params["directories"]:
            result["paths"][entry["path"]] = describe(entry["path"], False, False)
        for entry in params["files"]:
            result["paths"][entry["dest"]] = describe(entry["dest"], True, entry["return_content"])
    elif not module.check_mode:
        result["written"] = write_all(module, params["directories"], params["files"])
        result["changed"] = bool(result["written"])

    if params["settle"] > 0:
        try:
            result["containers"] = settle(params["docker_socket"], params["stack_label"], params["settle"])
        except (OSError, RuntimeError, ValueError) as error:
            module.fail_json(msg=f"Could not ask Docker Engine about the stack's containers: {error}")

    if params["container"]:
        try:
            if params["wait_healthy"] > 0 and not module.check_mode:
                result["container"] = wait_healthy(
                    module, params["docker_socket"], params["container"], params["wait_healthy"]
                )
            else:
                result["container"] = inspect_container(params["docker_socket"], params["container"])
        except (OSError, RuntimeError, ValueError) as error:
            module.fail_json(msg=f"Could not ask Docker Engine about container {params['container']}: {error}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
