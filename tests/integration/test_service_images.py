"""Service builds and their images against real Docker and real git: reuse, tags, immutability, gc."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.adapters.docker import runs
from runner.codepipeline.service_build import ServiceBuildResult, build_service, changed_services
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.core.image_ref import ImageResult
from runner.errors import UsageError
from runner.images import gc
from runner.images.tags import resolve
from runner.store import Store, open_store
from runner.store import images as records
from tests.ci import missing

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM runner/python:bookworm
ARG GREETING=hello
WORKDIR /app
COPY . .
RUN echo "$GREETING" > /app/greeting
CMD ["python3", "app.py"]
"""
BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - cd $SERVICE_PATH
      - sh $CODEBUILD_SRC_DIR/tools/check.sh
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def pipeline_yml(services: str) -> str:
    return (
        "app: imgtest\nservices:\n"
        + textwrap.indent(textwrap.dedent(services), "  ")
        + "environments:\n  - name: staging\n    port: 18080\n    test_port: 18081\n"
    )


def make_project(root: Path, services: str | None = None, files: dict[str, str] | None = None) -> Path:
    """A repo with service `api` (Dockerfile FROM runner/python) and a shared tools/ script."""
    default = {
        "services/api/Dockerfile": DOCKERFILE,
        "services/api/buildspec.yml": BUILDSPEC,
        "services/api/app.py": "print('hello')\n",
        "services/api/marker.txt": uuid.uuid4().hex,  # unique content: a unique commit
        "tools/check.sh": "echo tools ok\n",
        ".gitignore": ".runner/\n",
        "pipeline.yml": pipeline_yml(services or "api:\n  path: services/api\n"),
    }
    for name, text in {**default, **(files or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "first")
    return root


def load(root: Path) -> PipelineConfig:
    return config_loader.load(root / "pipeline.yml")


def build(root: Path, store: Store, lines: list[str] | None = None, **options: Any) -> ServiceBuildResult:
    shown = lines if lines is not None else []
    return build_service(load(root), options.pop("service", "api"), store, show=shown.append, **options)


def cli(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNNER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], cwd=root, env=env, capture_output=True, text=True
    )


# `runner ARGS` in a fresh process that prints, at exit, which heavy packages it imported.
WITH_MODULES = (
    "import atexit, runpy, sys; heavy = ('docker', 'requests', 'git', 'rich', 'fastapi', 'watchdog'); "
    "atexit.register(lambda: print('imported:', sorted(set(heavy) & set(sys.modules)), file=sys.stderr)); "
    "sys.argv[0] = 'runner'; runpy.run_module('runner', run_name='__main__')"
)


def image(result: ServiceBuildResult) -> ImageResult:
    assert result.image is not None, (result.status, result.error)
    return result.image


