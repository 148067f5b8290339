"""Fixtures for the s3_buckets tests: one real SeaweedFS S3 server for the session and a runner
for the module.

Every test works on buckets named after its own random prefix, so the tests stay independent
while sharing the server.
"""

import functools
import itertools
import secrets

import module_runner
import pytest
import seaweedfs_server

run_tasks = functools.partial(module_runner.run_tasks, play_name="s3_buckets test run", drop_env=("AWS_", "ANSIBLE_"))


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = seaweedfs_server.start(tmp_path_factory.mktemp("seaweedfs"))
    if server is None:
        pytest.skip(
            f"no {seaweedfs_server.IMAGE_REPOSITORY} image on this Docker engine: build it with "
            """ansible-playbook playbooks/images.yml -e '{"images_recipes": ["seaweedfs"]}'"""
        )
    yield server
    server.stop()


@pytest.fixture
def uid():
    """A prefix unique to the test, for its bucket names."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def s3_buckets(s3, tmp_path):
    """Run one s3_buckets task through ansible-playbook; returns the PlaybookRun with its result.

    Module options are keyword arguments; endpoint_url defaults to the session's server and the
    key to its admin key. The key reaches the play through an extra-vars file, as a stack secret
    does; the task ignores errors so that a failure's result is saved too.
    """
    runs = itertools.count()

    def run(*, key=None, check=False, diff=False, verbose=False, **options):
        key = key or s3.admin
        options.setdefault("endpoint_url", s3.endpoint_url)
        task = {
            "name": "S3 buckets",
            "s3_buckets": {
                "access_key_id": "{{ s3_access_key_id }}",
                "secret_access_key": "{{ s3_secret_access_key }}",
                **options,
            },
            "register": "s3_result",
            "ignore_errors": True,
        }
        extra_vars = {"s3_access_key_id": key.access_key_id, "s3_secret_access_key": key.secret_access_key}
        flags = [flag for flag, wanted in (("--check", check), ("--diff", diff), ("-vvv", verbose)) if wanted]
        return run_tasks(tmp_path / f"run{next(runs)}", [task], flags, extra_vars=extra_vars, register="s3_result")

    return run
