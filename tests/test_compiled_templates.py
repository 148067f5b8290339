"""plugins/vars/compiled_templates.py: each template compiled once per run, for every process
the run forks, and rendered exactly as without it.

Each check runs in a process of its own, as ansible-playbook does: the main process loads the
plugin, then forks one process per task; a task's process renders with Ansible's own Templar.
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: loads the plugin as Ansible's vars loader does (an import), counts
# the compiles that Jinja really does, then renders TEMPLATES in two forked "tasks" one after
# the other, and prints what each rendered and compiled.
SCRIPT = r"""
import json, os, sys
import jinja2

compiled = []
real_compile = jinja2.Environment.compile
def counting_compile(self, source, *args, **kwargs):
    compiled.append(source if isinstance(source, str) else None)
    return real_compile(self, source, *args, **kwargs)
jinja2.Environment.compile = counting_compile

sys.path.insert(0, sys.argv[1])
import compiled_templates
from ansible.template import Templar, trust_as_template
from ansible.parsing.dataloader import DataLoader

TEMPLATES = json.loads(sys.argv[2])
VARIABLES = {"name": "kafka", "port": 9092, "hosts": ["node1", "node2"], "path": "C:\\temp\\new"}

def task():
    templar = Templar(loader=DataLoader(), variables=VARIABLES)
    del compiled[:]
    rendered = []
    for template in TEMPLATES:
        try:
            rendered.append(["ok", templar.template(trust_as_template(template))])
        except Exception as error:
            rendered.append(["error", type(error).__name__])
    conditional = templar.evaluate_conditional(trust_as_template("port | int > 9000 and 'node1' in hosts"))
    return {"rendered": rendered, "conditional": conditional, "compiled": len([s for s in compiled if s is not None])}

results = []
for _ in range(2):
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        os.write(writer, json.dumps(task()).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        results.append(json.loads(pipe.read()))
    os.waitpid(pid, 0)
print(json.dumps({"installed": compiled_templates.enabled(), "tasks": results}))
"""

TEMPLATES = [
    "{{ name }}:{{ port }}",
    "{% for host in hosts %}{{ host }}:{{ port }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{{ hosts | map('regex_replace', '$', ':' ~ port) | join(',') }}",
    # Backslashes: Ansible escapes those of a top-level template before compiling it.
    "{{ path }} {{ 'a\\nb' }}",
    "{{ '\\\\d+' | regex_search('x') }}",
    # An #jinja2: header overrides the syntax: the same text compiles differently with it.
    "#jinja2:variable_start_string:'[%', variable_end_string:'%]'\n[% name %] {{ name }}",
    "[% name %] {{ name }}",
    "{{ name | no_such_filter }}",
]


def run(cache):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "plugins/vars"), json.dumps(TEMPLATES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(pathlib.Path.home()), "STACK_TEMPLATE_CACHE": str(cache).lower()},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_templates_render_exactly_as_without_the_cache():
    cached, plain = run(True), run(False)
    assert cached["installed"] and not plain["installed"]
    for with_cache, without in zip(cached["tasks"], plain["tasks"], strict=True):
        assert with_cache["rendered"] == without["rendered"]
        assert with_cache["conditional"] == without["conditional"] is True
    rendered = dict(zip(TEMPLATES, plain["tasks"][0]["rendered"], strict=True))
    # The header's syntax and the plain one are told apart, and a bad filter still fails.
    assert rendered[TEMPLATES[5]] == ["ok", "kafka {{ name }}"]
    assert rendered[TEMPLATES[6]] == ["ok", "[% name %] kafka"]
    assert rendered[TEMPLATES[7]][0] == "error"


def test_a_later_task_of_the_run_compiles_nothing_an_earlier_one_compiled():
    first, second = run(True)["tasks"]
    assert first["compiled"] >= len(TEMPLATES) - 1
    # But the one that does not compile (an unknown filter): a failure is not kept.
    assert second["compiled"] == 1
    # Without the cache, every task compiles every template again.
    first, second = run(False)["tasks"]
    assert second["compiled"] == first["compiled"] >= len(TEMPLATES) - 1
