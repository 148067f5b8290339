"""Wiring declared once, read statically: a run limited to some hosts renders on them exactly
what a full run renders, since every service reads the others' client settings from the
inventory (lookup stack_client), not from facts other hosts set in the same run."""

import concurrent.futures
import json

import pytest
from render import full_render, render

MULTINODE = "inventory/multinode"
HOSTS = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """The multinode inventory rendered once per host with --limit <host>, with the full
    render's secrets."""
    full = full_render(MULTINODE)
    directories = {host: tmp_path_factory.mktemp(f"limit-{host}") for host in HOSTS}
    with concurrent.futures.ThreadPoolExecutor(len(HOSTS)) as pool:
        runs = {
            host: pool.submit(render, MULTINODE, directories[host], "--limit", host, credentials=full / "credentials")
            for host in HOSTS
        }
        for run in runs.values():
            assert run.result().rc == 0, run.result().output[-3000:]
    return full, directories


def rendered_files(directory):
    return {
        path.relative_to(directory).as_posix(): path.read_bytes() for path in directory.rglob("*") if path.is_file()
    }


@pytest.mark.parametrize("host", HOSTS)
def test_a_run_limited_to_one_host_renders_what_a_full_run_renders_there(limited, host):
    full, directories = limited
    expected = rendered_files(full / host)
    assert expected, f"nothing rendered for {host}"
    found = rendered_files(directories[host] / host)
    assert sorted(found) == sorted(expected)
    assert [name for name in expected if found[name] != expected[name]] == []
    # The other hosts were not rendered in the limited run.
    assert sorted(path.name for path in directories[host].iterdir() if path.name != "credentials") == [host]


def test_services_read_the_other_hosts_addresses_from_the_inventory(limited):
    _, directories = limited
    # Alone, node2's broker knows every controller of the quorum and their addresses.
    kafka = json.loads((directories["node2"] / "node2" / "kafka.json").read_text())
    properties = next(f["content"] for path, f in kafka["files"].items() if path.endswith("server.properties"))
    assert "controller.quorum.voters=1@192.0.2.11:9095,2@192.0.2.12:9095,3@192.0.2.13:9095" in properties
    # Alone, node1's Prometheus scrapes the exporter and brokers of the other hosts.
    prometheus = (directories["node1"] / "node1" / "prometheus" / "prometheus.yml").read_text()
    for target in ("192.0.2.12:9187", "192.0.2.12:7071", "192.0.2.13:7071"):
        assert target in prometheus
