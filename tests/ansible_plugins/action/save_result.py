"""save_result: write a string to a file on the controller, readable by its owner only.

The module tests save each run's registered result with it. Being an action without a module,
it adds no module run (and no module start-up) to the run it checks.

Options: content (the string), dest (the file's path on the controller).
"""

import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dest = self._task.args["dest"]
        descriptor = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as saved:
            saved.write(str(self._task.args["content"]))
        result["changed"] = False
        return result
