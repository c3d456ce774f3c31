"""The router's nginx config and state file are pure renderings."""

from __future__ import annotations

import json
from pathlib import Path

from runner.config import Service
from runner.deploy.environment import Layout
from runner.deploy.router import ROUTER_JS, render_nginx, render_state, write_atomic
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


def test_path_routes_strip_their_prefix_on_both_listeners() -> None:
    conf = render_nginx(LAYOUT, [CATALOG])
    live = "location ^~ /catalog/ { set $runner_service catalog; rewrite ^/catalog(/.*)$ $1 break; "
    assert f"{live}proxy_pass http://$runner_live; }}" in conf
    assert f"{live}proxy_pass http://$runner_test; }}" in conf
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
    assert "location / { set $runner_service web; proxy_pass http://$runner_live; }" in conf
    assert 'return 404 "no route' not in conf
    assert conf.count("server_name admin.local;") == 2
    assert "location / { set $runner_service admin; proxy_pass http://$runner_test; }" in conf


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


def test_atomic_write_is_readable_by_nginx_workers(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert write_atomic(target, "{}\n") is True
    assert write_atomic(target, "{}\n") is False  # unchanged: not rewritten
    assert target.stat().st_mode & 0o777 == 0o644 and list(tmp_path.iterdir()) == [target]
