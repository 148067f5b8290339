"""Each custom module's documentation renders and states exactly the module's argument_spec."""

import importlib.util
import subprocess

import ansible.module_utils
import pytest
import yaml
from module_runner import ROOT

ANSIBLE_DOC = str(ROOT / ".venv" / "bin" / "ansible-doc")

# For each module: the keys RETURN documents, and an option ansible-doc must show.
MODULES = {
    "vault_seed": (
        {"mounts", "auth_methods", "policies", "approles", "secrets", "role_ids", "secret_ids"},
        "wait_timeout",
    ),
    "kafka_topic": ({"topics", "created", "updated", "deleted", "unchanged"}, "allow_replication_factor_change"),
    "kafka_user": ({"users"}, "update_password"),
    "s3_buckets": ({"created", "existing"}, "secret_access_key"),
}


@pytest.fixture(params=sorted(MODULES))
def name(request):
    return request.param


@pytest.fixture
def module(name):
    # The module imports its helpers as ansible.module_utils.*, as it does once Ansible ships it.
    if str(ROOT / "module_utils") not in ansible.module_utils.__path__:
        ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def normalised(options, nested):
    """Options (documented or specified) reduced to what both state, with their `nested` sub-options."""
    return {
        name: {
            "type": option.get("type", "str"),
            "required": option.get("required", False),
            "default": option.get("default"),
            "choices": option.get("choices"),
            "elements": option.get("elements"),
            "options": normalised(option[nested], nested) if nested in option else None,
        }
        for name, option in options.items()
    }


def documented_options(doc):
    """The module's own options and those of the fragments it extends (plugins/doc_fragments)."""
    options = dict(doc["options"])
    for fragment in doc.get("extends_documentation_fragment", []):
        spec = importlib.util.spec_from_file_location(fragment, ROOT / "plugins" / "doc_fragments" / f"{fragment}.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        options |= yaml.safe_load(loaded.ModuleDocFragment.DOCUMENTATION)["options"]
    return options


def test_documentation_matches_argument_spec(name, module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert normalised(documented_options(doc), "suboptions") == normalised(module.ARGUMENT_SPEC, "options")
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"
    assert set(yaml.safe_load(module.RETURN)) == MODULES[name][0]
    for example in yaml.safe_load(module.EXAMPLES):
        assert set(example[name]) <= set(module.ARGUMENT_SPEC)


def test_ansible_doc_renders(name, module, tmp_path):
    completed = subprocess.run(
        [ANSIBLE_DOC, "-M", str(ROOT / "library"), name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(ROOT / ".venv" / "bin"), "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr
    assert MODULES[name][1] in completed.stdout
    # Every option is rendered, those from a shared fragment too.
    for option in documented_options(yaml.safe_load(module.DOCUMENTATION)):
        assert option in completed.stdout
