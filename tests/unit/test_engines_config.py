"""pipeline.yml `engines:`: names → Docker endpoints, `local` always the default engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.core import config_loader, config_schema
from runner.core.config import PipelineConfig
from runner.core.engines import DEFAULT, Engine, from_argument, named, url_error
from runner.errors import ConfigError, UsageError

BASE = """\
app: shop
services:
  web:
    path: web
environments:
  - name: prod
    port: 8080
    test_port: 9080
"""


def load(engines: str, where: Path = Path("pipeline.yml")) -> PipelineConfig:
    return config_loader.loads(BASE + engines, where)


def test_without_engines_there_is_only_the_default_one() -> None:
    assert load("").engines == (DEFAULT,)
    assert Engine("local", None) == DEFAULT


def test_names_map_to_urls_or_to_tls_settings_read_beside_pipeline_yml() -> None:
    config = load(
        "engines:\n"
        "  node2: tcp://10.231.0.2:2375\n"
        "  box:\n"
        "    url: tcp://build-box.example:2376\n"
        "    tls_ca: certs/ca.pem\n"
        "    tls_cert: certs/cert.pem\n"
        "    tls_key: /etc/keys/key.pem\n"
        "  laptop: ssh://dev@laptop.local\n"
        "  rootless: unix:///run/user/1000/docker.sock\n",
        Path("/project/pipeline.yml"),
    )
    assert config.engines == (
        DEFAULT,
        Engine("node2", "tcp://10.231.0.2:2375"),
        Engine(
            "box",
            "tcp://build-box.example:2376",
            tls_ca="/project/certs/ca.pem",
            tls_cert="/project/certs/cert.pem",
            tls_key="/etc/keys/key.pem",
        ),
        Engine("laptop", "ssh://dev@laptop.local"),
        Engine("rootless", "unix:///run/user/1000/docker.sock"),
    )


@pytest.mark.parametrize(
    ("engines", "message"),
    [
        (
            "engines:\n  node2: http://10.231.0.2:2375\n",
            "pipeline.yml:10:10: engines.node2: expected unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST, "
            "got 'http://10.231.0.2:2375'",
        ),
        (
            "engines:\n  node2: tcp://10.231.0.2:99999\n",
            "pipeline.yml:10:10: engines.node2: port 99999 is out of range (1-65535)",
        ),
        (
            "engines:\n  node2: tcp://\n",
            "pipeline.yml:10:10: engines.node2: expected tcp://HOST:PORT, got 'tcp://'",
        ),
        (
            "engines:\n  sock: unix://docker.sock\n",
            "pipeline.yml:10:9: engines.sock: expected unix:///PATH (an absolute path), got 'unix://docker.sock'",
        ),
        (
            "engines:\n  local: tcp://10.0.0.1:2375\n",
            "pipeline.yml:10:3: engines.local: expected a lowercase name (letters, digits, -) other than "
            "local, which is always the default engine",
        ),
        (
            "engines:\n  Node2: tcp://10.0.0.1:2375\n",
            "pipeline.yml:10:3: engines.Node2: expected a lowercase name (letters, digits, -) other than "
            "local, which is always the default engine",
        ),
        (
            "engines:\n  box:\n    url: ssh://me@box\n    tls_ca: ca.pem\n",
            "pipeline.yml:12:13: engines.box.tls_ca: TLS settings apply to tcp:// only",
        ),
        (
            "engines:\n  box:\n    url: tcp://box:2376\n    tls_cert: cert.pem\n",
            "pipeline.yml:11:5: engines.box.tls_key: tls_cert and tls_key go together "
            "(a client certificate and its key)",
        ),
        (
            "engines:\n  box: {tls_ca: ca.pem}\n",
            "pipeline.yml:10:8: engines.box.url: required key is missing",
        ),
        (
            "engines:\n  box: {url: tcp://box:2376, tls: yes}\n",
            "pipeline.yml:10:30: engines.box.tls: unknown key; expected one of: "
            "url, tls_ca, tls_cert, tls_key",
        ),
        (
            "engines: [tcp://box:2376]\n",
            "pipeline.yml:9:10: engines: expected a mapping, got a list",
        ),
    ],
)
def test_a_wrong_engine_is_named_with_its_position(engines: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(engines)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "url",
    [
        "unix:///var/run/docker.sock",
        "tcp://127.0.0.1:2375",
        "tcp://[::1]:2376",
        "tcp://build-box",
        "ssh://user@host",
        "ssh://host:2222",
    ],
)
def test_urls_the_docker_sdk_reaches(url: str) -> None:
    assert url_error(url) is None


def test_the_command_line_takes_a_name_or_a_url() -> None:
    engines = (DEFAULT, Engine("node2", "tcp://10.231.0.2:2375"))
    assert from_argument(engines, "node2") is engines[1]
    assert from_argument(engines, "local") is DEFAULT
    assert from_argument(engines, "ssh://me@box") == Engine("ssh://me@box", "ssh://me@box")
    with pytest.raises(UsageError, match=r"^no engine 'node3' \(known: local, node2\)"):
        named(engines, "node3")
    with pytest.raises(UsageError, match=r"^engine ftp://box: expected unix:///PATH"):
        from_argument(engines, "ftp://box")


def test_the_json_schema_describes_engines() -> None:
    schema = config_schema.json_schema()["properties"]["engines"]
    assert schema["type"] == "object"
    assert "local" in schema["description"]
    _url_form, mapping_form = schema["additionalProperties"]["anyOf"]
    assert set(mapping_form["properties"]) == {"url", "tls_ca", "tls_cert", "tls_key"}


def test_copy_to_an_engine_nobody_named_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runner", "images", "copy", "busybox", "--to", "node9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no pipeline.yml: only `local` exists
    )
    assert result.returncode == 2
    assert result.stderr == (
        "runner: error: no engine 'node9' (known: local); name it under engines: in pipeline.yml, "
        "or give a URL\n"
    )
