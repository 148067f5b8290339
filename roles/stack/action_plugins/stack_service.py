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
  conditions     with step check: the role's own checks, each {that, msg[, when]}, evaluated
                 in order after the shared ones (each message rendered only when it fails)
  step           deploy (default); plan: change nothing, say whether the service is current;
                 render: ask nothing of the host, return the files and container settings as
                 this run renders them (files, container, config_hash);
                 destroy: remove the containers of every dict `services` names (a list of
                 variable names), stopped side by side, and with remove_data their named
                 volumes, directories and data_paths, in one call (result: removed)
Results, beside changed/diff: name, image, current, deployed, changed_files, container, reasons;
and, as host facts (ansible_facts), what every role reads after the step: stack_deployed[name],
stack_summary, stack_skipped[name] (no image in this run), stack_missing_images[name] (the
upstream image to mirror), stack_service_images, stack_service_image_ids,
stack_service_is_current, stack_service_changed_files, stack_service_state and
stack_host_paths_written. Only this action sets them (facts an action returns rank below those
of set_fact: a set_fact of the same name anywhere would hide them).

The image: found among the host's tags as the run's survey found them, or built by image.yml
earlier in the run (stack_images_supplied), or pulled here when no recipe builds it; an image
that must be built, and secrets the run holds no value of yet, are supplied by
tasks/service_supply.yml, after which the step runs again (needs_supply).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid

import yaml
from ansible._internal._templating import _template_vars
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

HOST_MODULE = "stack_service_host"
CONTAINER_MODULE = "community.docker.docker_container"
IMAGE_MODULE = "community.docker.docker_image"
CONFIG_HASH_LABEL = "org.auterity.config-hash"
# Keys of the dict that say nothing about the container: directories and files are compared on
# disk, the rest is the role's own bookkeeping.
NOT_IN_CONTAINER = ("clients", "address", "files", "directories", "data_paths", "secrets", "recipe", "enabled")
DEFAULT_DIRECTORY_MODE = "0750"
DEFAULT_FILE_MODE = "0640"
HIDDEN = "(content hidden: the file holds a secret)\n"
HIDDEN_CHANGED = "(content hidden: the file holds a secret; this run writes a new content)\n"
# The dict's specification: documented once, in the role's meta/argument_specs.yml (entry
# "service_dict", which no task includes), and checked here, in Python, on every step: an
# entry point's own specification would have Ansible render and check the whole dict in a task
# of its own, twice per service and run.
SPEC_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "meta", "argument_specs.yml")
# What the preflight's check renders: the keys that need no secret and no image.
CHECKED_KEYS = (
    "name",
    "enabled",
    "image",
    "recipe",
    "image_variable",
    "container",
    "user",
    "bind_address",
    "memory",
    "ports",
    "directories",
)


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


def surveyed_paths(expected, survey, written):
    """The service's paths as the run's survey of the host found them, when that answers for
    all of them: each one surveyed, not written by a step of this run since, and as expected.
    None otherwise (the host is asked)."""
    found = {path: survey[path] for path in expected if path in survey and path not in written}
    if len(found) != len(expected) or path_differences(expected, found):
        return None
    return found


def secret_env_names(settings):
    return (settings.get("secret_env") or {}).values()


def private_files(settings):
    """Files that hold a secret: no content and no diff in any output."""
    return {entry["dest"] for entry in settings.get("files") or [] if entry.get("private") or entry.get("secret")}


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
        [
            hashlib.sha256(to_bytes(secret_values[name])).hexdigest()
            for name in sorted((settings.get("secret_env") or {}).values())
        ],
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
    # As the dict gives them: docker_container refuses a value that is not a string, rather than
    # guessing how to write it.
    environment = dict(settings.get("env") or {})
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
        "published_ports": [
            f"{settings['bind_address']}:{port['port']}:{port['port']}" for port in settings.get("ports") or []
        ],
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


# ---- the image: the references a service may run, found among the host's tags ----------------

# image_base.yml and image_tag.yml join their parts with these two characters (a Jinja "\n"
# inside a folded YAML scalar stays literal): the tags must be the same as theirs.
TAG_PART_SEPARATOR = "\\n"


def _sha256_text(text):
    return hashlib.sha256(text.encode()).hexdigest()


def _read_text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def base_image_ref(build):
    """<namespace>/base:<suite>-<hash>, as roles/stack/tasks/image_base.yml computes it."""
    base_dir = os.path.join(build["images_dir"], "base")
    files = sorted(
        (os.path.join(base_dir, name) for name in os.listdir(base_dir) if os.path.isfile(os.path.join(base_dir, name))),
        key=str.lower,
    )
    parts = [build["debian_suite"], build["debian_mirror"], build["debian_security_mirror"]]
    parts += [_read_text(path) for path in files]
    digest = _sha256_text(TAG_PART_SEPARATOR.join(parts))[:16]
    return f"{build['namespace']}/base:{build['debian_suite']}-{digest}"


