"""Grafana's provisioned dashboards as the tests read them, and the observability roles'
templates rendered the way a deployment renders them.

dashboard_files() and panel_queries() also serve to run every panel's expression against a
real Prometheus or Loki: panel_queries() substitutes each dashboard's constants (the metric
names that are kept in one place per dashboard), so its expressions are the queries Grafana
sends.
"""

import functools
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARDS_DIR = ROOT / "roles/grafana/files/dashboards"
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))

# The other backends whose client settings (their roles' <name>_service.clients) Grafana reads.
PUBLISHERS = ("prometheus", "alertmanager", "jaeger")
ANSIBLE_ENV = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCALHOST_WARNING": "0"}


def run_play(workdir, play, inventory_args, extra_vars, timeout):
    """ansible-playbook on one play written to <workdir>/play.yml; each extra_vars entry is a
    dict passed as one -e."""
    (workdir / "play.yml").write_text(json.dumps([play], indent=2))
    command = [ANSIBLE_PLAYBOOK, *inventory_args, str(workdir / "play.yml")]
    for variables in extra_vars:
        command += ["-e", json.dumps(variables)]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **ANSIBLE_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@functools.cache
def _published_clients_json():
    with tempfile.TemporaryDirectory(prefix="published-clients-") as workdir:
        out = pathlib.Path(workdir) / "clients.json"
        files = [ROOT / "roles/stack/defaults/main.yml"]
        files += [ROOT / "roles" / role / kind / "main.yml" for role in PUBLISHERS for kind in ("defaults", "vars")]
        play = {
            "name": "What the backends publish",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"ansible.builtin.include_vars": {"file": str(path)}} for path in files]
            + [
                {
                    "ansible.builtin.copy": {
                        "content": "{{ {"
                        + ", ".join(f"'{role}': {role}_service.clients" for role in PUBLISHERS)
                        + "} | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    }
                }
            ],
        }
        interpreter = {"ansible_python_interpreter": sys.executable}
        completed = run_play(pathlib.Path(workdir), play, ["-i", "localhost,", "-c", "local"], [interpreter], 300)
        if completed.returncode != 0:
            raise RuntimeError(f"rendering the published clients failed:\n{completed.stdout}{completed.stderr}")
        return out.read_text()


def published_clients():
    """The other backends' client settings: each role's <name>_service.clients
    (vars/main.yml), rendered by Ansible from the role's defaults and the stack's, on
    localhost, which stands in for their host in render(). A fresh copy on each call, for the
    caller to change."""
    return json.loads(_published_clients_json())


def dashboard_files():
    """The role's dashboard files, sorted."""
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load(dashboard):
    """A dashboard as a dict, from a path or a dict."""
    if isinstance(dashboard, dict):
        return dashboard
    return json.loads(pathlib.Path(dashboard).read_text())


def constants(dashboard):
    """The dashboard's constant variables, name: value."""
    variables = load(dashboard).get("templating", {}).get("list", [])
    return {v["name"]: v["query"] for v in variables if v.get("type") == "constant"}


def panels(dashboard):
    """Every panel, rows and the panels inside collapsed rows included."""

    def walk(items):
        for item in items:
            yield item
            yield from walk(item.get("panels", []))

    return list(walk(load(dashboard).get("panels", [])))


def substitute(expr, values):
    """expr with $name and ${name} of the given variables replaced by their values."""

    def replace(match):
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def panel_queries(dashboard):
    """(dashboard title, panel title, datasource uid, expr) for every target of every panel,
    nested rows included; a target without a datasource of its own uses its panel's."""
    board = load(dashboard)
    values = constants(board)
    queries = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            uid = datasource.get("uid") if isinstance(datasource, dict) else datasource
            queries.append((board["title"], panel.get("title", ""), uid, substitute(target.get("expr", ""), values)))
    return queries


def render(workdir, *, extra_vars=None, host_vars=None, facts=None, remote=None, not_here=(), renders=()):
    """Run the stack, loki and grafana preflights as site.yml does, on localhost, which is in
    the groups of every backend but those of `not_here` (host_vars: more of its inventory
    variables, such as stack_service_images; facts: facts set first, as a run sets them, such
    as stack_skipped; remote: other hosts, each with its groups and variables), generate the
    secrets Grafana lists into workdir/credentials, and render each (role, template) of
    `renders` into workdir/out/<template>, with the grafana and loki dicts and their client
    settings (lookup stack_client) in workdir/out/dicts.json.

    Returns (completed ansible-playbook process, credentials dir, out dir)."""
    workdir = pathlib.Path(workdir)
    out = workdir / "out"
    credentials = workdir / "credentials"
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **(host_vars or {})}
    hosts = {"localhost": host}
    children = {
        group: {"hosts": {"localhost": None}}
        for group in ("prometheus", "alertmanager", "jaeger", "loki", "grafana")
        if group not in not_here
    }
    for name, settings in (remote or {}).items():
        hosts[name] = {key: value for key, value in settings.items() if key != "groups"}
        for group in settings["groups"]:
            children.setdefault(group, {"hosts": {}})["hosts"][name] = None
    inventory = {"all": {"hosts": hosts, "children": children}}
    play = {
        "name": "Render the observability roles' configuration",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"stack_credentials_dir": str(credentials), "stack_base_dir": str(workdir / "opt"), "out": str(out)},
        "tasks": [{"ansible.builtin.set_fact": facts}] * bool(facts)
        + [
            {"ansible.builtin.include_role": {"name": role, "tasks_from": "preflight", "public": True}}
            for role in ("stack", "loki", "grafana")
        ]
        + [
            {"ansible.builtin.file": {"path": "{{ out }}", "state": "directory", "mode": "0700"}},
            {
                "ansible.builtin.include_role": {"name": "stack", "tasks_from": "secrets"},
                "vars": {"stack_secret_names": "{{ grafana_service.secrets }}"},
            },
            {
                "ansible.builtin.template": {"src": "{{ item.0 }}", "dest": "{{ out }}/{{ item.1 }}", "mode": "0600"},
                "loop": [[str(ROOT / "roles" / role / "templates" / f"{name}.j2"), name] for role, name in renders],
            },
            {
                "ansible.builtin.copy": {
                    "content": "{{ {'grafana': grafana_service, 'loki': loki_service, 'clients':"
                    " {'grafana': lookup('stack_client', 'grafana'), 'loki': lookup('stack_client', 'loki')}}"
                    " | to_json }}",
                    "dest": "{{ out }}/dicts.json",
                    "mode": "0600",
                },
                # Outside a role: where the grafana role's dict looks for its dashboards.
                "vars": {"role_path": str(ROOT / "roles/grafana")},
            },
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "hosts.yml").write_text(yaml.safe_dump(inventory))
    extra = [{name: value} for name, value in (extra_vars or {}).items()]
    completed = run_play(workdir, play, ["-i", str(workdir / "hosts.yml")], extra, 600)
    return completed, credentials, out
