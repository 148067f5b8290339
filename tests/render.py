"""Every service of an inventory rendered on the controller, without touching a host
(tests/playbooks/render_configs.yml): what each deploy would write and run, per host."""

import atexit
import functools
import json
import pathlib
import shutil
import tempfile

from project import ROOT, run_playbook


def render(inventory, directory, *arguments, credentials=None, services=None):
    """Render `inventory` into `directory` (<host>/<service>.json and the telemetry services'
    files); `credentials`: an existing credentials directory to read the secrets from;
    `services`: those to render (default: every one)."""
    variables = {"render_dir": str(directory), "ansible_python_interpreter": str(ROOT / ".venv/bin/python")}
    if credentials:
        variables["render_credentials_dir"] = str(credentials)
    if services:
        variables["render_services"] = list(services)
    return run_playbook(
        "../tests/playbooks/render_configs.yml", "-e", json.dumps(variables), *arguments, inventory=inventory
    )


@functools.cache
def full_render(inventory, services=None):
    """The inventory rendered once per test session, for every test that reads it."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="render-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    run = render(inventory, directory, services=services)
    assert run.rc == 0, run.output[-3000:]
    return directory
