"""Every role has one shape: its defaults, its argument specs and its README's variables table
describe the same variables, all prefixed with the role's name, so that a reader of any of
them knows all of them. Every service role is on the list of services, drives the shared
service entry point with its dict, and has an inventory group."""

import re

import pytest
import role_docs
import yaml
from project import ROOT, SERVICES

ROLES_DIR = ROOT / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir())
# Roles that deploy no service of their own: the engine, the shared entry points, and the
# settings that the Celery application's three services share.
SHARED_ROLES = ("docker", "stack", "celery_app")
SERVICE_ROLES = [r for r in ROLES if r not in SHARED_ROLES]


def load(role, relative):
    return yaml.safe_load((ROLES_DIR / role / relative).read_text()) or {}


def main_options(role):
    """The options of the role's entry point main; a role without tasks/main.yml (celery_app,
    whose services include its entry points check and prepare) documents them under check."""
    specs = load(role, "meta/argument_specs.yml")["argument_specs"]
    return specs["main" if (ROLES_DIR / role / "tasks" / "main.yml").exists() else "check"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_do_not_drift(role):
    assert sorted(load(role, "defaults/main.yml")) == sorted(main_options(role))


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_is_prefixed_with_the_role_name(role):
    defaults = load(role, "defaults/main.yml")
    assert [name for name in defaults if not name.startswith(f"{role}_")] == []


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_match_the_specs(role):
    defaults = load(role, "defaults/main.yml")
    for name, spec in main_options(role).items():
        if "default" in spec:
            assert spec["default"] == defaults[name], name


@pytest.mark.parametrize("role", ROLES)
def test_the_role_readme_tables_every_variable_and_no_other(role):
    readme = (ROLES_DIR / role / "README.md").read_text()
    tabled = re.findall(r"^\| `([a-z0-9_]+)` \|", readme, re.M)
    assert len(tabled) == len(set(tabled)), "a variable is listed twice"
    assert sorted(tabled) == sorted(main_options(role))


@pytest.mark.parametrize("role", role_docs.roles())
def test_the_role_readme_variables_tables_are_generated(role):
    # The table is rendered from meta/argument_specs.yml and defaults/main.yml (tests/role_docs.py),
    # so that a setting is described in those two files only.
    written = role_docs.table(role_docs.current_readme(role))
    rendered = role_docs.table(role_docs.rendered_readme(role))
    assert written == rendered, (
        f"roles/{role}/README.md: its variables table is not the one its specs render; run {role_docs.COMMAND}"
    )


def test_the_top_readme_links_every_role_readme():
    readme = (ROOT / "README.md").read_text()
    assert [role for role in ROLES if f"(roles/{role}/README.md)" not in readme] == []


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_service_roles_can_be_switched_off_and_validate_first(role):
    assert load(role, "defaults/main.yml")[f"{role}_enabled"] is True
    # main.yml: the preflight (which changes nothing), then deploy.yml, which site.yml includes
    # after its first play has run every preflight.
    steps = [task.get("ansible.builtin.include_tasks") for task in load(role, "tasks/main.yml")]
    assert steps == ["preflight.yml", "deploy.yml"]
    specs = load(role, "meta/argument_specs.yml")["argument_specs"]
    assert specs["preflight"] == specs["main"]


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_service_roles_are_listed_and_deployed_from_their_dict(role):
    assert role in SERVICES
    service = load(role, "vars/main.yml")[f"{role}_service"]
    assert service["name"] == role
    # The shared entry point is fed the dict, in the role's tasks (not spelt out again).
    tasks = "\n".join(path.read_text() for path in (ROLES_DIR / role / "tasks").glob("*.yml"))
    assert f'stack_service: "{{{{ {role}_service }}}}"' in tasks
    assert "community.docker.docker_container:" not in tasks


@pytest.mark.parametrize(
    "inventory", ["inventory/local/hosts.yml", "inventory/multinode/hosts.yml", ".config/molecule/config.yml"]
)
def test_every_service_has_an_inventory_group(inventory):
    text = yaml.safe_load((ROOT / inventory).read_text())
    groups = set(text["platforms"][0]["groups"]) if "platforms" in text else set(text["all"]["children"])
    assert [name for name in SERVICES if name not in groups] == []
