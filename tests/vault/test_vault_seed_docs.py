"""vault_seed's documentation renders and states exactly the module's argument_spec."""

import importlib.util
import subprocess

import ansible.module_utils
import pytest
import yaml
from ansible_run import ROOT

ANSIBLE_DOC = str(ROOT / ".venv" / "bin" / "ansible-doc")


@pytest.fixture(scope="module")
def module():
    # The module imports its helpers as ansible.module_utils.*, as it does once Ansible ships it.
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
    spec = importlib.util.spec_from_file_location("vault_seed", ROOT / "library" / "vault_seed.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def documented(options):
    return {
        name: {
            "type": doc.get("type", "str"),
            "required": doc.get("required", False),
            "default": doc.get("default"),
            "choices": doc.get("choices"),
            "elements": doc.get("elements"),
            "options": documented(doc["suboptions"]) if "suboptions" in doc else None,
        }
        for name, doc in options.items()
    }


def specified(spec):
    return {
        name: {
            "type": arg.get("type", "str"),
            "required": arg.get("required", False),
            "default": arg.get("default"),
            "choices": arg.get("choices"),
            "elements": arg.get("elements"),
            "options": specified(arg["options"]) if "options" in arg else None,
        }
        for name, arg in spec.items()
    }


def test_documentation_matches_argument_spec(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert documented(doc["options"]) == specified(module.ARGUMENT_SPEC)
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"
    yaml.safe_load(module.EXAMPLES)
    assert set(yaml.safe_load(module.RETURN)) == {
        "mounts",
        "auth_methods",
        "policies",
        "approles",
        "secrets",
        "role_ids",
        "secret_ids",
    }


def test_ansible_doc_renders(tmp_path):
    completed = subprocess.run(
        [ANSIBLE_DOC, "-M", str(ROOT / "library"), "vault_seed"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(ROOT / ".venv" / "bin"), "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr
    assert "wait_timeout" in completed.stdout
