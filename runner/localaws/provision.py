"""What `--aws local` gives one build: the local AWS running and seeded, its variables, its CA file.

Called while the build provisions, before any container starts. The build then only
gets environment variables and one read-only file; its buildspec does not change.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.adapters.docker import networks
from runner.adapters.executor import Mount
from runner.core.secrets import load_secrets
from runner.errors import EngineError
from runner.localaws import hosts, process, seed

if TYPE_CHECKING:
    from runner.codebuild.build_result import BuildRequest

CA_TARGET = "/usr/local/share/runner-aws/ca.pem"
ACCESS_KEY = "test"  # any key works with moto; a real one would be refused by AWS anyway


@dataclass(frozen=True, slots=True)
class BuildAws:
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    notes: tuple[str, ...]  # lines for the build log


# An ECR registry name a buildspec writes out (an account id other than ours, another region).
ECR_NAME = re.compile(r"\b\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\b")


def provision(
    home: Path, account: str, region: str, secrets_file: Path | None, written: tuple[str, ...] = ()
) -> BuildAws:
    host = networks.network_gateway("bridge")
    if host is None:
        raise EngineError("--aws local: the engine has no bridge network, so builds cannot reach the host")
    aws = process.ensure(home, account, host)
    seed.seed(home, aws, region, load_secrets(secrets_file))
    notes = [f"Local AWS (moto, in memory): account {account}, region {region}, proxy {aws.proxy}"]
    if aws.registry is None:
        notes.append(f"Local AWS: {aws.registry_problem}")
    else:
        ours = hosts.ecr_host(account, region)
        for name in dict.fromkeys((ours, *written)):
            problem = hosts.ensure(name, aws.registry)
            if problem or name != ours:
                notes.append(f"Local AWS: {problem or f'the local ECR also answers for {name}'}")
    return BuildAws(variables(aws.proxy), (Mount(str(ca_file()), CA_TARGET, read_only=True),), tuple(notes))


def variables(proxy: str) -> dict[str, str]:
    url = f"http://{proxy}"
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": ACCESS_KEY,
        "AWS_CA_BUNDLE": CA_TARGET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "HTTPS_PROXY": url,
        "https_proxy": url,
        "NO_PROXY": "localhost,127.0.0.1",
        "no_proxy": "localhost,127.0.0.1",
    }


def ca_file() -> Path:
    """moto's CA, as shipped in its wheel. Mounted into builds only: never trusted system-wide
    (its private key is public)."""
    spec = importlib.util.find_spec("moto")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "moto_proxy" / "ca.crt"


def for_request(request: BuildRequest) -> BuildAws:
    assert request.aws_account is not None
    home = request.work_dir.parent  # the runner home whose work/ the build uses
    return provision(
        home, request.aws_account, request.region, request.secrets_file, ecr_names(request.buildspec)
    )


def ecr_names(buildspec: Path) -> tuple[str, ...]:
    """ECR registry names written in the buildspec: they reach the local registry too, so a
    file that names its real account (`123456789012.dkr.ecr.…`) logs in and pushes unchanged."""
    try:
        return tuple(dict.fromkeys(ECR_NAME.findall(buildspec.read_text(errors="replace"))))
    except OSError:
        return ()
