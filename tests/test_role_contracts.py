"""Every role has one shape: its defaults and its argument specs describe the same variables,
all prefixed with the role's name, so that a reader of either knows all of them."""

import pathlib

import pytest
import yaml

ROLES = sorted(p.name for p in (pathlib.Path(__file__).resolve().parent.parent / "roles").iterdir())
ROLES_DIR = pathlib.Path(__file__).resolve().parent.parent / "roles"


def load(role, relative):
    return yaml.safe_load((ROLES_DIR / role / relative).read_text()) or {}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_do_not_drift(role):
    defaults = load(role, "defaults/main.yml")
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_is_prefixed_with_the_role_name(role):
    defaults = load(role, "defaults/main.yml")
    assert [name for name in defaults if not name.startswith(f"{role}_")] == []


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_match_the_specs(role):
    defaults = load(role, "defaults/main.yml")
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], name


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("docker", "stack")])
def test_service_roles_can_be_switched_off_and_validate_first(role):
    defaults = load(role, "defaults/main.yml")
    assert defaults[f"{role}_enabled"] is True
    tasks = load(role, "tasks/main.yml")
    assert tasks[0]["ansible.builtin.import_tasks"] == "preflight.yml"
    specs = load(role, "meta/argument_specs.yml")["argument_specs"]
    assert specs["preflight"] == specs["main"]
