# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""stack_build_progress: follow an image build that runs in the background on the build host.

The build writes its log to `log` and, when it ends, its exit code to `log`.rc. This action
reads the end of the log with one shell command every few seconds and prints the step
the build is on whenever it changes, and at least every minute, so that a build of a quarter
of an hour shows how far it got. It returns the exit code and the log's last lines.

Options: log (path on the build host), name (what is built, for the lines printed),
timeout (seconds, default 10800), interval (seconds, default 5).
"""

from __future__ import annotations

import re
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()
# BuildKit's plain progress: "#12 [builder 4/7] RUN go build ..." starts a step.
STEP = re.compile(r"^#\d+ \[[^\]]+\] .*")
TAIL_LINES = 40
REPORT_EVERY = 60


def current_step(lines):
    """The last step the log started, else its last line."""
    for line in reversed(lines):
        if STEP.match(line):
            return line
    return lines[-1] if lines else "(nothing logged yet)"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        log = self._task.args["log"]
        name = self._task.args.get("name", log)
        timeout = int(self._task.args.get("timeout", 10800))
        interval = int(self._task.args.get("interval", 5))
        host = (task_vars or {}).get("inventory_hostname", "")
        quoted = shlex.quote(log)
        command = f"tail -n {TAIL_LINES} {quoted} 2>/dev/null; echo; echo ::rc::$(cat {quoted}.rc 2>/dev/null)"
        started = time.monotonic()
        shown, shown_at = None, 0.0
        while True:
            answer = self._low_level_execute_command(command)
            output = to_text(answer.get("stdout", ""), errors="replace").splitlines()
            marker = [line for line in output if line.startswith("::rc::")]
            lines = [line for line in output if line and not line.startswith("::rc::")]
            rc = marker[-1][len("::rc::") :].strip() if marker else ""
            elapsed = time.monotonic() - started
            step = current_step(lines)
            if step != shown or elapsed - shown_at >= REPORT_EVERY:
                minutes, seconds = divmod(int(elapsed), 60)
                display.display(f"  {host}: {name} [{minutes}:{seconds:02d}] {step[:160]}")
                shown, shown_at = step, elapsed
            if rc:
                result.update(changed=True, rc=int(rc), tail=lines, elapsed=round(elapsed))
                return result
            if elapsed > timeout:
                raise AnsibleActionFail(f"The build of {name} did not end within {timeout} s; its log: {log}")
            time.sleep(interval)