def build_tag(build, recipe):
    """<namespace>/<recipe>:<hash>, as roles/stack/tasks/image_tag.yml computes it: the recipe's
    files (bytecode left out), its build arguments, and the registry settings it uses."""
    recipe_dir = os.path.join(build["images_dir"], recipe)
    dockerfile = _read_text(os.path.join(recipe_dir, "Dockerfile"))
    arguments = {"BASE_IMAGE": base_image_ref(build)}
    if build["pip_index_url"] and "ARG PIP_INDEX_URL" in dockerfile:
        arguments["PIP_INDEX_URL"] = build["pip_index_url"]
    if build["goproxy"] and "ARG GOPROXY" in dockerfile:
        arguments["GOPROXY"] = build["goproxy"]
    arguments.update(build.get("extra_args") or {})

    def digest_of(path, marker):
        if marker not in dockerfile:
            return ""
        return _sha256_text(_read_text(path).rstrip()) if path else "none"

    files = []
    for directory, _, names in os.walk(recipe_dir):
        for name in names:
            path = os.path.join(directory, name)
            if os.path.islink(path) or "/__pycache__/" in path or path.endswith(".pyc"):
                continue
            files.append(path)
    # Jinja's sort filter ignores case.
    files.sort(key=str.lower)
    parts = [
        json.dumps(arguments),
        digest_of(build["ca_bundle"], "build-ca.crt"),
        digest_of(build["maven_settings"], "build-maven-settings.xml"),
    ]
    parts += [os.path.relpath(path, recipe_dir) for path in files] + [_read_text(path) for path in files]
    return f"{build['namespace']}/{recipe}:{_sha256_text(TAG_PART_SEPARATOR.join(parts))[:16]}"


def image_candidates(build, upstream, recipe):
    """The references that may run, in order of preference (image.yml's order)."""
    candidates = []
    if build["source"] in ("pull", "auto") and upstream:
        mirror = build["registry_mirror"]
        candidates.append(
            f"{mirror}/{re.sub(r'^(docker[.]io|registry-1[.]docker[.]io)/', '', upstream)}" if mirror else upstream
        )
    if build["source"] in ("build", "auto") and recipe:
        try:
            tag = build_tag(build, recipe)
        except OSError:
            # A recipe or a registry setting this cannot read (a relative path, say): image.yml,
            # which resolves them as lookups do, decides instead.
            return None
        candidates.append(tag)
        if build["image_registry"]:
            candidates.append(f"{build['image_registry']}/{tag}")
    return candidates


def _short_tag(reference):
    """A reference as the engine names it: Docker Hub images without docker.io/ and library/."""
    return re.sub(r"^docker[.]io/(library/)?", "", reference)


def found_image(candidates, host_images):
    """The first candidate among the host's tags: (reference, image id), or None."""
    for candidate in candidates:
        tag = _short_tag(candidate)
        if tag in host_images:
            return candidate, host_images[tag]
    return None


def summary_row(settings, status):
    row = {"name": settings["name"], "container": settings["container"], "address": settings["address"]}
    if status:
        row["status"] = status
    return row


# ---- the action ---------------------------------------------------------------------------------


_SPEC = {}


def dict_spec():
    """The options of the dict, from meta/argument_specs.yml (read once)."""
    if not _SPEC:
        with open(SPEC_FILE, encoding="utf-8") as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        _SPEC.update(specs["service_dict"]["options"]["stack_service"]["options"])
    return _SPEC


def validate_dict(settings, keys=None):
    """Error messages for a dict that does not match its specification (only `keys` of it when
    given); an unknown key is one of them."""
    spec = dict_spec()
    if keys is not None:
        spec = {key: value for key, value in spec.items() if key in keys}
        settings = {key: value for key, value in settings.items() if key in keys}
    result = ArgumentSpecValidator(spec).validate(settings)
    return [str(message) for message in result.error_messages]


