"""Run tasks through ansible-playbook for the vault_seed tests: the token goes through the
extra-vars file, the run sees no VAULT_/BAO_ variables of the caller's, and the saved result,
which may hold a secret_id, is never echoed."""

import functools

import module_runner

run_tasks = functools.partial(
    module_runner.run_tasks,
    play_name="vault_seed test run",
    drop_env=("VAULT_", "BAO_", "ANSIBLE_"),
    hide_result=True,
)
