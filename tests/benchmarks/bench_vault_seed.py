"""Benchmark: one vault_seed task against a loop of community.hashi_vault.vault_kv2_write tasks.

Both write the same secrets to one local raft OpenBao server, under different path prefixes: first
cold (every path new), then again with nothing to change. Prints the four wall-clock times, each a
whole ansible-playbook run, and the two speed-ups.

Then how soon vault_seed gives up on a server that does not answer and on a sealed one
(wait_timeout 3 s each): each run's time is printed beside its baseline, a run that the live
server refuses at once (a token it does not know: ansible-playbook's and the module's start and
one round trip), and their ratio.

Exits non-zero when a run fails (or, for the failures, does not fail with its message) or leaves
the server in the wrong state; the times are reported, not enforced.

    .venv/bin/python tests/benchmarks/bench_vault_seed.py [--secrets 300]
"""

import argparse
import os
import pathlib
import secrets
import sys
import tempfile

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "vault")]
# Each run a whole ansible-playbook process, as a user starts it (tests/project.py).
os.environ["PLAYBOOK_FORK_SERVER"] = "0"

import openbao  # noqa: E402
from ansible_run import run_tasks  # noqa: E402
from bench_table import print_ratios, print_table  # noqa: E402

MOUNT = "bench"
POLICY = {"name": "bench-failure", "rules": 'path "x" { capabilities = ["read"] }'}
GOAL = 30


def bench_secrets(count, prefix):
    """Secrets in vault_seed's shape, which the loop reads too (it ignores mount)."""
    return [
        {
            "mount": MOUNT,
            "path": f"{prefix}/app{index:04d}",
            "data": {"user": f"user{index}", "password": secrets.token_urlsafe(24)},
        }
        for index in range(count)
    ]


SEED_TASK = {
    "name": "Seed all secrets",
    "vault_seed": {"url": "{{ vault_url }}", "token": "{{ vault_token }}", "secrets": "{{ bench_secrets }}"},
}

LOOP_TASK = {
    "name": "Write each secret",
    "community.hashi_vault.vault_kv2_write": {
        "url": "{{ vault_url }}",
        "token": "{{ vault_token }}",
        "engine_mount_point": MOUNT,
        "path": "{{ item.path }}",
        "data": "{{ item.data }}",
        "read_before_write": True,
    },
    "loop": "{{ bench_secrets }}",
    "loop_control": {"label": "{{ item.path }}"},
    "no_log": True,
}


def timed(workdir, task, server, items, expect_changed):
    """Wall time of one playbook run; the run's stats say whether the task changed anything."""
    extra_vars = {"vault_url": server.url, "vault_token": server.token, "bench_secrets": items}
    run = run_tasks(workdir, [task], extra_vars=extra_vars)
    if run.rc != 0 or run.changed_count is None or (run.changed_count > 0) is not expect_changed:
        print(run.output[-4000:], file=sys.stderr)
        raise SystemExit(f"{task['name']}: expected changed={expect_changed}; the run failed or disagreed")
    return run.elapsed


def time_failure(workdir, url, token, options, message):
    """Wall time of one ansible-playbook run of vault_seed that must fail, saying message."""
    task = dict(SEED_TASK, vault_seed={"url": "{{ vault_url }}", "token": "{{ vault_token }}", **options})
    task.update(register="seed_result", ignore_errors=True)
    run = run_tasks(workdir, [task], extra_vars={"vault_url": url, "vault_token": token}, register="seed_result")
    if not run.failed or message not in (run.result or {}).get("msg", ""):
        print(run.output[-4000:], file=sys.stderr)
        raise SystemExit(f"vault_seed: expected a failure saying {message!r}")
    return run.elapsed


def measure_failures(workdir, server):
    """(label, seconds, baseline seconds) of each failing run: a server that does not answer, and
    a sealed raft server of its own (gone afterwards)."""
    baseline = time_failure(
        workdir / "bad-token", server.url, "s.NotARealToken000000000", {"policies": [POLICY]}, "rejected the token"
    )
    lost = f"http://127.0.0.1:{openbao.free_port()}"
    unreachable = time_failure(
        workdir / "unreachable",
        lost,
        server.token,
        {"wait_timeout": 3, "policies": [POLICY]},
        f"Vault at {lost} is still unreachable after waiting 3s",
    )
    sealed_server = openbao.start_raft(workdir / "sealed-openbao")
    try:
        sealed_server.client().sys.seal()
        sealed = time_failure(
            workdir / "sealed",
            sealed_server.url,
            sealed_server.token,
            {"wait_timeout": 3, "policies": [POLICY]},
            f"Vault at {sealed_server.url} is still sealed after waiting 3s",
        )
    finally:
        sealed_server.stop()
    return [
        ("server that does not answer (wait_timeout 3 s)", unreachable, baseline),
        ("sealed server (wait_timeout 3 s)", sealed, baseline),
    ]


def count_paths(server, prefix):
    return len(server.client().secrets.kv.v2.list_secrets(path=prefix, mount_point=MOUNT)["data"]["keys"])


def measure(workdir, count):
    """The four timings and the failures' timings, on a raft server of its own that is gone
    afterwards."""
    server = openbao.start_raft(workdir / "openbao")
    try:
        server.client().sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
        # One small untimed run of each, so that neither pays for cold file caches.
        timed(workdir / "warmup-seed", SEED_TASK, server, bench_secrets(1, "warmup-seed"), True)
        timed(workdir / "warmup-loop", LOOP_TASK, server, bench_secrets(1, "warmup-loop"), True)
        seeded, looped = bench_secrets(count, "seed"), bench_secrets(count, "loop")
        times = {
            ("vault_seed", "cold"): timed(workdir / "seed-cold", SEED_TASK, server, seeded, True),
            ("vault_seed", "no-op"): timed(workdir / "seed-noop", SEED_TASK, server, seeded, False),
            ("loop", "cold"): timed(workdir / "loop-cold", LOOP_TASK, server, looped, True),
            ("loop", "no-op"): timed(workdir / "loop-noop", LOOP_TASK, server, looped, False),
        }
        for prefix in ("seed", "loop"):
            if count_paths(server, prefix) != count:
                raise SystemExit(f"expected {count} secrets under {MOUNT}/{prefix}/")
        return times, measure_failures(workdir / "failures", server)
    finally:
        server.stop()


def report(count, times, failures):
    title = f"{count} secrets, raft OpenBao on loopback, wall time of each ansible-playbook run"
    labels = {"vault_seed": "vault_seed, one task", "loop": "vault_kv2_write, loop of tasks"}
    print_table(title, times, "vault_seed", "loop", goal=GOAL, labels=labels)
    print()
    title = "vault_seed failures: wall time of each run, beside a run the live server refuses at once (bad token)"
    print_ratios(title, failures, "baseline")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=300, help="number of secrets (default 300)")
    count = parser.parse_args().secrets
    with tempfile.TemporaryDirectory(prefix="bench-vault-seed-") as workdir:
        times, failures = measure(pathlib.Path(workdir), count)
    report(count, times, failures)


if __name__ == "__main__":
    main()