def shared_format_errors(settings, patterns):
    """The formats every service shares, each message naming the variable that sets the value:
    published ports, bind address, memory limit, container name, user and host directories."""
    name = settings["name"]
    errors = []
    ports = settings.get("ports") or []
    numbers = [str(port["port"]) for port in ports]
    for port in ports:
        value = str(port["port"])
        if not re.fullmatch(r"[0-9]+", value) or not 1 <= int(value) <= 65535 or numbers.count(value) > 1:
            others = ", ".join(entry["name"] for entry in ports)
            errors.append(
                f"{port['name']} must be an integer 1-65535, different from the service's other ports "
                f'({others}); it is "{value}".'
            )
    if not re.search(patterns["address"], str(settings["bind_address"])):
        errors.append(
            f"{name}_bind_address (default: stack_publish_address) must be an IPv4 or IPv6 address of the host "
            f'(is "{settings["bind_address"]}").'
        )
    if not re.search(patterns["memory"], str(settings["memory"])):
        errors.append(f'{name}_memory_limit must be like 512m or 2g (is "{settings["memory"]}").')
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", str(settings["container"])):
        errors.append(f'{name}_container_name must be letters, digits and _.- (is "{settings["container"]}").')
    user = str(settings.get("user") or "")
    if user and not re.fullmatch(r"[0-9]+:[0-9]+", user):
        errors.append(f'{name}_user must be uid:gid (is "{user}").')
    # A relative path would be made relative to wherever the task runs, and as a bind mount's
    # source Docker would take it for a volume name.
    paths = [str(entry["path"]) for entry in settings.get("directories") or []]
    relative = [path for path in paths if not path.startswith("/")]
    if relative:
        errors.append(
            f"{name}_config_dir (and any other of the role's *_dir variables) must be an absolute path; not absolute: "
            + ", ".join(json.dumps(path) for path in relative)
            + "."
        )
    return errors


