"""Environment layout and its compose file (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.codedeploy.compose_file import network_name, render_compose
from runner.codedeploy.environment import Layout, SlotSpec, allocate, choose_subnet, slot_env
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.errors import RunnerError

PIPELINE = """\
app: shop
services:
  web:
    path: web
    env: {PRICE: "$5", CATALOG_URL: "http://router/catalog"}
  catalog:
    path: catalog
    port: 9000
environments:
  - name: staging
    port: 8081
    test_port: 9081
"""


def load(tmp_path: Path) -> PipelineConfig:
    path = tmp_path / "pipeline.yml"
    path.write_text(textwrap.dedent(PIPELINE))
    return config_loader.load(path)


def test_subnet_is_stable_and_avoids_used_ranges() -> None:
    first = choose_subnet("shop-staging", [])
    assert first == choose_subnet("shop-staging", ["172.17.0.0/16", "fd00::/64"])
    assert first.startswith("10.213.") and first.endswith(".0/24")
    moved = choose_subnet("shop-staging", [first])
    assert moved != first
    with pytest.raises(RunnerError, match="no free /24"):
        choose_subnet("shop-staging", ["10.213.0.0/17", "10.213.128.0/17"])
    assert choose_subnet("shop-prod", []) != first


def test_address_pairs_stay_with_their_service() -> None:
    assert allocate({}, ["web", "catalog"]) == {"web": 0, "catalog": 1}
    assert allocate({"web": 0, "catalog": 1}, ["catalog", "api"]) == {"catalog": 1, "api": 0}
    layout = Layout("shop", "staging", Path("/h"), "10.213.7.0/24", {"web": 0, "catalog": 1})
    assert (layout.router_ip, layout.slot_ip("web", "blue"), layout.slot_ip("catalog", "green")) == (
        "10.213.7.2",
        "10.213.7.10",
        "10.213.7.13",
    )
    assert layout.slot_of_address()["10.213.7.11"] == "green"
    assert (layout.project, network_name(layout.project)) == ("shop-staging", "shop-staging_default")


def test_compose_file(tmp_path: Path) -> None:
    config = load(tmp_path)
    env = config.environments[0]
    layout = Layout("shop", "staging", tmp_path / "home", "10.213.7.0/24", {"web": 0, "catalog": 1})
    spec = SlotSpec(config.service("web"), "green", "web:abc123abc123", "sha256:1234", "abc123")
    data = render_compose(config, env, layout, [spec], {"runner.managed": "1", "runner.test": "x"}, ["db"])
    assert data["name"] == "shop-staging"
    router = data["services"]["router"]
    assert router["ports"] == ["127.0.0.1:8081:80", "127.0.0.1:9081:81"]
    assert router["networks"] == {"default": {"ipv4_address": "10.213.7.2"}}
    assert router["pull_policy"] == "never" and router["init"] is True
    slot = data["services"]["web-green"]
    assert slot["image"] == "sha256:1234" and slot["pull_policy"] == "never" and slot["init"] is True
    assert slot["networks"] == {"default": {"ipv4_address": "10.213.7.11"}}
    assert slot["environment"]["RUNNER_SLOT"] == "green" and slot["environment"]["RUNNER_COMMIT"] == "abc123"
    assert slot["environment"]["PRICE"] == "$$5"  # compose would interpolate a single $
    assert slot["labels"]["runner.test"] == "x" and slot["labels"]["runner.slot"] == "green"
    assert data["services"]["db"]["labels"]["runner.environment"] == "staging"  # the user's backing service
    assert data["services"]["db"]["labels"]["runner.test"] == "x"
    ipam = data["networks"]["default"]["ipam"]["config"][0]
    assert ipam == {"subnet": "10.213.7.0/24", "gateway": "10.213.7.1", "ip_range": "10.213.7.128/25"}
    assert "catalog-blue" not in data["services"]  # a slot without an image is not defined


def test_the_owner_is_labelled_on_every_container_never_on_the_network(tmp_path: Path) -> None:
    config = load(tmp_path)
    layout = Layout("shop", "staging", tmp_path / "home", "10.213.7.0/24", {"web": 0, "catalog": 1})
    spec = SlotSpec(config.service("web"), "blue", "web:abc123abc123", "sha256:1234", "abc123")
    owner = {"runner.owner.home": "/p/$x/.runner", "runner.owner.project": "/p/$x"}
    data = render_compose(
        config, config.environments[0], layout, [spec], {"runner.managed": "1"}, ["db"], owner
    )
    for name in ("router", "web-blue", "db"):
        labels = data["services"][name]["labels"]
        assert (labels["runner.owner.home"], labels["runner.owner.project"]) == ("/p/$$x/.runner", "/p/$$x")
    # compose recreates a network whose labels change, and fails while slots are attached to it
    assert data["networks"]["default"]["labels"] == {
        "runner.managed": "1",
        "runner.app": "shop",
        "runner.environment": "staging",
    }


def test_slot_environment_follows_decision_3(tmp_path: Path) -> None:
    config = load(tmp_path)
    spec = SlotSpec(config.service("catalog"), "blue", "catalog:1", "sha256:9", "")
    assert slot_env(config, config.environments[0], spec) == {
        "RUNNER_SERVICE": "catalog",
        "RUNNER_ENVIRONMENT": "staging",
        "RUNNER_SLOT": "blue",
        "RUNNER_IMAGE_TAG": "catalog:1",
        "RUNNER_IMAGE_ID": "sha256:9",
        "RUNNER_COMMIT": "",
        "PORT": "9000",
    }
