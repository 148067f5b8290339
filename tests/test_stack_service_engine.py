"""The stack's service step (roles/stack/action_plugins/stack_service.py and its host module
roles/stack/library/stack_service_host.py).

The comparison that decides whether a service is current is plain Python: it is tested here
without Docker. The host module is then run as Ansible runs it (its arguments as JSON) against
real files and the real Docker Engine: what it reads, what it writes, a check that refuses a
file, and the wait for a container's own healthcheck."""

import base64
import importlib.util
import json
import os
import subprocess
import sys
import uuid

import pytest
from project import ROOT

ENGINE_PATH = ROOT / "roles/stack/action_plugins/stack_service.py"
HOST_MODULE = ROOT / "roles/stack/library/stack_service_host.py"
STACK = {"name": "auterity", "network": "auterity", "log_options": {"max-size": "10m", "max-file": "3"}}


def load_engine():
    spec = importlib.util.spec_from_file_location("stack_service_engine", ENGINE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


engine = load_engine()


def service(**overrides):
    settings = {
        "name": "redis",
        "enabled": True,
        "container": "redis",
        "user": "999:999",
        "address": "127.0.0.1:6379",
        "bind_address": "127.0.0.1",
        "ports": [{"port": 6379, "name": "redis_port"}],
        "directories": [{"path": "/opt/s/redis", "mode": "0750"}, {"path": "/opt/s/redis/secrets", "mode": "0700"}],
        "files": [
            {"dest": "/opt/s/redis/redis.conf", "template": "redis.conf.j2", "mode": "0600"},
            {"dest": "/opt/s/redis/secrets/password", "secret": "redis_password", "mode": "0400"},
        ],
        "secret_env": {},
        "env": {"TZ": "UTC"},
        "volumes": ["redis_data:/data"],
        "healthcheck": {"test": ["CMD", "true"], "interval": "10s"},
        "memory": "512m",
    }
    settings.update(overrides)
    return settings


SUMS = {"/opt/s/redis/redis.conf": "a" * 64, "/opt/s/redis/secrets/password": "b" * 64}
PATTERNS = {
    "address": r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$",
    "memory": r"^[1-9][0-9]*[kmg]$",
}


# The dict's specification and the shared checks (the preflight's step "check").


def test_a_dict_as_the_roles_give_it_matches_its_specification():
    assert engine.validate_dict(service(image="redis:8", address="127.0.0.1:6379")) == []


def test_a_misspelt_key_of_the_dict_is_named():
    errors = engine.validate_dict(service(image="redis:8", helthcheck={}))
    assert errors and "helthcheck" in " ".join(errors)


def test_a_missing_required_key_of_the_dict_is_named():
    settings = service(image="redis:8")
    del settings["memory"]
    assert "memory" in " ".join(engine.validate_dict(settings))


def test_the_check_validates_only_the_keys_it_renders():
    # No healthcheck, files or secrets at preflight time: those keys are left out, not missing.
    settings = {key: value for key, value in service(image="redis:8").items() if key in engine.CHECKED_KEYS}
    assert engine.validate_dict(settings, engine.CHECKED_KEYS) == []


def test_good_shared_formats_pass():
    assert engine.shared_format_errors(service(), PATTERNS) == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"ports": [{"port": 70000, "name": "redis_port"}]}, "redis_port"),
        ({"ports": [{"port": 0, "name": "redis_port"}]}, "redis_port"),
        ({"ports": [{"port": 1, "name": "a_port"}, {"port": 1, "name": "b_port"}]}, "a_port"),
        ({"bind_address": "999.1.1.1"}, "redis_bind_address"),
        ({"memory": "lots"}, "redis_memory_limit"),
        ({"container": "-bad name"}, "redis_container_name"),
        ({"user": "redis"}, "redis_user"),
        ({"directories": [{"path": "opt/redis"}]}, "redis_config_dir"),
    ],
)
def test_a_bad_shared_format_is_named(overrides, named):
    errors = engine.shared_format_errors(service(**overrides), PATTERNS)
    # One message per bad value (two ports that clash: one for each), the first naming it.
    assert errors and named in errors[0], errors


