"""kafka_topic's documentation renders and states exactly the module's argument_spec."""

import importlib.util
import subprocess

import ansible.module_utils
import pytest
import yaml
from kafka_playbook import ROOT

ANSIBLE_DOC = str(ROOT / ".venv" / "bin" / "ansible-doc")


@pytest.fixture(scope="module")
def module():
    # The module imports its helpers as ansible.module_utils.*, as it does once Ansible ships it.
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
    spec = importlib.util.spec_from_file_location("kafka_topic", ROOT / "library" / "kafka_topic.py")
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
    assert set(yaml.safe_load(module.RETURN)) == {"topics", "created", "updated", "deleted", "unchanged"}
    for example in yaml.safe_load(module.EXAMPLES):
        assert set(example["kafka_topic"]) <= set(module.ARGUMENT_SPEC)


def test_ansible_doc_renders(tmp_path):
    completed = subprocess.run(
        [ANSIBLE_DOC, "-M", str(ROOT / "library"), "kafka_topic"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(ROOT / ".venv" / "bin"), "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr
    assert "allow_replication_factor_change" in completed.stdout
