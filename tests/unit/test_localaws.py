"""The local AWS's pure parts, and its proxy in-process: no Docker."""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main
from runner.core import config_loader
from runner.errors import UsageError
from runner.localaws import hosts, limits, mode, proxy
from runner.localaws.provision import ca_file, variables

BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - aws s3 ls
      - sam deploy --resolve-s3 --no-fail-on-empty-changeset
  post_build:
    commands:
      - echo done
    finally:
      - aws ecr describe-images --repository-name web
"""


def test_validate_warns_for_each_documented_unsupported_use(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(BUILDSPEC)
    found = limits.warnings(path, "buildspec.yml")
    assert [w.split(": with --aws local: ")[0] for w in found] == [
        "buildspec.yml:6:9: phases.build.commands[1]",
        "buildspec.yml:6:9: phases.build.commands[1]",
        "buildspec.yml:6:9: phases.build.commands[1]",
        "buildspec.yml:11:9: phases.post_build.finally[0]",
    ]
    assert "--s3-bucket NAME" in found[0]
    assert "runner aws reset" in found[2]
    assert "not supported" in found[3]


def test_runner_validate_prints_the_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("buildspec.yml").write_text(BUILDSPEC)
    assert main(["validate", "buildspec.yml"]) == 0
    err = capsys.readouterr().err
    assert (
        "warning: buildspec.yml:11:9: phases.post_build.finally[0]: with --aws local: the local AWS's ECR"
        in err
    )


def test_a_plain_buildspec_gets_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - aws s3 sync . s3://b\n")
    assert limits.warnings(path) == ()


def test_mode_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_AWS", raising=False)
    assert mode.from_env() == "none"
    assert mode.from_env("local") == "local"
    monkeypatch.setenv("RUNNER_AWS", "local")
    assert mode.from_env("none") == "local"
    assert mode.account("local") == "000000000000"
    assert mode.account("none", "123456789012") is None
    monkeypatch.setenv("RUNNER_AWS", "cloud")
    with pytest.raises(UsageError, match="RUNNER_AWS='cloud': expected one of none, local"):
        mode.from_env()


PIPELINE = """\
app: shop
{extra}
services:
  web: {{path: web}}
environments:
  - {{name: staging, port: 8080, test_port: 8081}}
"""


def test_pipeline_aws_and_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_AWS", raising=False)
    plain = config_loader.loads(PIPELINE.format(extra=""), tmp_path / "pipeline.yml")
    assert (plain.aws, plain.account) == ("none", "000000000000")
    local = config_loader.loads(
        PIPELINE.format(extra="aws: local\naccount: '123456789012'"), tmp_path / "pipeline.yml"
    )
    assert (local.aws, local.account) == ("local", "123456789012")
    with pytest.raises(Exception, match=r"account: .*12 digits"):
        config_loader.loads(PIPELINE.format(extra="account: '12'"), tmp_path / "pipeline.yml")


def test_hosts_entries_are_ours_alone(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost\n")
    name = hosts.ecr_host("000000000000", "eu-west-1")
    assert hosts.ensure(name, "127.77.0.1", path) == ""
    assert hosts.ensure(name, "127.77.0.1", path) == ""  # idempotent
    assert hosts.ensure(name, "127.77.0.2", path) == ""  # moved, not duplicated
    assert path.read_text() == f"127.0.0.1 localhost\n127.77.0.2 {name} {hosts.MARKER}\n"
    hosts.remove("127.77.0.2", path)
    assert path.read_text() == "127.0.0.1 localhost\n"


def test_build_variables_point_the_cli_at_the_proxy() -> None:
    env = variables("172.17.0.1:4567")
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://172.17.0.1:4567"
    assert env["AWS_CA_BUNDLE"] == "/usr/local/share/runner-aws/ca.pem"
    assert "HTTP_PROXY" not in env  # plain http (the Debian mirror) is never proxied
    assert ca_file().is_file()


@pytest.fixture(scope="module")
def local_proxy() -> Iterator[int]:
    server = proxy.serve("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_aws_hosts_are_answered_by_moto(local_proxy: int) -> None:
    handler = urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{local_proxy}"})
    context = ssl.create_default_context(cafile=str(ca_file()))
    opener = urllib.request.build_opener(handler, urllib.request.HTTPSHandler(context=context))
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    with opener.open("https://sts.amazonaws.com/", data=body, timeout=30) as response:
        assert b"<Account>" in response.read()


def test_other_hosts_are_tunnelled_untouched(local_proxy: int) -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        port = upstream.getsockname()[1]

        def echo() -> None:
            connection, _ = upstream.accept()
            with connection:
                connection.sendall(connection.recv(100).upper())

        threading.Thread(target=echo, daemon=True).start()
        with socket.create_connection(("127.0.0.1", local_proxy), timeout=10) as client:
            client.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += client.recv(1)
            assert head.startswith(b"HTTP/1.1 200")
            client.sendall(b"not tls, not aws")
            assert client.recv(100) == b"NOT TLS, NOT AWS"


def test_is_aws() -> None:
    assert proxy.is_aws("s3.us-east-1.amazonaws.com")
    assert proxy.is_aws("000000000000.dkr.ecr.eu-west-1.amazonaws.com")
    assert not proxy.is_aws("deb.debian.org")
    assert not proxy.is_aws("notamazonaws.com")


def test_ecr_names_written_in_the_buildspec_are_found(tmp_path: Path) -> None:
    """Real buildspecs often write their account's registry out; it must reach the local ECR too."""
    from runner.localaws.provision import ecr_names

    buildspec = tmp_path / "buildspec.yml"
    buildspec.write_text(
        "version: 0.2\nphases:\n  pre_build:\n    commands:\n"
        "      - aws ecr get-login-password | docker login --username AWS --password-stdin "
        "842676013957.dkr.ecr.us-east-1.amazonaws.com\n"
        "      - docker push 842676013957.dkr.ecr.us-east-1.amazonaws.com/app:1\n"
        "      - docker push $AWS_ACCOUNT_ID.dkr.ecr.eu-west-1.amazonaws.com/app:1\n"
    )
    assert ecr_names(buildspec) == ("842676013957.dkr.ecr.us-east-1.amazonaws.com",)
    assert ecr_names(tmp_path / "missing.yml") == ()