@pytest.mark.parametrize(
    ("source", "image", "recipe", "refused"),
    [
        ("pull", "redis:8", "", False),
        ("pull", "", "redis", True),
        ("build", "redis:8", "redis", False),
        ("build", "redis:8", "", True),
        ("auto", "", "redis", False),
        ("auto", "", "", True),
    ],
)
def test_an_image_no_route_supplies_is_refused_naming_the_variable(source, image, recipe, refused):
    settings = service(image=image, recipe=recipe, image_variable="celery_app_image")
    error = engine.image_route_error(settings, source, skip_allowed=False)
    assert bool(error) == refused
    if refused and source != "build":
        assert "celery_app_image" in error
    # Allowed to skip such a service, or switched off: never refused.
    assert engine.image_route_error(settings, source, skip_allowed=True) is None
    assert engine.image_route_error(dict(settings, enabled=False), source, skip_allowed=False) is None


def found_as_expected(settings, sums=SUMS):
    found = {}
    for path, want in engine.expected_paths(settings, sums).items():
        found[path] = {
            "exists": True,
            "type": want["type"],
            "mode": want["mode"],
            "uid": want["uid"],
            "gid": want["gid"],
        }
        if want["type"] == "file":
            found[path]["sha256"] = want["sha256"]
    return found


# ---- the comparison, without Docker ----------------------------------------------------------


def test_paths_are_owned_by_the_service_user_with_default_modes():
    settings = service(directories=[{"path": "/d"}], files=[{"dest": "/d/f", "content": "x"}])
    expected = engine.expected_paths(settings, {"/d/f": "c" * 64})
    assert expected["/d"] == {"type": "directory", "mode": "0750", "uid": 999, "gid": 999}
    assert expected["/d/f"] == {"type": "file", "mode": "0640", "uid": 999, "gid": 999, "sha256": "c" * 64}


def test_paths_of_a_service_without_user_belong_to_root_unless_an_entry_names_its_owner():
    settings = service(user="", directories=[{"path": "/d", "owner": "10001", "group": 0}])
    expected = engine.expected_paths(settings, SUMS)
    assert (expected["/d"]["uid"], expected["/d"]["gid"]) == (10001, 0)
    assert (expected["/opt/s/redis/redis.conf"]["uid"], expected["/opt/s/redis/redis.conf"]["gid"]) == (0, 0)


def test_a_host_as_expected_has_no_differences():
    settings = service()
    assert engine.path_differences(engine.expected_paths(settings, SUMS), found_as_expected(settings)) == {}


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"sha256": "f" * 64}, ["content"]),
        ({"mode": "0644"}, ["mode"]),
        ({"uid": 1000}, ["owner"]),
        ({"gid": 0}, ["owner"]),
        ({"type": "directory", "sha256": None}, ["type", "content"]),
        ({"exists": False}, ["missing"]),
    ],
)
def test_each_difference_of_a_file_is_named(change, reasons):
    settings = service()
    found = found_as_expected(settings)
    found["/opt/s/redis/redis.conf"].update(change)
    assert engine.path_differences(engine.expected_paths(settings, SUMS), found) == {"/opt/s/redis/redis.conf": reasons}


def test_a_missing_directory_is_a_difference():
    settings = service()
    found = found_as_expected(settings)
    del found["/opt/s/redis/secrets"]
    assert engine.path_differences(engine.expected_paths(settings, SUMS), found) == {
        "/opt/s/redis/secrets": ["missing"]
    }


def test_the_survey_answers_for_a_service_found_there_as_expected():
    settings = service()
    expected = engine.expected_paths(settings, SUMS)
    survey = dict(found_as_expected(settings), **{"/opt/s/other/x.conf": {"exists": True, "type": "file"}})
    assert engine.surveyed_paths(expected, survey, set()) == found_as_expected(settings)


@pytest.mark.parametrize(
    "why",
    ["a path not surveyed", "a path written since the survey", "a file that differs", "a directory's owner"],
)
def test_the_survey_does_not_answer_for_a_service_it_cannot_vouch_for(why):
    settings = service()
    expected = engine.expected_paths(settings, SUMS)
    survey, written = found_as_expected(settings), set()
    if why == "a path not surveyed":
        del survey["/opt/s/redis/secrets/password"]
    elif why == "a path written since the survey":
        written.add("/opt/s/redis/redis.conf")
    elif why == "a file that differs":
        survey["/opt/s/redis/redis.conf"] = dict(survey["/opt/s/redis/redis.conf"], sha256="0" * 64)
    else:
        survey["/opt/s/redis"] = dict(survey["/opt/s/redis"], uid=0)
    assert engine.surveyed_paths(expected, survey, written) is None


