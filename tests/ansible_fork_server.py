"""ansible-playbook run many times from one process that has imported Ansible once.

The module tests run ansible-playbook a few hundred times with the same configuration; each
process would import Ansible (about half a second of processor time on this machine) and build
the module's payload again. This server imports ansible-playbook's own entry point once, then
forks a child per run, which calls it as the command would (ansible.cli.playbook.main) with
the run's arguments, environment, working directory and output file.

Ansible reads its configuration (ANSIBLE_* variables, an ansible.cfg) when it is imported: the
caller starts a server with the environment and a working directory that its runs share, and
runs any other ansible-playbook the usual way (tests/module_runner.py). The children share the
server's controller temporary directory, so a module's payload is built once per server.

Protocol, one JSON document per line: the caller writes {"args", "env", "cwd", "output"}; the
server answers {"pid"} once the child runs (its process group, for a caller that must stop it),
then {"rc"} when it has exited.
"""

import json
import os
import signal
import sys

from ansible.cli.playbook import main  # imported once, before the forks: the point of the server


def child(request):
    """The run itself, in the forked child: never returns."""
    code = 1
    try:
        os.setpgrp()
        # The server ignores interrupts (its caller stops the run instead); a run takes them as
        # ansible-playbook does.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["ansible-playbook", *request["args"]]
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException as error:  # noqa: BLE001 - reported in the run's output, never raised into the server
        print(f"ansible_fork_server: {error!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Not sys.exit: the server's exit handlers (which remove the shared temporary
        # directory) must not run in a child.
        os._exit(code)


def serve():
    # An interrupt meant for the caller (Ctrl-C reaches the whole process group) must not stop
    # the server while a run goes on: the caller stops that run and closes the server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
