"""make test: the images first, then the parts that share nothing but the Docker engine side
by side, in three lanes of about the same length:
1. pytest on the localhost stack (tests/test_localhost_*.py): it deploys the all-in-one stack
   with site.yml, runs it again, and checks every service through it (each part needs the
   one before, so it runs first in line), then destroy.yml on a stack of its own;
2. lint, then the Vault scenario, then the three-node scenario;
3. the module tests (pytest on servers of their own: Kafka brokers, OpenBao, Redis, which stop
   when that pytest ends), then every other pytest module: rendered configurations,
   preflight, the image cache and the vault role's options (on Vaults of their own), none of
   which needs the main stack.
The all-in-one stack is deployed once, on localhost, and every all-in-one check shares it: the
Molecule `default` scenario deploys the same stack again inside a host container, so make
test leaves it to `make molecule SCENARIOS=default`. The machine's two cores are busy from
start to end: a part's wall time depends on what runs beside it, so the closing table gives
each part's processor time too. Each part runs even when the one before it in its lane failed.
Each part's output goes to .cache/test-logs/<part>.log, each line stamped with the part's
minute, and is printed when the part is done; the run ends with the table and exits non-zero
when any part failed."""

import os
import pathlib
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOGS = ROOT / ".cache" / "test-logs"
# The venv's tools (this interpreter's directory) come first, as after `source .venv/bin/activate`.
BIN = pathlib.Path(sys.executable).parent
# The harness (images and registry) is made ready once, by the "images" part; each scenario
# would otherwise go over every image again in its dependency step.
ENV = dict(
    os.environ,
    PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    VIRTUAL_ENV=str(BIN.parent),
    MOLECULE_HARNESS="false",
)
# The parts call the tools directly, not make targets: those would each install the engine
# again, side by side. make test has made sure of the engine once before.
FIRST = [("images", [str(BIN / "ansible-playbook"), "molecule/shared/harness.yml"])]
TESTS = ROOT / "tests"
# The tests that use the stack on localhost, and those that need none.
TEST_FILES = sorted(f"tests/{path.name}" for path in TESTS.glob("test_*.py"))
LOCALHOST_TESTS = [path for path in TEST_FILES if path.startswith("tests/test_localhost_")]
# destroy.yml's test deploys a stack of its own beside the main one (a minute or so).
OWN_STACK_TESTS = ["tests/test_destroy.py"]
OTHER_TESTS = [path for path in TEST_FILES if path not in LOCALHOST_TESTS + OWN_STACK_TESTS]
# The module tests start their own servers and stop them when their pytest ends; run with the
# localhost tests, they would idle beside the stack for the whole session.
MODULE_TESTS = ["tests/kafka", "tests/vault", "tests/celery_app", "tests/s3"]
PYTEST = str(BIN / "pytest")
MOLECULE = str(BIN / "molecule")
# The localhost lane is one long chain (deploy, run again, then every check that uses the
# stack), while the other two have time to spare: its processes get a larger share of the
# two cores (coreutils' nice warns and runs the command anyway where that is not allowed).
FIRST_IN_LINE = ["nice", "-n", "-5"]
LANES = [
    [("pytest localhost", [*FIRST_IN_LINE, PYTEST, *LOCALHOST_TESTS]), ("pytest destroy", [PYTEST, *OWN_STACK_TESTS])],
    [
        ("lint", ["make", "--no-print-directory", "lint"]),
        ("molecule vault", [MOLECULE, "test", "-s", "vault"]),
        ("molecule multinode", [MOLECULE, "test", "-s", "multinode"]),
    ],
    [
        ("pytest modules", [PYTEST, *MODULE_TESTS]),
        ("pytest others", [PYTEST, *OTHER_TESTS]),
    ],
]
results = {}
print_lock = threading.Lock()


def run_part(name, command):
    log = LOGS / f"{name.replace(' ', '-')}.log"
    started = time.monotonic()
    # Each line starts with the minute and second of the part it was printed at, so that a slow
    # run shows which step took the time.
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        for line in process.stdout:
            minutes, seconds = divmod(int(time.monotonic() - started), 60)
            output.write(f"[{minutes:3d}:{seconds:02d}] {line}")
            output.flush()
        # The part's processor time (its processes', not its containers': those run under
        # the engine): the two cores are shared, so a part's wall time depends on the others.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = code = os.waitstatus_to_exitcode(status)
    results[name] = (code, time.monotonic() - started, usage.ru_utime + usage.ru_stime)
    with print_lock:
        print(f"\n===== {name}: {'passed' if code == 0 else 'FAILED'} in {results[name][1]:.0f} s ({log}) =====")
        print(log.read_text(), flush=True)
    return code


def run_lane(parts):
    for name, command in parts:
        run_part(name, command)


def main():
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for name, command in FIRST:
        if run_part(name, command) != 0:
            return report(started)
    threads = [threading.Thread(target=run_lane, args=(lane,)) for lane in LANES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report(started)


def report(started):
    print(f"\nmake test took {time.monotonic() - started:.0f} s (lanes run side by side; cpu: the part's")
    print("processes' processor time, its containers' not counted):")
    for name, (code, elapsed, cpu) in results.items():
        print(f"  {name:<20} {elapsed:6.0f} s  cpu {cpu:6.0f} s  {'passed' if code == 0 else 'FAILED'}")
    expected = len(FIRST) + sum(len(lane) for lane in LANES)
    failed = any(code != 0 for code, _, _ in results.values()) or len(results) < expected
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