def test_a_binary_with_a_checksum_stands_for_its_content():
    assert engine.file_checksum({"checksum": "sha256:" + "d" * 64}, None) == "d" * 64
    assert engine.file_checksum({}, b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def hash_of(settings, sums=SUMS, secrets=None, image_id="sha256:1", stack=STACK):
    return engine.config_hash(settings, sums, secrets or {}, image_id, stack)


def test_the_config_hash_is_stable_and_ignores_what_the_container_does_not_read():
    settings = service()
    assert hash_of(settings) == hash_of(service())
    # Where users reach it, its clients' settings and its directories are not the container's.
    assert hash_of(settings) == hash_of(service(address="elsewhere:1", clients={"host": "x"}, data_paths=["/x"]))


@pytest.mark.parametrize(
    "change",
    [
        {"memory": "1g"},
        {"env": {"TZ": "CET"}},
        {"command": ["redis-server", "--port", "6380"]},
        {"volumes": ["other:/data"]},
        {"healthcheck": {"test": ["CMD", "false"]}},
        {"ports": [{"port": 6380, "name": "redis_port"}]},
        {"user": "1000:1000"},
        {"config_inputs": ["-Xmx1g"]},
    ],
)
def test_the_config_hash_changes_with_every_container_setting(change):
    assert hash_of(service(**change)) != hash_of(service())


def test_the_config_hash_changes_with_a_file_the_image_and_the_stack():
    base = hash_of(service())
    assert hash_of(service(), sums=dict(SUMS, **{"/opt/s/redis/redis.conf": "e" * 64})) != base
    assert hash_of(service(), image_id="sha256:2") != base
    assert hash_of(service(), stack=dict(STACK, network="other")) != base
    assert hash_of(service(), stack=dict(STACK, log_options={"max-size": "20m"})) != base


def test_a_reloadable_file_does_not_change_the_config_hash():
    files = [{"dest": "/opt/s/p/prometheus.yml", "template": "p.j2", "reload": True}]
    sums = {"/opt/s/p/prometheus.yml": "1" * 64}
    changed = {"/opt/s/p/prometheus.yml": "2" * 64}
    assert hash_of(service(files=files), sums=sums) == hash_of(service(files=files), sums=changed)


def test_a_secret_in_the_environment_changes_the_hash_without_being_in_it():
    settings = service(secret_env={"PASSWORD": "redis_password"})
    first = hash_of(settings, secrets={"redis_password": "one"})
    assert first != hash_of(settings, secrets={"redis_password": "two"})
    assert "one" not in first


def test_a_healthy_container_under_the_hash_on_the_network_is_current():
    found = {"exists": True, "running": True, "health": "healthy", "config_hash": "h", "networks": ["auterity"]}
    assert engine.container_reasons(found, "h", "auterity") == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"exists": False}, "container missing"),
        ({"config_hash": "old"}, "config hash changed"),
        ({"networks": ["bridge"]}, "not on network auterity"),
        ({"running": False, "status": "exited"}, "container exited"),
        ({"health": "unhealthy"}, "container unhealthy"),
        ({"health": "starting"}, "container starting"),
    ],
)
def test_each_reason_a_container_is_not_current_is_named(change, reason):
    found = {"exists": True, "running": True, "health": "healthy", "config_hash": "h", "networks": ["auterity"]}
    found.update(change)
    assert reason in engine.container_reasons(found, "h", "auterity")


def test_the_container_arguments_carry_the_shared_options_and_the_secrets_environment():
    settings = service(secret_env={"REDIS_PASSWORD": "redis_password"}, command=["redis-server"], stop_timeout=30)
    arguments = engine.container_arguments(settings, "redis:8", {"redis_password": "pw"}, "h", STACK)
    assert arguments["env"] == {"TZ": "UTC", "REDIS_PASSWORD": "pw"}
    assert arguments["published_ports"] == ["127.0.0.1:6379:6379"]
    assert arguments["labels"] == {
        "org.auterity.stack": "auterity",
        "org.auterity.service": "redis",
        "org.auterity.config-hash": "h",
    }
    assert arguments["comparisons"] == {"labels": "strict"}
    assert (arguments["restart_policy"], arguments["memory"], arguments["user"]) == (
        "unless-stopped",
        "512m",
        "999:999",
    )
    assert (arguments["command"], arguments["stop_timeout"]) == (["redis-server"], 30)
    assert arguments["networks"] == [{"name": "auterity"}] and arguments["log_options"] == STACK["log_options"]
    assert "entrypoint" not in arguments and "shm_size" not in arguments


