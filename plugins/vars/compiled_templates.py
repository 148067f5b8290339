"""Every Jinja template compiled once per run, instead of once per task.

ansible-core compiles a template each time it renders one (Jinja's `from_string` keeps
nothing), and every task runs in a process forked for it: the same templates (a role's
defaults, the service dicts, each `when`) are compiled again in every task that reads them.
Measured on this project, rendering every service of inventory/multinode: 7402 compiles of 910
distinct templates, 36% of the run's processor time.

This plugin keeps each compiled template (Python code, as Jinja's own bytecode cache keeps it)
in the run's private temporary directory (the controller's `ansible-local-*` directory, 0700,
which ansible-playbook removes when it ends), under a digest of everything the compiled code
depends on: the template's text, the environment's syntax settings (an `#jinja2:` header's
overrides included), Ansible's backslash escaping, and the Python, Jinja and Ansible
versions. A task's process finds there what the run's other processes compiled before it.
What is compiled is exactly what Jinja would compile; only the work is shared. A template that
Ansible compiles in its template debugging mode, a raw or pre-parsed one, is compiled as usual.

It is a vars plugin because Ansible loads vars plugins in its main process before it forks
any task's process; it adds no variables. STACK_TEMPLATE_CACHE=false turns it off (for a
comparison: tests/benchmarks/bench_noop_run.py measures the no-op run both ways).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile

from ansible import constants as C
from ansible import release
from ansible.plugins.vars import BaseVarsPlugin

DOCUMENTATION = r"""
name: compiled_templates
short_description: Compiles each Jinja template once per run, for every task's process
description:
  - Keeps every template that the run compiles, as Python code, in the run's private temporary
    directory on the controller, so that the tasks' processes do not compile it again.
  - Adds no variables. Set the environment variable STACK_TEMPLATE_CACHE=false to turn it off.
"""

SWITCH = "STACK_TEMPLATE_CACHE"
CACHE_DIR = os.path.join(C.DEFAULT_LOCAL_TMP, "compiled_templates")
# Settings of a Jinja environment that change what a template compiles to.
SYNTAX_FIELDS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "autoescape",
    "is_async",
)
# This process's compiled templates, by key (a task's process lives for one task; the main
# process's entries are inherited by every task's process it forks).
MEMORY_ENTRIES = 4096
_memory: dict[str, object] = {}


def enabled() -> bool:
    return os.environ.get(SWITCH, "true").strip().lower() not in ("0", "false", "no", "off")


def cache_key(env, source: str, compile_options: tuple) -> str:
    """The digest of everything the compiled code depends on (compile_options: the name,
    file name and defer_init that Jinja's compile was given, and Ansible's backslash escaping)."""
    settings = [repr(getattr(env, field, None)) for field in SYNTAX_FIELDS]
    parts = [
        sys.version,
        release.__version__,
        sys.modules["jinja2"].__version__,
        f"{type(env).__module__}.{type(env).__qualname__}",
        f"{env.code_generator_class.__module__}.{env.code_generator_class.__qualname__}",
        *settings,
        repr(sorted(env.extensions)),
        repr(compile_options),
        source,
    ]
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def load(key: str):
    try:
        with open(os.path.join(CACHE_DIR, key), "rb") as handle:
            return marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def store(key: str, code) -> None:
    """Written whole or not at all (another process may read it at once)."""
    try:
        os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
        handle, path = tempfile.mkstemp(dir=CACHE_DIR, prefix=".new-")
        with os.fdopen(handle, "wb") as output:
            marshal.dump(code, output)
        os.replace(path, os.path.join(CACHE_DIR, key))
    except (OSError, ValueError):
        pass


def install() -> bool:
    """Wrap Ansible's Jinja environment's compile; False where this Ansible is not the one the
    plugin knows (the templates are then compiled as usual)."""
    if not enabled():
        return False
    try:
        from ansible._internal._templating import _jinja_bits  # noqa: PLC0415 - absent from other Ansible releases
    except ImportError:
        return False
    environment_class = getattr(_jinja_bits, "AnsibleEnvironment", None)
    compile_context = getattr(_jinja_bits, "_TemplateCompileContext", None)
    debug_context = getattr(_jinja_bits, "_CompileStateSmugglingCtx", None)
    if environment_class is None or compile_context is None or debug_context is None:
        return False
    original = environment_class.compile
    if getattr(original, "compiled_templates", False):
        return True

    # Jinja's own signature, which its callers use.
    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: A001, PLR0917
        if (
            not isinstance(source, str)
            or raw
            or getattr(self, "_debuggable_template_source", False)
            or debug_context.current(optional=True) is not None
        ):
            return original(self, source, name, filename, raw, defer_init)
        context = compile_context.current(optional=True)
        escape_backslashes = None if context is None else context.escape_backslashes
        key = cache_key(self, source, (name, filename, bool(defer_init), escape_backslashes))
        code = _memory.get(key)
        if code is None:
            code = load(key)
            if code is None:
                code = original(self, source, name, filename, raw, defer_init)
                store(key, code)
            if len(_memory) >= MEMORY_ENTRIES:
                _memory.clear()
            _memory[key] = code
        return code

    compile.compiled_templates = True
    environment_class.compile = compile
    return True


install()


class VarsModule(BaseVarsPlugin):
    """No variables: the plugin's work is done when Ansible loads it (install, above)."""

    REQUIRES_ENABLED = True

    def get_vars(self, loader, path, entities, cache=True):
        return {}
