"""The router's nginx config and state file are pure renderings."""

from __future__ import annotations

import json
from pathlib import Path

from runner.codedeploy.environment import Layout
from runner.codedeploy.local_router import write_atomic
from runner.codedeploy.nginx_config import ROUTER_JS, render_nginx, render_state
from runner.core.config import Service
from runner.store.deployments import EnvState

LAYOUT = Layout("shop", "prod", Path("/h"), "10.213.9.0/24", {"web": 0, "catalog": 1, "admin": 2})
WEB = Service("web", "web", "b.yml", 8000, "/health", "/")
CATALOG = Service("catalog", "catalog", "b.yml", 9000, "/healthz", "/catalog")
ADMIN = Service("admin", "admin", "b.yml", 8000, "/health", "host:admin.local")


def test_one_keepalive_upstream_per_colour_with_the_other_as_backup() -> None:
    conf = render_nginx(LAYOUT, [CATALOG])
    assert (
        "upstream catalog-blue { server 10.213.9.12:9000 max_fails=1 fail_timeout=2s; "
        "server 10.213.9.13:9000 backup; keepalive 32; }" in conf
    )
    assert "upstream catalog-green { server 10.213.9.13:9000 max_fails=1 fail_timeout=2s; " in conf
    assert "proxy_next_upstream" not in conf  # the default (error timeout) retries idempotent requests
    assert "load_module modules/ngx_http_js_module.so;" in conf and "js_set $runner_live runner.live;" in conf


RETRY_IF = "if ($runner_retry) { error_page 500 502 503 504 = @runner_retry; }"
LIVE_PROXY = "proxy_intercept_errors on; proxy_pass http://$runner_upstream; }"


def test_path_routes_strip_their_prefix_on_both_listeners() -> None:
    conf = render_nginx(LAYOUT, [CATALOG])
    head = "location ^~ /catalog/ { set $runner_service catalog;"
    rewrite = "rewrite ^/catalog(/.*)$ $1 break;"
    assert f"{head} {RETRY_IF} {rewrite} {LIVE_PROXY}" in conf
    assert f"{head} {rewrite} proxy_pass http://$runner_test; }}" in conf
    assert "location = /catalog { set $runner_service catalog; if ($runner_retry)" in conf
    assert "location = /catalog { set $runner_service catalog; rewrite ^ / break;" in conf
    assert 'location / { return 404 "no route\\n"; }' in conf


def test_health_of_each_slot_through_the_test_listener_only() -> None:
    conf = render_nginx(LAYOUT, [CATALOG])
    assert conf.count("/__runner/health/catalog/") == 2
    assert "location = /__runner/health/catalog/green { access_log off;" in conf
    assert "proxy_pass http://10.213.9.13:9000/healthz; }" in conf
    test_server = conf.split("listen 81 default_server")[1]
    assert "/__runner/health/" in test_server and "/__runner/health/" not in conf.split("listen 81")[0]


def test_root_and_host_routes() -> None:
    conf = render_nginx(LAYOUT, [WEB, ADMIN])
    assert f"location / {{ set $runner_service web; {RETRY_IF} {LIVE_PROXY}" in conf
    assert 'return 404 "no route' not in conf
    assert conf.count("server_name admin.local;") == 2
    assert "location / { set $runner_service admin; proxy_pass http://$runner_test; }" in conf


def test_live_retries_only_marked_get_and_head_on_the_other_slot() -> None:
    conf = render_nginx(LAYOUT, [CATALOG, ADMIN])
    live, test = conf.split("listen 81 default_server")
    assert live.count("location @runner_retry { proxy_pass http://$runner_original; }") == 2  # per server
    assert "@runner_retry" not in test and "proxy_intercept_errors" not in test
    assert 'map "$runner_live $request_method" $runner_retry { "~-retry (GET|HEAD)$" 1; default ""; }' in conf
    assert '"~^(?<runner_svc>.+)-green-retry$" $runner_svc-blue;' in conf
    assert '"~^(?<runner_svc>.+)-blue-retry$" $runner_svc-green;' in conf
    assert '"~^(?<runner_base>.+)-retry$" $runner_base; default $runner_live;' in conf
    assert "e.retry === slot ? '-retry' : ''" in ROUTER_JS
    assert "'-' + e.test + '-test'" in ROUTER_JS


def test_the_test_listener_has_upstreams_without_backup() -> None:
    conf = render_nginx(LAYOUT, [CATALOG])
    assert "upstream catalog-green-test { server 10.213.9.13:9000; keepalive 8; }" in conf
    assert "upstream catalog-blue-test { server 10.213.9.12:9000; keepalive 8; }" in conf


def test_state_file_has_live_weights_and_the_test_slot() -> None:
    states = {
        "web": EnvState(
            "prod", "web", live_slot="blue", weights={"blue": 90, "green": 10}, test_slot="green"
        ),
        "catalog": EnvState("prod", "catalog", weights={"blue": 100, "green": 0}, test_slot="blue"),
    }
    assert json.loads(render_state(states)) == {
        "services": {
            "catalog": {"live": {"blue": 100}, "test": "blue"},
            "web": {"live": {"blue": 90, "green": 10}, "test": "green"},
        }
    }
    assert "fs.readFileSync(STATE, 'utf8')" in ROUTER_JS and "/etc/runner/state.json" in ROUTER_JS
    retrying = json.loads(render_state(states, {"web": "green"}))["services"]
    assert retrying["web"]["retry"] == "green" and "retry" not in retrying["catalog"]


def test_atomic_write_is_readable_by_nginx_workers(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert write_atomic(target, "{}\n") is True
    assert write_atomic(target, "{}\n") is False  # unchanged: not rewritten
    assert target.stat().st_mode & 0o777 == 0o644 and list(tmp_path.iterdir()) == [target]


def test_slots_reached_by_name_resolve_per_request() -> None:
    """Swarm: no fixed addresses and no upstream blocks for slots; each pick maps to name:port,
    resolved by the engine's DNS when a request needs it (nginx starts while a name is missing)."""
    conf = render_nginx(LAYOUT, [CATALOG], resolve=True)
    assert "upstream catalog-blue" not in conf and "10.213.9.12" not in conf
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in conf
    assert "map $runner_upstream $runner_upstream_at { catalog-blue catalog-blue:9000;" in conf
    assert "catalog-green-test catalog-green:9000;" in conf
    assert "proxy_pass http://$runner_upstream_at; }" in conf and "proxy_pass http://$runner_test_at;" in conf
    assert "location @runner_retry { proxy_pass http://$runner_original_at; }" in conf
    assert (
        "set $runner_health catalog-green:9000; " in conf
        and "proxy_pass http://$runner_health/healthz;" in conf
    )