def test_a_secret_file_shows_no_content_in_a_diff():
    diff = engine._file_diff("/x/password", {"exists": True, "sha256": "1"}, b"new-secret", True)
    assert "new-secret" not in json.dumps(diff)
    assert (diff["before"], diff["after"]) == (engine.HIDDEN, engine.HIDDEN_CHANGED)
    shown = engine._file_diff("/x/conf", {"exists": True, "content": "a = 1\n"}, b"a = 2\n", False)
    assert (shown["before"], shown["after"]) == ("a = 1\n", "a = 2\n")


# ---- the host module, on real files and the real engine --------------------------------------


def run_host_module(tmp_path, **arguments):
    args = tmp_path / f"args-{uuid.uuid4().hex}.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments}))
    completed = subprocess.run(
        [sys.executable, str(HOST_MODULE), str(args)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    return json.loads(completed.stdout)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_host_module_writes_reads_back_and_then_changes_nothing(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    directory = tmp_path / "svc"
    wanted = {
        "directories": [{"path": str(directory), "mode": "0750", "owner": uid, "group": gid}],
        "files": [{"dest": str(directory / "a.conf"), "mode": "0600", "owner": uid, "group": gid}],
    }
    missing = run_host_module(tmp_path, **wanted)
    assert missing["paths"][str(directory / "a.conf")] == {"exists": False}

    write = dict(wanted, state="present")
    write["files"] = [dict(wanted["files"][0], content_base64=b64("port 1\n"))]
    first = run_host_module(tmp_path, **write)
    assert first["changed"] and sorted(first["written"]) == sorted([str(directory), str(directory / "a.conf")])
    assert (directory / "a.conf").read_text() == "port 1\n"
    assert oct((directory / "a.conf").stat().st_mode & 0o777) == "0o600"
    # The content is never echoed back.
    assert "port 1" not in json.dumps(first)

    again = run_host_module(tmp_path, **write)
    assert again["changed"] is False and again["written"] == []
    found = run_host_module(tmp_path, **wanted)["paths"][str(directory / "a.conf")]
    assert found["mode"] == "0600" and found["type"] == "file"
    assert found["sha256"] == engine.file_checksum({}, b"port 1\n")


def test_host_module_surveys_every_path_under_its_roots_as_a_query_reads_it(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    base = tmp_path / "base"
    (base / "svc" / "secrets").mkdir(parents=True)
    (base / "svc" / "a.conf").write_text("port 1\n")
    (base / "svc" / "secrets" / "password").write_text("s3cr3t-value")
    (base / "large.bin").write_bytes(b"\0" * ((1 << 20) + 1))
    (base / "link").symlink_to(base / "svc")
    surveyed = run_host_module(tmp_path, state="survey", roots=[str(base)], docker_socket=str(tmp_path / "none"))
    paths = surveyed["paths"]
    assert sorted(paths) == sorted(
        str(path)
        for path in (base, base / "svc", base / "svc" / "secrets", base / "svc" / "a.conf",
                     base / "svc" / "secrets" / "password", base / "large.bin", base / "link")
    )  # fmt: skip
    queried = run_host_module(
        tmp_path,
        directories=[{"path": str(base / "svc"), "mode": "0750", "owner": uid, "group": gid}],
        files=[{"dest": str(base / "svc" / "a.conf"), "mode": "0600", "owner": uid, "group": gid}],
    )["paths"]
    for path, found in queried.items():
        assert paths[path] == found
    # A large file (a data directory kept under the base directory) is listed without its sum,
    # so a step that manages it asks the host; a link is not followed; no content is returned.
    assert "sha256" not in paths[str(base / "large.bin")]
    assert paths[str(base / "link")]["type"] == "other"
    assert "s3cr3t-value" not in json.dumps(surveyed)
    # Without an engine the survey says so, and fails nothing: the play decides.
    assert surveyed["engine"]["ready"] is False and surveyed["engine"]["error"]
    assert surveyed.get("failed") is not True


def test_host_module_survey_lists_the_stacks_containers_networks_and_the_engines_tags(tmp_path, any_image):
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    label = f"org.auterity.stack={name}"
    assert docker("network", "create", "--label", label, name).returncode == 0
    assert docker("network", "create", f"{name}-other").returncode == 0
    started = docker(
        "run", "-d", "--name", name, "--label", label, "--label", "org.auterity.config-hash=abc",
        any_image, "sh", "-c", "sleep 600",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        engine_state = run_host_module(tmp_path, state="survey", stack_label=label)["engine"]
    finally:
        docker("rm", "-f", name)
        docker("network", "rm", name, f"{name}-other")
    assert engine_state["ready"] is True
    assert any_image in engine_state["images"] or f"{any_image}:latest" in engine_state["images"]
    # Only the stack's containers; one without a healthcheck is not reported healthy.
    assert engine_state["containers"] == {name: {"config_hash": "abc", "healthy": False, "networks": ["bridge"]}}
    # Only the stack's networks, with their driver (the stack's step makes one only where it is missing).
    assert engine_state["networks"] == {name: {"driver": "bridge", "labels": {"org.auterity.stack": name}}}


def test_host_module_removes_containers_then_with_remove_data_volumes_and_paths_and_nothing_else(tmp_path, any_image):
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    # One that ignores SIGTERM: stopped by its own stop timeout (2 s), then removed.
    containers = [f"{name}-a", f"{name}-b"]
    for container, command in zip(containers, ["sleep 600", "trap '' TERM; sleep 600"], strict=True):
        started = docker("run", "-d", "--name", container, "--stop-timeout", "2", any_image, "sh", "-c", command)
        assert started.returncode == 0, started.stderr
    volumes = [f"{name}-data", f"{name}-kept"]
    for volume in volumes:
        assert docker("volume", "create", volume).returncode == 0
    data, kept = tmp_path / "data", tmp_path / "kept"
    for directory in (data, kept):
        (directory / "sub").mkdir(parents=True)
        (directory / "sub" / "file").write_text("x")
    remove = {"containers": [*containers, f"{name}-never-made"], "volumes": volumes[:1], "paths": [str(data)]}
    try:
        predicted = run_host_module(tmp_path, state="absent", remove=remove, remove_data=True, _ansible_check_mode=True)
        assert predicted["changed"] is True
        assert predicted["removed"] == {"containers": containers, "volumes": volumes[:1], "paths": [str(data)]}
        assert all(docker("container", "inspect", container).returncode == 0 for container in containers)
        assert data.is_dir()

        removed = run_host_module(tmp_path, state="absent", remove=remove, remove_data=True)
        assert removed["removed"] == predicted["removed"]
        assert [c for c in containers if docker("container", "inspect", c).returncode == 0] == []
        assert docker("volume", "inspect", volumes[0]).returncode != 0
        assert not data.exists()
        # What it was not given stays.
        assert docker("volume", "inspect", volumes[1]).returncode == 0
        assert (kept / "sub" / "file").is_file()

        again = run_host_module(tmp_path, state="absent", remove=remove, remove_data=True)
        assert again["changed"] is False
        assert again["removed"] == {"containers": [], "volumes": [], "paths": []}
    finally:
        docker("rm", "-f", *containers)
        docker("volume", "rm", *volumes)


def test_host_module_leaves_the_file_in_place_when_its_check_fails(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    path = tmp_path / "b.conf"
    path.write_text("good\n")
    refused = run_host_module(
        tmp_path,
        state="present",
        files=[
            {
                "dest": str(path),
                "mode": "0640",
                "owner": uid,
                "group": gid,
                "content_base64": b64("bad\n"),
                "validate": "grep -q good %s",
            }
        ],
    )
    assert refused["failed"] and "check failed" in refused["msg"] and str(path) in refused["msg"]
    assert path.read_text() == "good\n"
    # No staged copy is left behind.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".b.conf")) == []


def docker(*arguments):
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=False)


@pytest.fixture
def any_image():
    """An image already on this machine's engine (the project builds its base first)."""
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "auterity/base")
    if listed.returncode != 0 or not listed.stdout.strip():
        pytest.skip("no Docker Engine with the project's base image here")
    return listed.stdout.split()[0]


def test_host_module_reads_a_container_and_waits_for_its_healthcheck(tmp_path, any_image):
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    started = docker(
        "run", "-d", "--name", name, "--label", "org.auterity.config-hash=abc",
        "--health-cmd", "test -e /tmp/ready", "--health-interval", "1s",
        any_image, "sh", "-c", "sleep 3; touch /tmp/ready; sleep 600",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        first = run_host_module(tmp_path, container=name)["container"]
        assert first["exists"] and first["running"] and first["config_hash"] == "abc"
        assert first["health"] in ("starting", "")
        ready = run_host_module(tmp_path, container=name, wait_healthy=60)["container"]
        assert ready["health"] == "healthy"
    finally:
        docker("rm", "-f", name)
    assert run_host_module(tmp_path, container=name)["container"] == {"exists": False}


def test_host_module_finds_a_container_ready_by_its_own_check_before_dockers_first_one(tmp_path, any_image):
    """Docker runs the first healthcheck one interval after the start: the wait runs the same
    command itself, so a service that is up does not wait out the interval. The summary's
    settle then reports what Docker says, and gives up after its timeout without failing."""
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    label = f"org.auterity.stack={name}"
    started = docker(
        "run", "-d", "--name", name, "--label", label,
        "--health-cmd", "test -e /tmp/ready", "--health-interval", "300s",
        any_image, "sh", "-c", "sleep 2; touch /tmp/ready; sleep 600",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        ready = run_host_module(tmp_path, container=name, wait_healthy=120)["container"]
        assert ready["health"] == "healthy" and ready["checked_by_wait"] is True
        # Docker's own first check is minutes away.
        assert run_host_module(tmp_path, container=name)["container"]["health"] == "starting"
        settled = run_host_module(tmp_path, settle=2, stack_label=label)
        assert settled["containers"] == {name: {"state": "running", "health": "health: starting"}}
        assert settled.get("failed") is not True
    finally:
        docker("rm", "-f", name)


def test_host_module_says_at_once_why_a_stopped_container_will_not_become_healthy(tmp_path, any_image):
    name = f"engine-test-{uuid.uuid4().hex[:8]}"
    started = docker("run", "-d", "--name", name, "--health-cmd", "true", any_image, "sh", "-c", "exit 3")
    assert started.returncode == 0, started.stderr
    try:
        docker("wait", name)
        refused = run_host_module(tmp_path, container=name, wait_healthy=120)
        assert refused["failed"]
        assert f"Container {name} did not report healthy" in refused["msg"] and "exit code 3" in refused["msg"]
    finally:
        docker("rm", "-f", name)


# ---- the image's tags, as the stack's build tasks compute them --------------------------------


def test_the_action_finds_images_under_the_tags_the_build_tasks_give_them(tmp_path, playbook):
    """images.yml builds under image_tag.yml's tags; the action looks them up itself, so both
    must hash every recipe alike (its files, build arguments, CA bundle and base image)."""
    recipes = sorted(path.parent.name for path in (ROOT / "images").glob("*/Dockerfile"))
    tags_file = tmp_path / "tags.json"
    settings = {
        "recipes": recipes,
        "tags_file": str(tags_file),
        "stack_build_goproxy": "https://proxy.example/go",
        "stack_build_pip_index_url": "https://pypi.example/simple",
    }
    run = playbook("../tests/playbooks/build_tags.yml", "-e", json.dumps(settings))
    assert run.rc == 0, run.output[-3000:]
    expected = json.loads(tags_file.read_text())
    build = {
        "images_dir": str(ROOT / "images"),
        "namespace": "auterity",
        "debian_suite": "trixie",
        "debian_mirror": "http://deb.debian.org/debian",
        "debian_security_mirror": "http://deb.debian.org/debian-security",
        # inventory/local's trust store, as the playbook read it.
        "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "maven_settings": "",
        "pip_index_url": "https://pypi.example/simple",
        "goproxy": "https://proxy.example/go",
    }
    assert engine.base_image_ref(build) == expected["base"]
    assert {recipe: engine.build_tag(build, recipe) for recipe in recipes} == {
        recipe: expected[recipe] for recipe in recipes
    }


def test_a_failed_check_of_a_file_that_holds_a_secret_does_not_show_what_the_checker_printed(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    path = tmp_path / "secret.conf"
    entry = {"dest": str(path), "mode": "0600", "owner": uid, "group": gid}
    entry.update(content_base64=b64("requirepass s3cr3t-value\n"), validate="cat %s; exit 1", private=True)
    refused = run_host_module(tmp_path, state="present", files=[entry])
    assert refused["failed"] and "the file holds a secret" in refused["msg"]
    assert "s3cr3t-value" not in json.dumps(refused)
    assert not path.exists()
