# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""stack_service: one service of the stack in one task.

The service's dict (a role's vars/main.yml, `<role>_service`) is rendered here, on the
controller, with the image the run supplied and the secrets it generated; so are its files.
The host is asked once (stack_service_host, state=query) what its directories, files and
container look like; a service found current ends there. Otherwise the files that differ are
written (each checked first by the service's own program), the container is (re)created when
its config hash changed and the step waits for the container's healthcheck.

The comparison is plain Python (the functions below, tested without Docker by
tests/test_stack_service_engine.py); only the reads and writes go to the host.

Options (the task's arguments):
  service        name of the variable that holds the dict (default stack_service)
  step           deploy (default), or plan: change nothing, say whether the service is current
Results, beside changed/diff: name, image, current, deployed, changed_files, container, reasons;
and the host facts every role reads: stack_deployed[name], stack_summary, stack_clients[name].skipped,
stack_service_is_current, stack_service_changed_files, stack_service_state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible._internal._templating import _template_vars

HOST_MODULE = "stack_service_host"
CONTAINER_MODULE = "community.docker.docker_container"
CONFIG_HASH_LABEL = "org.auterity.config-hash"
# Keys of the dict that say nothing about the container: directories and files are compared on
# disk, the rest is the role's own bookkeeping.
NOT_IN_CONTAINER = ("clients", "address", "files", "directories", "data_paths", "secrets", "recipe", "enabled")
DEFAULT_DIRECTORY_MODE = "0750"
DEFAULT_FILE_MODE = "0640"
HIDDEN = "(content hidden: the file holds a secret)\n"


# ---- the comparison: plain functions, no Ansible state ----------------------------------------


def service_ids(settings):
    """uid and gid the service runs as: its user, else root."""
    user = settings.get("user") or "0:0"
    uid, gid = str(user).split(":", 1)
    return int(uid), int(gid)


def owner_of(entry, default):
    value = entry.get("owner")
    return default if value in (None, "") else int(value)


def group_of(entry, default):
    value = entry.get("group")
    return default if value in (None, "") else int(value)


def file_checksum(entry, content):
    """The sha256 a file entry stands for: a binary's given checksum, else its content's."""
    if entry.get("checksum"):
        return str(entry["checksum"]).split(":")[-1]
    return hashlib.sha256(content).hexdigest()


def expected_paths(settings, file_sums):
    """Every directory and file of the service as it should be on the host, by path."""
    uid, gid = service_ids(settings)
    expected = {}
    for directory in settings.get("directories") or []:
        expected[directory["path"]] = {
            "type": "directory",
            "mode": str(directory.get("mode") or DEFAULT_DIRECTORY_MODE).zfill(4),
            "uid": owner_of(directory, uid),
            "gid": group_of(directory, gid),
        }
    for entry in settings.get("files") or []:
        expected[entry["dest"]] = {
            "type": "file",
            "mode": str(entry.get("mode") or DEFAULT_FILE_MODE).zfill(4),
            "uid": owner_of(entry, uid),
            "gid": group_of(entry, gid),
            "sha256": file_sums[entry["dest"]],
        }
    return expected


def path_differences(expected, found):
    """Path -> what differs ('missing', 'content', 'mode', 'owner', 'type'), for paths that differ."""
    differences = {}
    for path, want in expected.items():
        have = found.get(path) or {"exists": False}
        if not have.get("exists"):
            differences[path] = ["missing"]
            continue
        reasons = []
        if have.get("type") != want["type"]:
            reasons.append("type")
        if want["type"] == "file" and have.get("sha256") != want["sha256"]:
            reasons.append("content")
        if have.get("mode") != want["mode"]:
            reasons.append("mode")
        if (have.get("uid"), have.get("gid")) != (want["uid"], want["gid"]):
            reasons.append("owner")
        if reasons:
            differences[path] = reasons
    return differences


def reloadable_files(settings):
    return [entry["dest"] for entry in settings.get("files") or [] if entry.get("reload")]


def config_hash(settings, file_sums, secret_values, image_id, stack):
    """The label that decides a re-creation: every file the container reads but those it reloads,
    the container's settings, the secrets in its environment (hashed), the stack's container
    options and the image's id."""
    reloadable = set(reloadable_files(settings))
    container_settings = {key: value for key, value in settings.items() if key not in NOT_IN_CONTAINER}
    material = [
        sorted((path, digest) for path, digest in file_sums.items() if path not in reloadable),
        container_settings,
        [str(value) for value in settings.get("config_inputs") or []],
        [hashlib.sha256(to_bytes(secret_values[name])).hexdigest() for name in sorted((settings.get("secret_env") or {}).values())],
        stack["name"],
        stack["network"],
        stack["log_options"],
        image_id,
    ]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def container_reasons(found, wanted_hash, network):
    """Why the container found on the host is not current ([] when it is)."""
    if not found or not found.get("exists"):
        return ["container missing"]
    reasons = []
    if found.get("config_hash") != wanted_hash:
        reasons.append("config hash changed")
    if network not in (found.get("networks") or []):
        reasons.append(f"not on network {network}")
    if not found.get("running"):
        reasons.append(f"container {found.get('status') or 'not running'}")
    elif found.get("health") != "healthy":
        reasons.append(f"container {found.get('health') or 'without health'}")
    return reasons


def container_arguments(settings, image, secret_values, wanted_hash, stack):
    """The community.docker.docker_container arguments of the service's container."""
    environment = {key: str(value) for key, value in (settings.get("env") or {}).items()}
    for variable, secret in (settings.get("secret_env") or {}).items():
        environment[variable] = secret_values[secret]
    arguments = {
        "name": settings["container"],
        "image": image,
        "env": environment,
        "restart_policy": "unless-stopped",
        "memory": settings["memory"],
        "networks": [{"name": stack["network"]}],
        "network_mode": stack["network"],
        "published_ports": [f"{settings['bind_address']}:{port['port']}:{port['port']}" for port in settings.get("ports") or []],
        "volumes": list(settings.get("volumes") or []),
        "healthcheck": settings["healthcheck"],
        "log_driver": "json-file",
        "log_options": stack["log_options"],
        "labels": {
            "org.auterity.stack": stack["name"],
            "org.auterity.service": settings["name"],
            CONFIG_HASH_LABEL: wanted_hash,
        },
        "comparisons": {"labels": "strict"},
        "state": "started",
    }
    for key in ("entrypoint", "command", "shm_size", "stop_timeout"):
        if settings.get(key) not in (None, ""):
            arguments[key] = settings[key]
    if settings.get("user"):
        arguments["user"] = settings["user"]
    return arguments


def summary_row(settings, status):
    row = {"name": settings["name"], "container": settings["container"], "address": settings["address"]}
    if status:
        row["status"] = status
    return row


# ---- the action ---------------------------------------------------------------------------------


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        variable = self._task.args.get("service", "stack_service")
        step = self._task.args.get("step", "deploy")
        if step not in ("deploy", "plan"):
            raise AnsibleActionFail(f"step must be deploy or plan, not {step!r}")
        if variable not in task_vars:
            raise AnsibleActionFail(f"No variable {variable} holds the service's dict.")
        try:
            return self._run(result, task_vars, variable, step)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    # Rendering --------------------------------------------------------------------------------

    def _expression(self, templar, expression):
        return templar.template(trust_as_template("{{ " + expression + " }}"))

    def _render_template(self, templar_vars, source_name, dest):
        source = self._find_needle("templates", source_name)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(templar_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        searchpath = [path for base in searchpath for path in (os.path.join(base, "templates"), base)]
        # As the template module has them: ansible_managed, template_path and the like.
        variables = dict(templar_vars)
        variables.update(
            _template_vars.generate_ansible_template_vars(
                path=source_name,
                fullpath=source,
                dest_path=dest,
                include_ansible_managed="ansible_managed" not in variables,
            )
        )
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        rendered = templar.template(
            data,
            escape_backslashes=False,
            overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
        )
        return to_bytes(rendered if rendered is not None else "")

    def _secrets(self, task_vars, names):
        """The named secrets, as secrets.yml generated or read them (a task that logs nothing:
        facts returned from here would be shown with -v)."""
        secrets = dict(task_vars.get("stack_secrets") or {})
        missing = [name for name in names if name not in secrets]
        if missing:
            raise AnsibleActionFail(f"Secrets not generated before the service step: {', '.join(missing)}")
        return secrets

    def _file_contents(self, templar_vars, settings, secrets):
        """dest -> bytes of every file entry; a binary that names its checksum is read only when written."""
        contents = {}
        for entry in settings.get("files") or []:
            if entry.get("template"):
                contents[entry["dest"]] = self._render_template(templar_vars, entry["template"], entry["dest"])
            elif entry.get("secret"):
                contents[entry["dest"]] = to_bytes(secrets[entry["secret"]])
            elif entry.get("src"):
                contents[entry["dest"]] = None if entry.get("checksum") else self._read_source(entry["src"])
            else:
                contents[entry["dest"]] = to_bytes(entry.get("content") or "")
        return contents

    def _read_source(self, src):
        try:
            path = self._find_needle("files", src)
        except AnsibleError as error:
            raise AnsibleActionFail(f"File {src} to copy was not found: {error}")
        with open(path, "rb") as handle:
            return handle.read()

    # Host calls ---------------------------------------------------------------------------------

    def _host(self, task_vars, arguments, secret=False):
        """One call of the host module; a call that carries secrets logs nothing."""
        saved = self._task.no_log
        self._task.no_log = saved or secret
        try:
            answer = self._execute_module(module_name=HOST_MODULE, module_args=arguments, task_vars=task_vars)
        finally:
            self._task.no_log = saved
        if answer.get("failed"):
            raise AnsibleActionFail(answer.get("msg", "stack_service_host failed"), result=_without_invocation(answer))
        return answer

    # The step -----------------------------------------------------------------------------------

    def _run(self, result, task_vars, variable, step):
        templar = self._templar.copy_with_new_env(available_variables=task_vars)
        name = self._expression(templar, f"{variable}.name")
        enabled = _bool(self._expression(templar, f"{variable}.enabled"))
        engine_ready = _bool(task_vars.get("stack_engine_ready", True))
        images = dict(task_vars.get("stack_service_images") or {})
        image = images.get(name, "") if enabled and engine_ready else ""
        image_id = (task_vars.get("stack_service_image_ids") or {}).get(name, "")
        secret_names = list(self._expression(templar, f"{variable}.secrets | default([])") or []) if enabled else []
        secrets = self._secrets(task_vars, secret_names)

        facts = {}
        if enabled and engine_ready:
            # Whether this run skipped it (no image), for the services that read it later in the
            # run (Prometheus, the gateway, Grafana leave it out).
            clients = dict(task_vars.get("stack_clients") or {})
            clients[name] = dict(clients.get(name) or {}, skipped=image == "")
            facts["stack_clients"] = clients
        result.update(name=name, image=image, changed=False, current=False, deployed=False, changed_files=[], reasons=[])

        # The dict, rendered once with the image this run supplied and the secrets it holds; a
        # service that is not deployed renders only its summary's keys.
        templar_vars = dict(task_vars)
        templar_vars.update(stack_service_image=image, stack_secrets=secrets)
        if enabled and engine_ready:
            settings = _plain(self._templar.copy_with_new_env(available_variables=templar_vars).template(task_vars[variable]))
        else:
            settings = {key: _plain(self._expression(templar, f"{variable}.{key}")) for key in ("name", "container", "address")}

        status = ""
        if not enabled:
            status = "disabled"
        elif not engine_ready:
            status = "not deployed: no engine yet"
        elif name in (task_vars.get("stack_missing_images") or {}):
            status = f"SKIPPED: no image (mirror {task_vars['stack_missing_images'][name]})"

        if enabled and engine_ready:
            self._converge(result, task_vars, templar_vars, settings, secrets, image, image_id, step)

        deployed = bool(enabled and engine_ready and image and result["deployed"])
        facts["stack_deployed"] = dict(task_vars.get("stack_deployed") or {}, **{name: deployed})
        facts["stack_service_is_current"] = result["current"]
        facts["stack_service_changed_files"] = result["changed_files"]
        facts["stack_service_state"] = {"name": name, "container": result.get("container") or {}, "current": result["current"]}
        if step == "deploy":
            summary = [row for row in task_vars.get("stack_summary") or [] if row.get("name") != name]
            facts["stack_summary"] = summary + [summary_row(settings, status)]
        result["deployed"] = deployed
        result["ansible_facts"] = facts
        return result

    def _converge(self, result, task_vars, templar_vars, settings, secrets, image, image_id, step):
        templar = self._templar.copy_with_new_env(available_variables=task_vars)
        stack = {
            "name": self._expression(templar, "stack_name"),
            "network": self._expression(templar, "stack_network_name"),
            "log_options": _plain(self._expression(templar, "stack_container_log_options | combine(stack_container_log_attributes)")),
        }
        contents = self._file_contents(templar_vars, settings, secrets)
        file_sums = {entry["dest"]: file_checksum(entry, contents[entry["dest"]] or b"") for entry in settings.get("files") or []}
        wanted_hash = config_hash(settings, file_sums, secrets, image_id, stack)
        expected = expected_paths(settings, file_sums)
        private = {entry["dest"] for entry in settings.get("files") or [] if entry.get("private") or entry.get("secret")}

        # The containers as this run found them (the stack role's host step): one found healthy
        # under this hash needs no question to the engine.
        found_container = (task_vars.get("stack_host_containers") or {}).get(settings["container"], {})
        known_current = (
            bool(image)
            and not self._task.check_mode
            and found_container.get("healthy")
            and found_container.get("config_hash") == wanted_hash
            and stack["network"] in (found_container.get("networks") or [])
        )
        query = {
            "state": "query",
            "directories": [
                {"path": path, "mode": want["mode"], "owner": want["uid"], "group": want["gid"]}
                for path, want in expected.items()
                if want["type"] == "directory"
            ],
            "files": [
                {
                    "dest": path,
                    "mode": want["mode"],
                    "owner": want["uid"],
                    "group": want["gid"],
                    "return_content": bool(self._task.diff and path not in private),
                }
                for path, want in expected.items()
                if want["type"] == "file"
            ],
            "container": "" if (known_current or not image) else settings["container"],
        }
        found = self._host(task_vars, query)
        container = found.get("container") or {
            "exists": True,
            "running": True,
            "health": "healthy",
            "config_hash": found_container.get("config_hash", ""),
            "networks": found_container.get("networks", []),
        }
        if not image:
            container = {}
        differences = path_differences(expected, found.get("paths") or {})
        reasons = [f"{path}: {', '.join(why)}" for path, why in differences.items()]
        if image:
            reasons += container_reasons(container, wanted_hash, stack["network"])
        result["container"] = container
        result["reasons"] = reasons
        if reasons:
            result["msg"] = f"{settings['name']} is not current: {'; '.join(reasons)}"
        result["current"] = not reasons
        # Running already (a plan, a check run), or about to be after this deploy.
        result["deployed"] = bool(image) and (step == "deploy" and not self._task.check_mode or container.get("running", False))
        if not reasons or step == "plan":
            return

        changed_files = [path for path in differences if path in file_sums]
        result["changed"] = True
        result["changed_files"] = changed_files
        if self._task.diff:
            result["diff"] = [
                _file_diff(path, (found["paths"].get(path) or {}), contents[path], path in private)
                for path in changed_files
                if "content" in differences[path] or "missing" in differences[path]
            ]
        if self._task.check_mode:
            return

        validate = image != ""
        write = {
            "state": "present",
            "directories": query["directories"],
            "files": [],
        }
        for entry in settings.get("files") or []:
            path = entry["dest"]
            if path not in differences:
                continue
            content = contents[path] if contents[path] is not None else self._read_source(entry["src"])
            want = expected[path]
            item = {
                "dest": path,
                "mode": want["mode"],
                "owner": want["uid"],
                "group": want["gid"],
                "content_base64": base64.b64encode(content).decode(),
            }
            if validate and entry.get("validate"):
                item["validate"] = entry["validate"]
            write["files"].append(item)
        self._host(task_vars, write, secret=True)
        if not image:
            return

        if container_reasons(container, wanted_hash, stack["network"]):
            arguments = container_arguments(settings, image, secrets, wanted_hash, stack)
            saved = self._task.no_log
            self._task.no_log = saved or bool(settings.get("secret_env"))
            try:
                answer = self._execute_module(module_name=CONTAINER_MODULE, module_args=arguments, task_vars=task_vars)
            finally:
                self._task.no_log = saved
            if answer.get("failed"):
                message = answer.get("msg", "unknown error")
                if settings.get("secret_env"):
                    message = "the container module failed (its arguments hold secrets, so its message is not shown)"
                raise AnsibleActionFail(f"Container {settings['container']} could not be created: {message}")
        timeout = int(self._expression(templar, "stack_ready_timeout"))
        ready = self._host(task_vars, {"state": "query", "container": settings["container"], "wait_healthy": timeout})
        result["container"] = ready.get("container") or {}
        result["deployed"] = True


def _file_diff(path, found, content, private):
    if private:
        before = HIDDEN if found.get("exists") else ""
        return {"before_header": path, "after_header": path, "before": before, "after": HIDDEN}
    after = "(binary file)\n" if content is None else to_text(content, errors="replace")
    return {"before_header": path, "after_header": path, "before": found.get("content", ""), "after": after}


def _without_invocation(answer):
    return {key: value for key, value in answer.items() if key not in ("invocation", "_ansible_no_log")}


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _plain(value):
    """Rendered values as plain Python types (lists, dicts, str, int, bool)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)