def image_route_error(settings, source, skip_allowed):
    """Why no image of the service can be had with stack_image_source=`source` (None when one
    can): a pull of an image that does not exist, a build without a recipe."""
    image, recipe = str(settings.get("image") or ""), str(settings.get("recipe") or "")
    if not _bool(settings["enabled"]) or skip_allowed:
        return None
    if (source == "pull" and image) or (source == "build" and recipe) or (source == "auto" and (image or recipe)):
        return None
    variable = settings.get("image_variable") or f"{settings['name']}_image"
    reasons = {
        "pull": f"{variable} is empty (no public image of this program exists): set it to an image you publish, "
        "or set stack_image_source to build or auto to build it from its recipe",
        "build": "no recipe under images/ builds it: set stack_image_source to pull or auto and mirror "
        f"{image} (stack_registry_mirror)",
        "auto": f"{variable} is empty and no recipe under images/ builds it",
    }
    return (
        f"No image for {settings['name']} can be had with stack_image_source={source}: "
        f"{reasons.get(source, 'unknown source')}; or set stack_skip_services_without_image=true to deploy without it."
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        # The role's own conditions (step check) are evaluated in order by _check, and each
        # message rendered only when its condition fails: as assert tasks in a row would.
        # (ansible-core's own assert action leaves its `that` to itself through this hook, which
        # ansible-core marks experimental; were it dropped, the messages would be rendered
        # before the conditions, and only a message that cannot render would change anything.)
        if name == "conditions":
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        # Every rendering of this task (the dict, each template) is one scope for the
        # stack_client lookup: the calling host's own client settings are rendered once for all
        # of them, although each rendering copies the variables to add its own.
        task_vars = dict(task_vars or {}, stack_client_scope=uuid.uuid4().hex)
        result = super().run(tmp, task_vars)
        del tmp
        variable = self._task.args.get("service", "stack_service")
        step = self._task.args.get("step", "deploy")
        if step not in ("deploy", "plan", "render", "check", "destroy"):
            raise AnsibleActionFail(f"step must be deploy, plan, render, check or destroy, not {step!r}")
        if step == "destroy":
            try:
                return self._destroy(result, task_vars)
            finally:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        if variable not in task_vars:
            raise AnsibleActionFail(f"No variable {variable} holds the service's dict.")
        if step == "check":
            return self._check(result, task_vars, variable)
        if step == "render":
            return self._render(result, task_vars, variable)
        try:
            return self._step(result, task_vars, variable, step)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    # Rendering ----------------------------------------------------------------------------------

    def _expression(self, variables, expression):
        templar = self._templar.copy_with_new_env(available_variables=variables)
        return _plain(templar.template(trust_as_template("{{ " + expression + " }}")))

    def _find(self, variables, kind, name):
        """A file of the service's role (templates/ or files/): found as the template and copy
        modules find it from the service's role, else in the role named like the service (the
        render entry point is included from outside that role)."""
        try:
            return self._find_needle(kind, name)
        except AnsibleError:
            roles_dir = os.path.dirname(variables.get("role_path") or "")
            path = os.path.join(roles_dir, str(variables.get("stack_service_name", "")), kind, name)
            if roles_dir and os.path.isfile(path):
                return path
            raise

    def _render_template(self, variables, source_name, dest):
        """A role's template as the template module renders it."""
        source = self._find(variables, "templates", source_name)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        bases = [*variables.get("ansible_search_path", []), self._loader._basedir, os.path.dirname(source)]
        searchpath = [path for base in bases for path in (os.path.join(base, "templates"), base)]
        # As the template module has them: ansible_managed, template_path and the like.
        variables = dict(variables)
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

    def _read_source(self, variables, src):
        try:
            path = self._find(variables, "files", src)
        except AnsibleError as error:
            raise AnsibleActionFail(f"File {src} to copy was not found: {error}") from error
        with open(path, "rb") as handle:
            return handle.read()

    def _file_contents(self, variables, settings, secrets):
        """dest -> bytes of every file entry; a binary that names its checksum is read only when written."""
        contents = {}
        for entry in settings.get("files") or []:
            if entry.get("template"):
                contents[entry["dest"]] = self._render_template(variables, entry["template"], entry["dest"])
            elif entry.get("secret"):
                contents[entry["dest"]] = to_bytes(secrets[entry["secret"]])
            elif entry.get("src"):
                contents[entry["dest"]] = None if entry.get("checksum") else self._read_source(variables, entry["src"])
            else:
                contents[entry["dest"]] = to_bytes(entry.get("content") or "")
        return contents

    # Host calls ---------------------------------------------------------------------------------

    def _call(self, task_vars, module, arguments, secret=False):
        """One module call on the host; a call that carries secrets is not logged there."""
        saved = self._task.no_log
        self._task.no_log = saved or secret
        try:
            return self._execute_module(module_name=module, module_args=arguments, task_vars=task_vars)
        finally:
            self._task.no_log = saved

    def _host(self, task_vars, arguments, secret=False):
        answer = self._call(task_vars, HOST_MODULE, arguments, secret)
        if answer.get("failed"):
            details = {key: value for key, value in answer.items() if key not in ("invocation", "msg")}
            raise AnsibleActionFail(answer.get("msg", f"{HOST_MODULE} failed"), result=details)
        return answer

    # The step -----------------------------------------------------------------------------------

    def _build_settings(self, task_vars):
        names = {
            "source": "stack_image_source",
            "registry_mirror": "stack_registry_mirror",
            "image_registry": "stack_image_registry",
            "namespace": "stack_build_namespace",
            "images_dir": "stack_images_dir",
            "debian_suite": "stack_build_debian_suite",
            "debian_mirror": "stack_build_debian_mirror",
            "debian_security_mirror": "stack_build_debian_security_mirror",
            "ca_bundle": "stack_build_ca_bundle",
            "maven_settings": "stack_build_maven_settings",
            "pip_index_url": "stack_build_pip_index_url",
            "goproxy": "stack_build_goproxy",
        }
        build = {key: self._expression(task_vars, name) for key, name in names.items()}
        build["extra_args"] = self._expression(task_vars, "stack_image_build_args | default({})")
        return build

    def _image(self, task_vars, variable, name):
        """The image this service runs, (reference, id): supplied earlier in the run (this
        step's facts, or image.yml's stack_images_supplied), or found among the host's tags as
        the run found them, or pulled now when no recipe builds it. None when it must be built
        (image.yml); '' when none can be had and skipping is allowed."""
        images = task_vars.get("stack_service_images") or {}
        image_ids = task_vars.get("stack_service_image_ids") or {}
        if name in images:
            return images[name], image_ids.get(name, "")
        supplied = (task_vars.get("stack_images_supplied") or {}).get(name)
        if supplied:
            return supplied["ref"], supplied["id"]
        upstream = self._expression(task_vars, f"{variable}.image")
        recipe = self._expression(task_vars, f"{variable}.recipe | default('')")
        build = self._build_settings(task_vars)
        candidates = image_candidates(build, upstream, recipe)
        # The host's tags, and the images this run's steps found or pulled since.
        known = dict(task_vars.get("stack_host_images") or {})
        known.update({_short_tag(ref): image_ids.get(service, "") for service, ref in images.items() if ref})
        found = found_image(candidates or [], known)
        if found:
            return found
        if candidates is None or (build["source"] in ("build", "auto") and recipe):
            return None
        return self._pull(task_vars, name, upstream, candidates)

    def _pull(self, task_vars, name, upstream, candidates):
        """A service that no recipe builds: its image pulled (in check mode, predicted), or ''
        with a warning when none can be had and skipping is allowed."""
        reference = candidates[0] if candidates else ""
        skip_allowed = _bool(self._expression(task_vars, "stack_skip_services_without_image"))
        if self._task.check_mode and reference:
            # Nothing is pulled in check mode. A service that the last run skipped for want of an
            # image (the local fact file) is predicted skipped again; any other one pulled.
            local = (task_vars.get("ansible_local") or {}).get(self._expression(task_vars, "stack_name")) or {}
            if not (skip_allowed and name in (local.get("skipped") or [])):
                self._pulled = True
                return reference, ""
            answer = {"failed": True, "msg": "the last run found none, and check mode pulls nothing"}
        else:
            answer = self._call(task_vars, IMAGE_MODULE, {"name": reference, "source": "pull"}) if reference else {}
        if reference and not answer.get("failed"):
            image_id = (answer.get("image") or {}).get("Id", "")
            if image_id:
                self._pulled = True
                return reference, image_id
        why = f"Pulling {reference} failed: {answer.get('msg', 'unknown error')}." if reference else ""
        if not skip_allowed:
            raise AnsibleActionFail(
                f"No image for {name}. {why} No registry route to this program exists, so it cannot be built "
                f"here. Mirror {upstream} into a registry you can reach and set stack_registry_mirror, or set "
                f"stack_skip_services_without_image=true to deploy without {name}."
            )
        self._warnings.append(
            f"SKIPPED - {name} is not deployed: no image could be supplied ({upstream}: the pull failed and no "
            "recipe builds it). Mirror that image and set stack_registry_mirror to deploy it."
        )
        return "", ""

    def _step(self, result, task_vars, variable, step):
        name = self._expression(task_vars, f"{variable}.name")
        enabled = _bool(self._expression(task_vars, f"{variable}.enabled"))
        deployable = enabled and _bool(task_vars.get("stack_engine_ready", True))
        image, image_id = ("", "")
        self._warnings, self._pulled = [], False
        if deployable:
            missing = self._missing_secrets(task_vars, variable)
            image, image_id = self._image(task_vars, variable, name) or (None, "")
            if image is None or missing:
                # The secrets generated (secrets.yml, a task that logs nothing) and the image
                # built (image.yml) first, by tasks/service_supply.yml; then this step runs again.
                result.update(
                    name=name, changed=False, needs_supply=True, image_needed=image is None, secrets_needed=missing
                )
                return result
        secrets = dict(task_vars.get("stack_secrets") or {})
        result.update(name=name, image=image, image_id=image_id, changed=False, current=False, deployed=False)
        result["changed_files"] = []
        result["reasons"] = []

        facts = {
            "stack_skipped": dict(task_vars.get("stack_skipped") or {}),
            "stack_missing_images": dict(task_vars.get("stack_missing_images") or {}),
            "stack_service_images": dict(task_vars.get("stack_service_images") or {}),
            "stack_service_image_ids": dict(task_vars.get("stack_service_image_ids") or {}),
            "stack_summary": list(task_vars.get("stack_summary") or []),
        }
        if self._warnings:
            result["warnings"] = self._warnings
        if deployable:
            facts["stack_service_images"][name] = image
            facts["stack_service_image_ids"][name] = image_id
            if not image:
                # Skipped: the summary names the upstream image to mirror.
                facts["stack_missing_images"][name] = self._expression(task_vars, f"{variable}.image")
            self._require_secrets(task_vars, variable, secrets)
            # Whether this run skipped it (no image), for the services that read it later in the
            # run (lookup stack_client: Prometheus, the gateway, Grafana leave it out).
            facts["stack_skipped"][name] = image == ""
            # The dict, rendered once with the image this run supplied and the secrets it holds.
            variables = dict(task_vars, stack_service_image=image, stack_secrets=secrets, stack_service_name=name)
            settings = _plain(
                self._templar.copy_with_new_env(available_variables=variables).template(task_vars[variable])
            )
            self._require_valid(settings)
            self._converge(result, task_vars, variables, settings, step)
        else:
            # A service that is not deployed renders only its summary's keys.
            settings = {
                key: self._expression(task_vars, f"{variable}.{key}") for key in ("name", "container", "address")
            }

        result["deployed"] = bool(image and result["deployed"])
        facts["stack_deployed"] = dict(task_vars.get("stack_deployed") or {}, **{name: result["deployed"]})
        facts["stack_host_paths_written"] = sorted(
            set(task_vars.get("stack_host_paths_written") or []) | set(result.pop("written_paths", []))
        )
        facts["stack_service_is_current"] = result["current"]
        facts["stack_service_changed_files"] = result["changed_files"]
        facts["stack_service_state"] = {
            "name": name,
            "current": result["current"],
            "container": result.get("container", {}),
        }
        # A plan that finds the service current records its row too: its caller then has no
        # deploy step to run (stack_service_state.current).
        if step == "deploy" or result["current"]:
            rows = [row for row in facts["stack_summary"] if row.get("name") != name]
            status = self._status(task_vars, name, enabled, facts["stack_missing_images"])
            facts["stack_summary"] = [*rows, summary_row(settings, status)]
        # A pull changes the host, as the container module's re-creation does.
        result["changed"] = result["changed"] or self._pulled
        result["ansible_facts"] = facts
        return result

    def _check(self, result, task_vars, variable):
        """The preflight's shared check: the keys of the dict that need no secret and no image,
        against the dict's specification and the formats every service shares, and whether an
        image can be had in the chosen mode. Changes nothing; fails naming every bad variable."""
        self._check_role_options(task_vars)
        # The dict's keys in one call (no value is rendered), then only the values checked here.
        present = self._expression(task_vars, f"{variable}.keys() | list")
        settings = {key: self._expression(task_vars, f"{variable}[{key!r}]") for key in CHECKED_KEYS if key in present}
        name = settings.get("name", variable)
        errors = validate_dict(settings, CHECKED_KEYS)
        if not errors:
            patterns = {
                "address": self._expression(task_vars, "stack_address_pattern"),
                "memory": self._expression(task_vars, "stack_memory_pattern"),
            }
            errors = shared_format_errors(settings, patterns)
        if errors:
            raise AnsibleActionFail(f"Invalid {name} setting: " + " ".join(errors))
        route = image_route_error(
            settings,
            self._expression(task_vars, "stack_image_source"),
            _bool(self._expression(task_vars, "stack_skip_services_without_image")),
        )
        if route:
            raise AnsibleActionFail(route)
        self._check_conditions(self._task.args.get("conditions") or [])
        result.update(changed=False, name=name, msg=f"{name}: inputs valid")
        return result

    def _check_conditions(self, conditions):
        """The role's own checks (option conditions), in order: each entry's `that` (one
        expression or a list, all must hold) where its `when` holds; the first entry that fails
        stops the run with its `msg`."""
        if not isinstance(conditions, list):
            raise AnsibleActionFail("conditions must be a list of {that, msg[, when]} entries")
        for entry in conditions:
            if not isinstance(entry, dict) or "that" not in entry or "msg" not in entry:
                raise AnsibleActionFail(f"Each entry of conditions needs that and msg: {entry!r}")
            if "when" in entry and not self._templar.evaluate_conditional(conditional=entry["when"]):
                continue
            expressions = entry["that"] if isinstance(entry["that"], list) else [entry["that"]]
            for expression in expressions:
                if not self._templar.evaluate_conditional(conditional=expression):
                    raise AnsibleActionFail(
                        str(self._templar.template(entry["msg"])).strip(),
                        result={"assertion": str(expression)},
                    )

    def _check_role_options(self, task_vars):
        """The calling role's variables against its meta/argument_specs.yml (entry preflight, else
        main), as Ansible checks a role's entry point: site.yml includes the preflights without
        that check (rolespec_validate: false), so that it is this task, not one more per service."""
        spec_file = os.path.join(str(task_vars.get("role_path") or ""), "meta", "argument_specs.yml")
        if not task_vars.get("role_path") or not os.path.isfile(spec_file):
            return
        with open(spec_file, encoding="utf-8") as handle:
            entries = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        options = (entries.get("preflight") or entries.get("main") or {}).get("options") or {}
        values = {name: task_vars[name] for name in options if name in task_vars}
        values = self._templar.copy_with_new_env(available_variables=task_vars).template(values)
        errors = ArgumentSpecValidator(options).validate(values, validate_role_argument_spec=True).error_messages
        if errors:
            raise AnsibleActionFail(
                "Validation of arguments failed:\n" + "\n".join(errors), result={"argument_errors": errors}
            )

    def _render(self, result, task_vars, variable):
        """What the service's step would write and run on this host, rendered on the controller
        without asking the host: each file's sha256 (and its text unless it holds a secret) and
        the container's settings with the secrets' values left out. The image is the one the
        dict names (no host's tags are read)."""
        secrets = dict(task_vars.get("stack_secrets") or {})
        self._require_secrets(task_vars, variable, secrets)
        image = self._expression(task_vars, f"{variable}.image")
        name = self._expression(task_vars, f"{variable}.name")
        variables = dict(task_vars, stack_service_image=image, stack_secrets=secrets, stack_service_name=name)
        settings = _plain(self._templar.copy_with_new_env(available_variables=variables).template(task_vars[variable]))
        self._require_valid(settings)
        wanted = self._wanted(task_vars, variables, settings, "")
        files = {}
        for entry in settings.get("files") or []:
            path = entry["dest"]
            content = wanted["contents"][path]
            private = path in wanted["private"] or bool(entry.get("secret"))
            files[path] = {
                "sha256": wanted["paths"][path]["sha256"],
                "content": None if private or content is None else to_text(content, errors="replace"),
            }
        placeholders = {name: f"(secret {name})" for name in secrets}
        arguments = container_arguments(settings, image, placeholders, wanted["hash"], wanted["stack"])
        result.update(
            changed=False, name=settings["name"], files=files, container=arguments, config_hash=wanted["hash"]
        )
        return result

    def _destroy(self, result, task_vars):
        """Remove the services whose dicts `services` names, in one call to the host: their
        containers, and with remove_data their named volumes, directories and data_paths. Only
        those keys of each dict are rendered."""
        remove = {"containers": [], "volumes": [], "paths": []}
        for variable in self._task.args.get("services") or []:
            if variable not in task_vars:
                raise AnsibleActionFail(f"No variable {variable} holds a service's dict.")
            mounts = self._expression(task_vars, f"{variable}.volumes | default([])")
            directories = self._expression(task_vars, f"{variable}.directories | default([]) | map(attribute='path')")
            remove["containers"].append(self._expression(task_vars, f"{variable}.container"))
            # Named volumes are the mounts whose source is a name, not a host path.
            remove["volumes"] += [mount.split(":")[0] for mount in mounts if not mount.startswith("/")]
            # A directory's content before the directory.
            remove["paths"] += sorted(directories, reverse=True)
            remove["paths"] += self._expression(task_vars, f"{variable}.data_paths | default([])")
        remove_data = _bool(self._task.args.get("remove_data", False))
        answer = self._host(task_vars, {"state": "absent", "remove": remove, "remove_data": remove_data})
        result.update(changed=answer["changed"], removed=answer["removed"])
        return result

    @staticmethod
    def _require_valid(settings):
        errors = validate_dict(settings)
        if errors:
            raise AnsibleActionFail(
                f"The dict of {settings.get('name', '?')} does not match its specification "
                f"(roles/stack/meta/argument_specs.yml, service_dict): {'; '.join(errors)}"
            )

    def _missing_secrets(self, task_vars, variable):
        """The service's secrets that this run holds no value of yet (stack_secrets: those of the
        credentials directory, read by the host step, and those generated since)."""
        names = self._expression(task_vars, f"{variable}.secrets | default([])") or []
        secrets = task_vars.get("stack_secrets") or {}
        return [secret for secret in names if secret not in secrets]

    def _require_secrets(self, task_vars, variable, secrets):
        """secrets.yml generated or read them before (a task that logs nothing: facts returned
        from here would be shown with -v)."""
        names = self._expression(task_vars, f"{variable}.secrets | default([])") or []
        missing = [secret for secret in names if secret not in secrets]
        if missing:
            raise AnsibleActionFail(f"Secrets not generated before the service step: {', '.join(missing)}")

    @staticmethod
    def _status(task_vars, name, enabled, missing):
        if not enabled:
            return "disabled"
        if not _bool(task_vars.get("stack_engine_ready", True)):
            return "not deployed: no engine yet"
        return f"SKIPPED: no image (mirror {missing[name]})" if name in missing else ""

    def _wanted(self, task_vars, variables, settings, image_id):
        """Everything the service should be, rendered here: file contents and sums, paths, hash."""
        stack = {
            "name": self._expression(task_vars, "stack_name"),
            "network": self._expression(task_vars, "stack_network_name"),
            "log_options": self._expression(
                task_vars, "stack_container_log_options | combine(stack_container_log_attributes)"
            ),
        }
        contents = self._file_contents(variables, settings, variables["stack_secrets"])
        sums = {
            entry["dest"]: file_checksum(entry, contents[entry["dest"]] or b"") for entry in settings.get("files") or []
        }
        return {
            "stack": stack,
            "contents": contents,
            "paths": expected_paths(settings, sums),
            "hash": config_hash(settings, sums, variables["stack_secrets"], image_id, stack),
            "private": private_files(settings),
            "secrets": variables["stack_secrets"],
        }

    def _read_host(self, task_vars, settings, wanted, image):
        """Paths and container as they are, in at most one call. The run's survey of the host
        (the stack role's host step: stack_host_paths, stack_host_containers) answers for a
        service found there as wanted: its paths with the wanted mode, owner and sha256, its
        container healthy under this hash. Anything else is asked of the host."""
        found = (task_vars.get("stack_host_containers") or {}).get(settings["container"], {})
        known_current = (
            bool(image)
            and found.get("healthy")
            and found.get("config_hash") == wanted["hash"]
            and wanted["stack"]["network"] in (found.get("networks") or [])
        )
        query = {"state": "query", "directories": [], "files": []}
        for path, want in wanted["paths"].items():
            entry = {"mode": want["mode"], "owner": want["uid"], "group": want["gid"]}
            if want["type"] == "directory":
                query["directories"].append(dict(entry, path=path))
            else:
                with_content = bool(self._task.diff and path not in wanted["private"])
                query["files"].append(dict(entry, dest=path, return_content=with_content))
        query["container"] = settings["container"] if image and not known_current else ""
        answer = {}
        paths = surveyed_paths(
            wanted["paths"],
            task_vars.get("stack_host_paths") or {},
            set(task_vars.get("stack_host_paths_written") or []),
        )
        if paths is None or (image and not known_current):
            answer = self._host(task_vars, query)
            paths = answer.get("paths") or {}
        container = {}
        if image:
            container = answer.get("container") or {
                "exists": True,
                "running": True,
                "health": "healthy",
                "config_hash": found.get("config_hash", ""),
                "networks": found.get("networks", []),
            }
        return query, paths, container

    def _converge(self, result, task_vars, variables, settings, step):
        image = result["image"]
        wanted = self._wanted(task_vars, variables, settings, result["image_id"])
        query, paths, container = self._read_host(task_vars, settings, wanted, image)
        differences = path_differences(wanted["paths"], paths)
        reasons = [f"{path}: {', '.join(why)}" for path, why in differences.items()]
        if image:
            reasons += container_reasons(container, wanted["hash"], wanted["stack"]["network"])
        result.update(container=container, reasons=reasons, current=not reasons)
        # Running already (a plan, a check run), or about to be after this deploy.
        result["deployed"] = container.get("running", False) or (step == "deploy" and not self._task.check_mode)
        if not reasons or step == "plan":
            return
        result["msg"] = f"{settings['name']} is not current: {'; '.join(reasons)}"
        # A prediction in check mode; otherwise what the writes and the container module did.
        result["changed"] = bool(differences) or self._task.check_mode
        result["changed_files"] = [path for path in differences if wanted["paths"][path]["type"] == "file"]
        if self._task.diff:
            result["diff"] = [
                _file_diff(path, paths.get(path) or {}, wanted["contents"][path], path in wanted["private"])
                for path in result["changed_files"]
                if {"content", "missing"} & set(differences[path])
            ]
        if self._task.check_mode:
            return
        result["written_paths"] = sorted(differences)
        result["changed"] = self._write(
            task_vars, settings, wanted, query, differences=differences, validate=bool(image)
        )
        if image:
            result["container"], recreated = self._container(task_vars, settings, wanted, container, image)
            result["changed"] = result["changed"] or recreated

    def _write(self, task_vars, settings, wanted, query, *, differences, validate):
        """The directories, and the files that differ; each checked first by its own program
        when the service has an image (a skipped service's files are written unchecked)."""
        files = []
        for entry in settings.get("files") or []:
            path = entry["dest"]
            if path not in differences:
                continue
            content = wanted["contents"][path]
            if content is None:
                content = self._read_source(dict(task_vars, stack_service_name=settings["name"]), entry["src"])
            want = wanted["paths"][path]
            item = {"dest": path, "mode": want["mode"], "owner": want["uid"], "group": want["gid"]}
            item["content_base64"] = base64.b64encode(content).decode()
            if validate and entry.get("validate"):
                item["validate"] = entry["validate"]
                item["private"] = path in wanted["private"]
            files.append(item)
        answer = self._host(
            task_vars, {"state": "present", "directories": query["directories"], "files": files}, secret=True
        )
        return bool(answer.get("changed"))

    def _container(self, task_vars, settings, wanted, container, image):
        """(Re)create the container when its hash, network or state asks for it, then wait for
        its own healthcheck."""
        recreated = False
        if container_reasons(container, wanted["hash"], wanted["stack"]["network"]):
            secrets = wanted["secrets"]
            arguments = container_arguments(settings, image, secrets, wanted["hash"], wanted["stack"])
            hidden = [secrets[name] for name in secret_env_names(settings)]
            answer = self._call(task_vars, CONTAINER_MODULE, arguments, secret=bool(hidden))
            if answer.get("failed"):
                message = str(answer.get("msg", "unknown error"))
                # The environment holds secrets: a message that quotes it shows none of them.
                for value in hidden:
                    message = message.replace(value, "********")
                raise AnsibleActionFail(f"Container {settings['container']} could not be created: {message}")
            recreated = bool(answer.get("changed"))
        timeout = int(self._expression(task_vars, "stack_ready_timeout"))
        ready = self._host(task_vars, {"state": "query", "container": settings["container"], "wait_healthy": timeout})
        return ready.get("container") or {}, recreated


def _file_diff(path, found, content, private):
    if private:
        before = HIDDEN if found.get("exists") else ""
        return {"before_header": path, "after_header": path, "before": before, "after": HIDDEN_CHANGED}
    after = "(binary file)\n" if content is None else to_text(content, errors="replace")
    return {"before_header": path, "after_header": path, "before": found.get("content", ""), "after": after}


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
