"""`--aws none|local`, pipeline.yml `aws:` / `account:`, and RUNNER_AWS: which AWS a build talks to.

Precedence: the `--aws` flag > RUNNER_AWS > pipeline.yml `aws:` > none (the environment as
it always was: the build image's own credentials, if any).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.codebuild.build_result import BuildRequest

MODES = ("none", "local")
ENV = "RUNNER_AWS"
DEFAULT_ACCOUNT = "000000000000"


def from_env(configured: str = "none") -> str:
    """RUNNER_AWS when set, else the configured mode."""
    value = os.environ.get(ENV, "").strip() or configured
    if value not in MODES:
        raise UsageError(f"{ENV}={value!r}: expected one of {', '.join(MODES)}")
    return value


def secret_texts(request: BuildRequest) -> list[str]:
    """With --aws local every value of the secrets file is one AWS CLI call away: all are masked."""
    if request.aws_account is None:
        return []
    from runner.core.secrets import load_secrets
    from runner.localaws.seed import secret_text

    secrets = load_secrets(request.secrets_file)
    return [*secrets.parameters.values(), *(secret_text(s) for s in secrets.secrets.values())] + [
        str(v) for s in secrets.secrets.values() if isinstance(s, dict) for v in s.values()
    ]


def account(mode: str, configured_account: str = DEFAULT_ACCOUNT) -> str | None:
    """The local AWS's account for a build (BuildRequest.aws_account), None for --aws none."""
    return configured_account if mode == "local" else None
