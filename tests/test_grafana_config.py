"""Grafana's configuration as the grafana role writes it, without a running Grafana: the
dashboards query only provisioned datasources, the datasources are cross-linked and log in
to Prometheus and Alertmanager through secret files, and no password is written anywhere.

The role's templates are rendered by ansible-playbook after the same preflights site.yml
runs, with localhost standing in for every backend's host (tests/dashboards.py)."""

import configparser
import json
import types

import pytest
import yaml
from dashboards import constants, dashboard_files, load, panel_queries, panels, published_clients, render

FIXED_UIDS = {"prometheus", "loki", "jaeger", "alertmanager"}
TEMPLATES = [("grafana", "grafana.ini"), ("grafana", "datasources.yaml"), ("grafana", "dashboards.yaml")]
SECRETS_PATH = "/etc/grafana/secrets"


def rendered(workdir, **kwargs):
    completed, credentials, out = render(workdir, renders=TEMPLATES, **kwargs)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    dicts = json.loads((out / "dicts.json").read_text())
    return types.SimpleNamespace(
        output=completed.stdout + completed.stderr,
        texts={name: (out / name).read_text() for _, name in TEMPLATES},
        datasources={d["uid"]: d for d in yaml.safe_load((out / "datasources.yaml").read_text())["datasources"]},
        provider=yaml.safe_load((out / "dashboards.yaml").read_text()),
        service=dicts["grafana"],
        clients=dicts["clients"],
        dicts_text=(out / "dicts.json").read_text(),
        secrets={path.name: path.read_text() for path in credentials.iterdir()},
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Every backend deployed, as the wiring contract publishes them."""
    return rendered(tmp_path_factory.mktemp("grafana-full"))


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    """Prometheus on another host (bound to every interface there), no Alertmanager in the
    inventory, Jaeger skipped for want of an image in this run, Loki switched off."""
    return rendered(
        tmp_path_factory.mktemp("grafana-partial"),
        not_here=("prometheus", "alertmanager"),
        # As the stack_service step records a service that had no image in this run.
        facts={"stack_skipped": {"jaeger": True}},
        remote={
            "node2": {"groups": ["prometheus"], "ansible_host": "192.0.2.12", "prometheus_bind_address": "0.0.0.0"}
        },
        extra_vars={"loki_enabled": False},
    )


# The dashboards.


def test_there_are_dashboards():
    assert len(dashboard_files()) >= 7


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_dashboard_loads_with_a_uid_a_title_and_a_few_panels(path):
    board = load(path)
    assert board.get("uid") and board.get("title")
    assert 4 <= len([p for p in panels(board) if p.get("type") != "row"]) <= 8


def test_dashboard_uids_and_titles_are_unique():
    boards = [load(path) for path in dashboard_files()]
    assert len({b["uid"] for b in boards}) == len(boards)
    assert len({b["title"] for b in boards}) == len(boards)


def test_every_panel_queries_a_provisioned_datasource(full):
    provisioned = set(full.datasources)
    for path in dashboard_files():
        for panel in panels(path):
            if panel.get("type") == "row":
                continue
            assert panel.get("datasource", {}).get("uid") in provisioned, (path.name, panel["title"])
        for board, title, uid, _ in panel_queries(path):
            assert uid in provisioned, (board, title, uid)


def test_every_prometheus_panel_has_an_expression_grafana_can_send():
    for path in dashboard_files():
        titles = [p["title"] for p in panels(path)]
        assert len(titles) == len(set(titles)), path.name
        queries = panel_queries(path)
        for panel in panels(path):
            if panel.get("datasource", {}).get("uid") != "prometheus":
                continue
            exprs = [expr for _, title, _, expr in queries if title == panel["title"]]
            assert [e for e in exprs if e.strip()], (path.name, panel["title"])
            # Every variable is one of the dashboard's constants: the query runs as it is.
            assert [e for e in exprs if "$" in e] == [], (path.name, panel["title"])


def test_a_metric_name_kept_as_a_constant_has_one_value_in_every_dashboard():
    seen = {}
    for path in dashboard_files():
        for name, value in constants(path).items():
            assert seen.setdefault(name, value) == value, (path.name, name)


def test_panel_queries_reach_the_panels_of_collapsed_rows():
    board = {
        "title": "t",
        "templating": {"list": [{"type": "constant", "name": "metric", "query": "up"}]},
        "panels": [
            {"type": "row", "title": "r", "collapsed": True, "panels": [
                {"title": "inner", "datasource": {"uid": "prometheus"}, "targets": [{"expr": "sum(${metric})"}]},
            ]},
            {"title": "outer", "datasource": {"uid": "prometheus"},
             "targets": [{"expr": "$metric", "datasource": {"uid": "loki"}}]},
        ],
    }  # fmt: skip
    assert panel_queries(board) == [("t", "inner", "prometheus", "sum(up)"), ("t", "outer", "loki", "up")]


# The datasources.


def test_datasources_have_fixed_uids_and_the_published_urls(full):
    assert set(full.datasources) == FIXED_UIDS
    assert {uid: d["url"] for uid, d in full.datasources.items()} == {
        "prometheus": "http://prometheus:9090",
        "alertmanager": "http://alertmanager:9093",
        "jaeger": "http://jaeger:16686",
        "loki": "http://loki:3100",
    }
    assert [uid for uid, d in full.datasources.items() if d.get("isDefault")] == ["prometheus"]


def test_traces_logs_and_exemplars_are_cross_linked(full):
    jaeger = full.datasources["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert jaeger["datasourceUid"] == "loki"
    # "$$" is Grafana's escape for a literal "$": the link receives ${__span.traceId}.
    assert 'trace_id="$${__span.traceId}"' in jaeger["query"] and jaeger["customQuery"] is True

    derived = full.datasources["loki"]["jsonData"]["derivedFields"]
    assert {d["datasourceUid"] for d in derived} == {"jaeger"}
    assert {d["url"] for d in derived} == {"$${__value.raw}"}
    assert {"matcherType": "label", "matcherRegex": "trace_id"}.items() <= derived[0].items()

    exemplars = full.datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplars == [{"name": "trace_id", "datasourceUid": "jaeger"}]


def test_prometheus_and_alertmanager_are_logged_in_to_through_secret_files(full):
    clients = published_clients()
    for uid in ("prometheus", "alertmanager"):
        datasource, published = full.datasources[uid], clients[uid]
        assert datasource["basicAuth"] is True and datasource["basicAuthUser"] == published["username"]
        secret = published["password_secret"]
        assert datasource["secureJsonData"] == {"basicAuthPassword": f"$__file{{{SECRETS_PATH}/{secret}}}"}
        # Grafana lists the backend's secret as its own, and the stack writes it to a file
        # only Grafana's user reads, shown nowhere.
        assert secret in full.service["secrets"]
        [entry] = [f for f in full.service["files"] if f.get("secret") == secret]
        assert entry["dest"].endswith(f"/secrets/{secret}") and entry["mode"] == "0400" and entry["private"]
    assert any(v.endswith(f"/secrets:{SECRETS_PATH}:ro") for v in full.service["volumes"])


def test_no_generated_password_is_written_into_the_rendered_files(full):
    assert set(full.secrets) == {
        "grafana_admin_password",
        "grafana_metrics_password",
        "prometheus_admin_password",
        "alertmanager_admin_password",
    }
    for value in full.secrets.values():
        assert len(value) >= 16
        for name, text in full.texts.items():
            assert value not in text, name
        assert value not in full.dicts_text
        assert value not in full.output


def test_grafana_ini_has_no_anonymous_access_and_reads_the_admin_password_from_its_file(full):
    ini = configparser.RawConfigParser()
    ini.read_string(full.texts["grafana.ini"])
    assert ini.get("auth.anonymous", "enabled") == "false"
    assert ini.get("users", "allow_sign_up") == "false"
    assert ini.get("server", "http_port") == "3003"
    assert ini.get("security", "admin_user") == "admin"
    assert ini.get("security", "admin_password") == f"$__file{{{SECRETS_PATH}/grafana_admin_password}}"
    # /metrics asks for a login of its own, the one published for Prometheus.
    login = full.clients["grafana"]["metrics"]["basic_auth"]
    assert ini.get("metrics", "basic_auth_username") == login["username"]
    assert ini.get("metrics", "basic_auth_password") == f"$__file{{{SECRETS_PATH}/{login['password_secret']}}}"
    assert login["password_secret"] != "grafana_admin_password"


def test_every_dashboard_file_is_provisioned_read_only(full):
    [provider] = full.provider["providers"]
    assert provider["allowUiUpdates"] is False
    path = provider["options"]["path"]
    assert any(v.endswith(f"/dashboards:{path}:ro") for v in full.service["volumes"])
    copied = [f for f in full.service["files"] if "src" in f]
    assert sorted(f["src"].rsplit("/", 1)[-1] for f in copied) == [p.name for p in dashboard_files()]
    # Grafana reads the directory again by itself: a changed dashboard re-creates nothing.
    assert all(f["reload"] for f in copied)


def test_grafana_publishes_what_its_clients_need(full):
    published = full.clients["grafana"]
    assert {key: published[key] for key in ("host", "port", "url", "username", "password_secret", "metrics")} == {
        "host": "grafana",
        "port": 3003,
        "url": "http://grafana:3003",
        "username": "admin",
        "password_secret": "grafana_admin_password",
        "metrics": {
            "port": 3003,
            "path": "/metrics",
            "basic_auth": {"username": "prometheus", "password_secret": "grafana_metrics_password"},
        },
    }
    assert full.service["ports"] == [{"port": 3003, "name": "grafana_port"}]
    assert full.service["user"] == "472:0"
    assert any(v.endswith(":/var/lib/grafana") and not v.startswith("/") for v in full.service["volumes"])


def test_a_backend_on_another_host_is_reached_at_that_hosts_address(partial):
    prometheus = partial.datasources["prometheus"]
    assert prometheus["url"] == "http://192.0.2.12:9090"
    assert prometheus["basicAuthUser"] == "admin"


def test_a_backend_switched_off_or_not_deployed_has_no_datasource(partial):
    assert set(partial.datasources) == {"prometheus"}
    # No Jaeger: nothing links to it.
    assert "exemplarTraceIdDestinations" not in partial.datasources["prometheus"]["jsonData"]
    assert "jaeger" not in partial.texts["datasources.yaml"] and "loki" not in partial.texts["datasources.yaml"]
    assert sorted(partial.service["secrets"]) == [
        "grafana_admin_password",
        "grafana_metrics_password",
        "prometheus_admin_password",
    ]
