"""render_write: files written on the controller, straight from Python.

The render playbook writes dozens of files per host; a module call for each (copy, template,
file) would start a Python process per file. Options: `files`, a dict of path -> text.
Directories are made as needed; a file already holding that text is left alone."""

import os

from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        changed = False
        for path, text in (self._task.args.get("files") or {}).items():
            content = to_bytes(text)
            try:
                with open(path, "rb") as handle:
                    if handle.read() == content:
                        continue
            except FileNotFoundError:
                pass
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content)
            changed = True
        result["changed"] = changed
        return result
