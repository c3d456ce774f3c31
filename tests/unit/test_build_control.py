"""Build control: one set of request defaults, the request kept with the build, re-runs from it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runner.codebuild import build_control
from runner.codebuild.build_result import BuildRequest
from runner.codebuild.secondary_sources import SecondarySource
from runner.errors import RunnerError, UsageError
from runner.images.base import STANDARD
from runner.store import open_store
from runner.store.builds import BuildRecord, create_build, finish_build, get_build


def source(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "buildspec.yml").write_text("version: 0.2\n")
    return app


def test_one_set_of_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_BUILD_IMAGE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    app, home = source(tmp_path), tmp_path / "home"
    request = build_control.make_request(app, home=home, initiator="me")
    assert (request.buildspec, request.image, request.project) == (app / "buildspec.yml", STANDARD, "app")
    assert (request.work_dir, request.cache_dir) == (home / "work", home / "cache" / "app")
    assert (request.region, request.timeout_min, request.initiator) == ("us-east-1", 60.0, "me")
    monkeypatch.setenv("RUNNER_BUILD_IMAGE", "my/build:1")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    again = build_control.make_request(app, home=home, buildspec=Path("buildspec.yml"), project="p")
    assert (again.image, again.region, again.cache_dir) == ("my/build:1", "eu-west-3", home / "cache" / "p")
    with pytest.raises(UsageError, match=r"buildspec .*other\.yml not found"):
        build_control.make_request(app, home=home, buildspec=Path("other.yml"))


def test_the_request_is_kept_with_the_build_without_secret_values(tmp_path: Path) -> None:
    app, store = source(tmp_path), open_store(tmp_path / "home")
    secrets = tmp_path / "secrets.env"
    secrets.write_text("TOKEN=s3cr3t\n")
    request = build_control.make_request(
        app,
        home=tmp_path / "home",
        overrides={"GREETING": "hi"},
        privileged=True,
        secrets_file=secrets,
        timeout_min=7,
        memory="256m",
        region="eu-west-3",
        secondary_sources=(SecondarySource("lib", tmp_path),),
    )
    assert BuildRequest.from_json(json.loads(json.dumps(request.as_json()))) == request
    record = BuildRecord(
        "app:1", "app", 0, None, "SUCCEEDED", "me", str(app), None, None, request.image,
        str(request.buildspec), 1.0, 2.0, None, None, request.as_json(),
    )  # fmt: skip
    stored = get_build(store, create_build(store, record).id)
    assert stored is not None and build_control.stored_request(stored) == request
    assert "s3cr3t" not in json.dumps(stored.request)  # the secrets file's path only
    rerun = build_control.rerun_request(stored, tmp_path / "home")
    assert rerun == replace(request, initiator="ui")
    assert build_control.service_options(stored) == {
        "overrides": {"GREETING": "hi"},
        "timeout_min": 7,
        "memory": "256m",
    }
    (app / "buildspec.yml").unlink()
    with pytest.raises(RunnerError, match=r"cannot re-run: the source .* or its buildspec .* is gone"):
        build_control.rerun_request(stored, tmp_path / "home")


def test_a_build_recorded_before_requests_were_kept_reruns_from_its_record(tmp_path: Path) -> None:
    app, store = source(tmp_path), open_store(tmp_path / "home")
    result = {"secondary_sources": {"lib": {"path": str(tmp_path)}}}
    record = BuildRecord(
        "old:1", "old", 0, None, "SUCCEEDED", "me", str(app), None, None, "my/image:1",
        "buildspec.yml", 1.0, None, None, None,
    )  # fmt: skip
    finish_build(store, create_build(store, record).id, "SUCCEEDED", result)
    stored = get_build(store, record.id)
    assert stored is not None and stored.request is None
    rerun = build_control.rerun_request(stored, tmp_path / "home")
    assert (rerun.image, rerun.project, rerun.initiator) == ("my/image:1", "old", "ui")
    assert rerun.secondary_sources == (SecondarySource("lib", tmp_path),)
    assert build_control.service_options(stored) == {}
