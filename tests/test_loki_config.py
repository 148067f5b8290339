"""Loki's configuration as the loki role writes it, without a running Loki: retention by the
compactor, OTLP resource attributes indexed beside service_name, schema v13 on the data
volume, and a port that only this host reaches. Loki's own check (-verify-config) runs only
where its image exists, so these tests read the rendered file."""

import json
import types

import pytest
import yaml
from dashboards import render


def rendered(workdir, **kwargs):
    completed, _, out = render(workdir, renders=[("loki", "config.yaml")], **kwargs)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    dicts = json.loads((out / "dicts.json").read_text())
    return types.SimpleNamespace(
        config=yaml.safe_load((out / "config.yaml").read_text()), service=dicts["loki"], clients=dicts["clients"]
    )


@pytest.fixture(scope="module")
def loki(tmp_path_factory):
    return rendered(tmp_path_factory.mktemp("loki"))


def test_the_compactor_deletes_logs_older_than_the_retention(loki):
    assert loki.config["limits_config"]["retention_period"] == "168h"
    compactor = loki.config["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"


def test_host_name_is_indexed_beside_service_name(loki):
    resource = loki.config["limits_config"]["otlp_config"]["resource_attributes"]
    # Loki's own default list (service.name, container.name, ...) stays in force.
    assert resource.get("ignore_defaults", False) is False
    indexed = {a for c in resource["attributes_config"] if c["action"] == "index_label" for a in c["attributes"]}
    assert {"host.name", "service.name"} <= indexed
    assert loki.config["limits_config"]["allow_structured_metadata"] is True


def test_tsdb_schema_v13_on_the_filesystem(loki):
    [schema] = loki.config["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    assert schema["index"]["period"] == "24h"


def test_everything_loki_stores_is_on_its_named_volume(loki):
    assert "loki_data:/loki" in loki.service["volumes"]
    common = loki.config["common"]
    paths = [
        common["path_prefix"],
        *common["storage"]["filesystem"].values(),
        *loki.config["storage_config"]["tsdb_shipper"].values(),
        loki.config["compactor"]["working_directory"],
    ]
    assert [p for p in paths if not (p == "/loki" or p.startswith("/loki/"))] == []


def test_no_login_so_the_port_is_published_on_loopback(loki):
    assert loki.config["auth_enabled"] is False
    assert loki.config["server"]["http_listen_port"] == 3100
    assert loki.service["bind_address"] == "127.0.0.1"
    assert loki.service["ports"] == [{"port": 3100, "name": "loki_port"}]
    assert loki.service["user"] == "10001:10001"


def test_one_process_whose_config_loki_checks_itself(loki):
    assert "-target=all" in loki.service["command"]
    [config] = loki.service["files"]
    assert "-verify-config" in config["validate"] and "%s:" in config["validate"]
    assert loki.service["recipe"] == ""


def test_loki_publishes_what_its_clients_need(loki):
    published = loki.clients["loki"]
    assert {k: published[k] for k in ("host", "address", "port", "url", "otlp_url", "metrics")} == {
        "host": "loki",
        "address": "127.0.0.1",
        "port": 3100,
        "url": "http://loki:3100",
        "otlp_url": "http://loki:3100/otlp",
        "metrics": {"port": 3100, "path": "/metrics"},
    }


def test_retention_and_indexed_attributes_follow_the_variables(tmp_path):
    loki = rendered(tmp_path, extra_vars={"loki_retention_period": "720h", "loki_otlp_index_labels": ["host.name"]})
    assert loki.config["limits_config"]["retention_period"] == "720h"
    [config] = loki.config["limits_config"]["otlp_config"]["resource_attributes"]["attributes_config"]
    assert config["attributes"] == ["host.name"]


@pytest.mark.parametrize("retention", ["36h", "7d"])
def test_a_retention_of_no_whole_days_is_refused_by_name(tmp_path, retention):
    completed, _, out = render(tmp_path, extra_vars={"loki_retention_period": retention})
    assert completed.returncode != 0
    assert "loki_retention_period" in completed.stdout + completed.stderr
    assert not (out / "dicts.json").exists()
