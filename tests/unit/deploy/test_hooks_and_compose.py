"""Hook resolution and host hooks (timeout, stop); which compose command is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.adapters import compose
from runner.codedeploy.hooks import HookPlan, HookRun, resolve, run
from runner.core.config import Service, ServiceHook
from runner.errors import EngineError, UsageError

SERVICE = Service(
    "web", "svc/web", "b.yml", 8000, "/health", "/web", hooks={"smoke": ServiceHook("make smoke")}
)


def test_a_hook_name_resolves_to_pipeline_yml_then_to_a_file(tmp_path: Path) -> None:
    assert resolve(SERVICE, "AfterInstall", "smoke", tmp_path).argv == ("sh", "-c", "make smoke")
    hooks = tmp_path / "svc/web/hooks"
    hooks.mkdir(parents=True)
    (hooks / "check.py").write_text("print('ok')\n")
    (hooks / "exec").write_text("#!/bin/sh\n")
    (hooks / "exec").chmod(0o755)
    assert resolve(SERVICE, "AfterInstall", "check", tmp_path).argv == ("python3", "/hook/hooks/check.py")
    assert resolve(SERVICE, "AfterInstall", "exec", tmp_path).argv == ("/hook/hooks/exec",)
    with pytest.raises(UsageError, match=r"'nope' is neither services\.web\.hooks\.nope in pipeline\.yml"):
        resolve(SERVICE, "AfterInstall", "nope", tmp_path)


def host_run(tmp_path: Path, timeout_s: float = 10.0) -> HookRun:
    values = {"RUNNER_LIFECYCLE_EVENT": "AfterInstall"}
    return HookRun("unused", "unused", tmp_path, values, values, timeout_s)


def test_host_hooks_pass_their_variables_and_exit_status(tmp_path: Path) -> None:
    shown: list[str] = []
    plan = HookPlan(
        "AfterInstall", "h", ("sh", "-c", 'echo "at $RUNNER_LIFECYCLE_EVENT"; exit 4'), "host", "test"
    )
    result = run(plan, host_run(tmp_path), lambda: False, shown.append)
    assert (result.status, result.exit_code, result.output) == ("Failed", 4, ("at AfterInstall",))
    assert result.reason == "hook h (AfterInstall) exited with code 4" and shown == ["    h: at AfterInstall"]


def test_host_hooks_time_out_and_stop(tmp_path: Path) -> None:
    plan = HookPlan("BeforeAllowTraffic", "slow", ("sh", "-c", "sleep 30"), "host", "test")
    late = run(plan, host_run(tmp_path, timeout_s=0.3), lambda: False, print)
    assert (
        late.status == "Failed" and late.reason == "hook slow (BeforeAllowTraffic) did not finish within 0.3s"
    )
    stopped = run(plan, host_run(tmp_path), lambda: True, print)
    assert stopped.status == "Failed" and "the deployment is stopping" in stopped.reason
    assert late.duration_s < 10 and stopped.duration_s < 10


def fake(tmp_path: Path, name: str, version: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return str(path)


def test_compose_v2_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose.command.cache_clear()
    try:
        monkeypatch.setenv("RUNNER_COMPOSE", fake(tmp_path, "docker-compose", "v2.40.3"))
        assert compose.command() == (str(tmp_path / "docker-compose"),)
        compose.command.cache_clear()
        monkeypatch.setenv("RUNNER_COMPOSE", fake(tmp_path, "old-compose", "1.29.2"))
        with pytest.raises(EngineError, match="Docker Compose v2 is not available"):
            compose.command()
    finally:
        compose.command.cache_clear()


def test_a_lambda_hook_maps_to_the_command_of_its_function_name(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:us-east-1:111122223333:function:smoke:live"
    plan = resolve(SERVICE, "AfterAllowTestTraffic", arn, tmp_path)
    assert (plan.argv, plan.name) == (("sh", "-c", "make smoke"), "smoke")
    assert plan.origin == f"pipeline.yml services.web.hooks, for {arn}"
    by_arn = Service("web", "svc/web", "b.yml", 8000, "/health", "/web", hooks={arn: ServiceHook("exact")})
    assert resolve(by_arn, "AfterInstall", arn, tmp_path).argv == ("sh", "-c", "exact")
    (tmp_path / "svc/web/hooks").mkdir(parents=True)
    (tmp_path / "svc/web/hooks/web-pre-hook.sh").write_text("true\n")
    other = "arn:aws:lambda:us-east-1:111122223333:function:web-pre-hook"
    assert resolve(SERVICE, "BeforeInstall", other, tmp_path).argv == ("sh", "/hook/hooks/web-pre-hook.sh")


def test_an_unmapped_hook_is_skipped_with_a_warning_unless_strict(tmp_path: Path) -> None:
    from runner.codedeploy.appspec import AppSpec
    from runner.codedeploy.deployment import plan_hooks

    hooks = (("BeforeInstall", "CodeDeployHook_pre"), ("AfterInstall", "smoke"))
    spec = AppSpec(tmp_path / "appspec.yml", hooks)
    said: list[str] = []
    plans = plan_hooks(SERVICE, spec, tmp_path, strict=False, say=said.append)
    assert list(plans) == ["AfterInstall"]
    assert said == [
        "warning: appspec hook BeforeInstall: 'CodeDeployHook_pre' is neither "
        "services.web.hooks.CodeDeployHook_pre in pipeline.yml "
        "nor an executable svc/web/hooks/CodeDeployHook_pre[.sh|.py]; skipped "
        "(strict_hooks: true makes this an error)"
    ]
    with pytest.raises(UsageError, match="'CodeDeployHook_pre' is neither"):
        plan_hooks(SERVICE, spec, tmp_path, strict=True, say=said.append)