def spy_on_engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every container start and image build the runner asks the engine for."""
    calls: list[str] = []
    start, build_image = runs.start, docker_images.build_image

    def spy_start(request: runs.RunRequest) -> runs.RunningContainer:
        calls.append(f"start {request.image}")
        return start(request)

    def spy_build(*args: Any, **kwargs: Any) -> str:
        calls.append("build image")
        return str(build_image(*args, **kwargs))

    monkeypatch.setattr(runs, "start", spy_start)
    monkeypatch.setattr(docker_images, "build_image", spy_build)
    return calls


def test_same_commit_twice_reuses_the_image_without_a_container(
    tmp_path: Path, runner_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "repo")
    first = cli(root, runner_home, "build", "api", "--json")
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    sha = git(root, "rev-parse", "HEAD")
    assert built["status"] == "SUCCEEDED" and built["service"] == "api"
    assert built["image"]["tag"] == f"api:{sha[:12]}" and built["image"]["reused"] is False
    assert built["image"]["id"].startswith("sha256:")
    found = docker_images.image(built["image"]["id"])
    assert found is not None
    assert found.labels["runner.service"] == "api" and found.labels["runner.commit"] == sha
    assert found.labels["runner.build"] == built["id"]

    fresh = subprocess.run(
        [sys.executable, "-c", WITH_MODULES, "build", "api"],
        cwd=root, env={**os.environ, "RUNNER_HOME": str(runner_home)}, capture_output=True, text=True,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert "api: inputs unchanged since build" in fresh.stdout and "(reused)" in fresh.stderr
    assert "imported: []" in fresh.stderr  # a fresh decision needs no docker SDK, GitPython or rich

    calls = spy_on_engine(monkeypatch)
    store = open_store(runner_home)
    again = build(root, store, commit=sha)
    assert calls == []  # no build container, no image build
    assert again.build is None and again.status == "SUCCEEDED"
    assert image(again).id == built["image"]["id"] and image(again).reused
    digest = found.labels["runner.input-digest"]
    assert image(again).reason == (
        f"api: inputs unchanged since build {built['number']} (digest {digest[:4]}…), reusing api:{sha[:12]}"
    )
    assert again.as_json()["image"] == image(again).as_json()
    logged = cli(root, runner_home, "logs", built["id"]).stdout
    assert f"api: built api:{sha[:12]}" in logged  # the image step is part of the build's log
    assert resolve(f"api:{sha[:12]}", store).id == built["image"]["id"]


def test_one_file_change_gets_a_new_tag_and_the_old_tag_stays(tmp_path: Path, runner_home: Path) -> None:
    root = make_project(tmp_path / "repo")
    store = open_store(runner_home)
    old = image(build(root, store))
    (root / "services/api/app.py").write_text("print('changed')\n")
    lines: list[str] = []
    dirty = build(root, store, lines)
    sha = git(root, "rev-parse", "HEAD")
    assert image(dirty).tag.startswith(f"api:{sha[:12]}-dirty-") and not image(dirty).reused
    assert "api: 1 file changed: services/api/app.py (since build 1)" in lines
    assert image(dirty).id != old.id
    assert getattr(docker_images.image(old.tag), "id", None) == old.id
    assert getattr(records.get_tag(store, old.tag), "image_id", None) == old.id

    # Committing exactly that change: the new commit's tag names the same image, no build.
    new_sha = commit_all(root, "change app")
    committed = build(root, store, commit=new_sha)
    assert committed.build is None
    assert image(committed).tag == f"api:{new_sha[:12]}" and image(committed).id == image(dirty).id
    assert changed_services(load(root), store, new_sha) == {}


def test_a_tag_is_never_moved_to_other_content(tmp_path: Path, runner_home: Path) -> None:
    root = make_project(tmp_path / "repo")
    sha = git(root, "rev-parse", "HEAD")
    first = cli(root, runner_home, "build", "api", "--commit", sha, "--json")
    assert first.returncode == 0, first.stderr
    held = json.loads(first.stdout)["image"]
    # Same commit, other inputs (a build arg in the uncommitted pipeline.yml): other content.
    services = "api:\n  path: services/api\n  image:\n    build_args: {GREETING: bonjour}\n"
    (root / "pipeline.yml").write_text(pipeline_yml(services))
    refused = cli(root, runner_home, "build", "api", "--commit", sha[:8], "--json")
    assert refused.returncode == 1
    error = refused.stderr.strip().splitlines()[-1]
    expected = f"runner: error: refusing to move api:{sha[:12]}: it already names {held['id'][:19]}"
    assert error.startswith(expected)
    assert "immutable" in error
    assert json.loads(refused.stdout)["image"] is None
    assert getattr(docker_images.image(held["tag"]), "id", None) == held["id"]

    # A --no-cache rebuild of the same inputs is not bit-identical (timestamps), yet keeps the tag.
    (root / "pipeline.yml").write_text(pipeline_yml("api:\n  path: services/api\n"))
    rebuilt = build(root, open_store(runner_home), commit=sha, no_cache=True)
    assert rebuilt.build is not None and rebuilt.build.status == "SUCCEEDED"
    assert image(rebuilt).id == held["id"] and image(rebuilt).reused
    assert "same inputs" in image(rebuilt).reason


def test_mutable_tags_are_refused_as_deploy_input(runner_home: Path) -> None:
    store = open_store(runner_home)
    for text in ("api:latest", "api", "api:v1.2", "api:ABCDEF123456", "registry/api:latest"):
        with pytest.raises(UsageError, match="not an immutable image reference"):
            resolve(text, store)


def test_privileged_buildspec_hands_off_its_own_image(tmp_path: Path, runner_home: Path) -> None:
    inner = f"runner-test-inner-{uuid.uuid4().hex[:8]}:1"
    buildspec = textwrap.dedent(f"""\
        version: 0.2
        phases:
          build:
            commands:
              - cd $SERVICE_PATH
              - docker build -q --label "$TEST_LABEL" -t {inner} .
              - printf '[{{"name":"%s","imageUri":"%s"}}]' "$RUNNER_SERVICE" {inner} > imagedefinitions.json
        artifacts:
          files: [services/api/imagedefinitions.json]
          discard-paths: yes
        """)
    services = f"""\
        api:
          path: services/api
          privileged: true
          variables: {{TEST_LABEL: "{os.environ["RUNNER_LABELS"]}"}}
        """
    root = make_project(tmp_path / "repo", services, {"services/api/buildspec.yml": buildspec})
    lines: list[str] = []
    try:
        result = build(root, open_store(runner_home), lines)
        check_handoff(result, inner, lines)
    finally:  # child before parent: the session cleanup removes images in no particular order
        for ref in (f"api:{git(root, 'rev-parse', 'HEAD')[:12]}", inner):
            subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)


def check_handoff(result: ServiceBuildResult, inner: str, lines: list[str]) -> None:
    handed = docker_images.image(inner)
    assert handed is not None, lines
    assert any(f"imagedefinitions.json hands off {inner}" in line for line in lines)
    got = docker_images.image(image(result).id)
    assert got is not None and got.labels["runner.service"] == "api"
    # The image the buildspec built is the artifact: same layers and config, our labels on top.
    assert docker_images.image_content(got.id) == docker_images.image_content(handed.id)
    parent = subprocess.run(
        ["docker", "inspect", "-f", "{{.Parent}}", got.id], capture_output=True, text=True
    ).stdout.strip()
    assert parent == handed.id


def test_image_from_the_build_artifacts(tmp_path: Path, runner_home: Path) -> None:
    buildspec = textwrap.dedent("""\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist && echo compiled-$RUNNER_SERVICE > dist/output.txt
        artifacts:
          files: ['**/*']
          base-directory: dist
        """)
    dockerfile = "FROM runner/python:bookworm\nCOPY output.txt /output.txt\n"
    services = "api:\n  path: services/api\n  image: {from_artifacts: true}\n"
    files = {"services/api/buildspec.yml": buildspec, "services/api/Dockerfile": dockerfile}
    root = make_project(tmp_path / "repo", services, files)
    result = build(root, open_store(runner_home))
    label = os.environ["RUNNER_LABELS"]
    run = subprocess.run(
        ["docker", "run", "--rm", "--label", label, image(result).id, "cat", "/output.txt"],
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == "compiled-api", run.stderr


def test_changed_services_names_what_changed(tmp_path: Path, runner_home: Path) -> None:
    services = (
        "api:\n  path: services/api\nweb:\n  path: services/web\n  buildspec: services/api/buildspec.yml\n"
    )
    files = {"services/web/Dockerfile": DOCKERFILE, "services/web/index.py": "print('web')\n"}
    root = make_project(tmp_path / "repo", services, files)
    store = open_store(runner_home)
    first = git(root, "rev-parse", "HEAD")
    assert set(changed_services(load(root), store, first)) == {"api", "web"}
    for name in ("api", "web"):
        assert image(build(root, store, service=name, commit=first))
    (root / "services/api/app.py").write_text("print('v2')\n")
    (root / "tools/check.sh").write_text("echo tools v2\n")
    second = commit_all(root, "api and tools")
    changed = changed_services(load(root), store, second)
    assert changed["api"] == "api: 2 files changed: services/api/app.py, tools/check.sh (since build 1)"
    assert changed["web"] == "web: 1 file changed: tools/check.sh (since build 1)"  # shared script
    (root / "services/web/index.py").write_text("print('web v2')\n")
    third = commit_all(root, "web only")
    assert image(build(root, store, service="api", commit=second))
    assert list(changed_services(load(root), store, third)) == ["web"]


def snapshots_of(builds: list[str]) -> list[str]:
    found = docker_images.list_images([f"{docker_client.KIND}=snapshot"])
    return [i.id for i in found if i.labels.get("runner.build") in builds]


def test_gc_keeps_deployed_and_rollback_images(tmp_path: Path, runner_home: Path) -> None:
    # The build phase writes outside the workspace: each build leaves a phase snapshot image.
    buildspec = BUILDSPEC + "      - touch /root/phase-marker\n"
    root = make_project(tmp_path / "repo", files={"services/api/buildspec.yml": buildspec})
    store = open_store(runner_home)
    built, build_ids = [], []
    for n in range(4):
        (root / "services/api/app.py").write_text(f"print({n})\n")
        sha = commit_all(root, f"v{n}")
        result = build(root, store, commit=sha)
        built.append(image(result))
        build_ids.append(result.build.id if result.build else "")
    assert len(snapshots_of(build_ids)) == 4
    live, rollback = built[0], built[1]
    store.execute(
        "INSERT INTO env_state (environment, service, live_slot, blue_tag, blue_image_id, "
        "green_tag, green_image_id, updated) VALUES ('prod','api','blue',?,?,?,?,?)",
        (live.tag, live.id, rollback.tag, rollback.id, time.time()),
    )
    listed = cli(root, runner_home, "images", "list", "--json")
    deployed = {i["tag"]: i["deployed"] for i in json.loads(listed.stdout)}
    assert deployed[live.tag] == [{"environment": "prod", "slot": "blue", "live": True}]
    assert deployed[rollback.tag] == [{"environment": "prod", "slot": "green", "live": False}]

    done = cli(root, runner_home, "gc", "--keep", "1", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    removed_images = [i["id"] for i in report["removed"] if i["kind"] == "service-image"]
    assert removed_images == [built[2].id]
    for kept in (live, rollback, built[3]):
        assert getattr(docker_images.image(kept.tag), "id", None) == kept.id
    assert docker_images.image(built[2].id) is None
    assert records.get_tag(store, built[2].tag) is None
    assert len(list((runner_home / "work").iterdir())) == 1  # the newest build's workspace
    assert snapshots_of(build_ids) == snapshots_of(build_ids[3:]) != []
    assert gc.plan(store, keep=1).remove == ()


REGISTRY_BINARY = "/usr/bin/docker-registry"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1 with our own config (the packaged one listens everywhere)."""
    if not Path(REGISTRY_BINARY).is_file():
        missing(f"{REGISTRY_BINARY} is missing: `make test-tools` installs Debian's docker-registry (root)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path / "registry.yml"
    conf.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage:\n  filesystem: {{rootdirectory: {tmp_path}/registry}}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_registry_push_deploys_by_digest_and_never_moves_a_tag(
    tmp_path: Path, runner_home: Path, registry: str
) -> None:
    from runner.images import registry as registries

    root = make_project(tmp_path / "repo")
    (root / "pipeline.yml").write_text(f"registry: {registry}\n" + (root / "pipeline.yml").read_text())
    first_sha = commit_all(root, "use the registry")
    store = open_store(runner_home)
    first = image(build(root, store, commit=first_sha))
    assert first.repo_digest is not None and first.repo_digest.startswith(f"{registry}/api@sha256:")
    assert registries.remote_image_id(registry, first.tag) == first.id
    assert registries.repo_digest(registry, "api", first.id) == first.repo_digest

    # A commit that leaves the service's inputs alone: same image, its new tag pushed too.
    (root / "README.md").write_text("docs\n")
    second = image(build(root, store, commit=commit_all(root, "docs")))
    assert second.reused and second.id == first.id and second.repo_digest == first.repo_digest
    assert registries.remote_image_id(registry, second.tag) == first.id

    # Someone pushed other content under the next commit's tag: runner refuses to move it.
    (root / "services/api/app.py").write_text("print('v3')\n")
    third_sha = commit_all(root, "v3")
    other = docker_images.build_image(
        tmp_path, None, docker_client.labels("test"), dockerfile_text="FROM runner/python:bookworm\n"
    )
    docker_images.tag_image(other, f"{registry}/api:{third_sha[:12]}")
    docker_images.push_image(f"{registry}/api:{third_sha[:12]}")
    third = build(root, store, commit=third_sha)
    assert third.image is None and third.status == "FAILED"
    assert third.error.startswith(f"refusing to push {registry}/api:{third_sha[:12]}")
    assert registries.remote_image_id(registry, f"api:{third_sha[:12]}") == other


@pytest.mark.slow
def test_a_pipeline_deploys_the_registry_digest_it_pushed(
    tmp_path: Path, runner_home: Path, registry: str
) -> None:
    """Build → Deploy-staging: the digest the Build stage recorded is what the slot container runs."""
    live, test = free_ports(2)
    app = f"reg{uuid.uuid4().hex[:6]}"
    root = make_project(
        tmp_path / "repo",
        files={
            "services/api/Dockerfile": DOCKERFILE + 'CMD ["sh", "-c", "exec python3 -m http.server $PORT"]\n',
            "pipeline.yml": f"app: {app}\nregistry: {registry}\n"
            "services:\n  api:\n    path: services/api\n    health: /\n"
            f"environments:\n  - name: staging\n    port: {live}\n    test_port: {test}\n",
        },
    )
    try:
        done = cli(root, runner_home, "pipeline", "run", "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        stages = {s["name"]: s for s in json.loads(done.stdout)["stages"]}
        built = stages["Build"]["detail"]["images"]["api"]
        assert built["repo_digest"].startswith(f"{registry}/api@sha256:")
        running = docker_ps(f"label=runner.app={app}", "label=runner.kind=slot")
        assert running == [built["repo_digest"]]  # the digest, neither the tag nor the bare id
        store = open_store(runner_home)
        deployment = store.query("SELECT image_id, image_repo_digest FROM deployments")[0]
        assert tuple(deployment) == (built["id"], built["repo_digest"])
        status = json.loads(cli(root, runner_home, "status", "staging", "--json").stdout)
        shown = status["environments"][0]["services"][0]["image"]
        assert shown == {"tag": built["tag"], "id": built["id"], "repo_digest": built["repo_digest"]}
    finally:
        cli(root, runner_home, "down", "--all")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def docker_ps(*filters: str) -> list[str]:
    """The image reference each matching running container was created with (its Config.Image)."""
    args = [arg for f in filters for arg in ("--filter", f)]
    ids = subprocess.run(["docker", "ps", "-q", *args], capture_output=True, text=True, check=True).stdout
    if not ids.split():
        return []
    inspect = ["docker", "inspect", "--format", "{{.Config.Image}}", *ids.split()]
    return subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.split()
