"""Two copies of one project (a git repository and its `git worktree`) on one engine (issue 17.4).

Both copies share `app:` and the ports, each keeps its own state in its own `.runner`. The
copy that brought an environment up owns it; the other is refused with one line naming the
owner's directory, and never touches the owner's containers. Every step runs the real
`runner` command line in a separate process, from the copy's directory, as a user does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.codedeploy import ImageRef
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import free_ports, get

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """\
app: {app}
time_scale: 600
services:
  web:
    path: web
    health_timeout: 10s
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    termination_wait: 0s
"""


@dataclass(frozen=True)
class Copies:
    a: Path  # the repository (the first owner)
    b: Path  # its git worktree
    app: str
    port: int
    test_port: int

    @property
    def project(self) -> str:
        return f"{self.app}-staging"


def runner(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`runner ARGS` run in the copy's directory: its state is the copy's own `.runner`."""
    environ = {k: v for k, v in os.environ.items() if k != "RUNNER_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=copy,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def containers(project: str) -> dict[str, tuple[str, str, str]]:
    """Compose service → (container id, state, image id) of a compose project on the engine."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out:
        return {}
    inspected = json.loads(
        subprocess.run(["docker", "inspect", *out], capture_output=True, text=True, check=True).stdout
    )
    return {
        c["Config"]["Labels"]["com.docker.compose.service"]: (c["Id"], c["State"]["Status"], c["Image"])
        for c in inspected
    }


def version(port: int) -> str:
    code, body = get(port, "/web/version")
    assert code == 200, body
    return str(body["version"])


def status(copy: Path) -> dict[str, object]:
    shown = runner(copy, "status", "staging", "--json")
    assert shown.returncode == 0, shown.stderr
    [env] = json.loads(shown.stdout)["environments"]
    return dict(env)


def deploy(copy: Path, image: ImageRef) -> subprocess.CompletedProcess[str]:
    return runner(copy, "deploy", "staging", "web", image.tag, "--no-wait")


def refused_line(copy: Copies, owner: Path, this: Path) -> str:
    return (
        f"runner: error: staging: compose project {copy.project} belongs to the project in {owner}: "
        f"give this copy another app: and other ports in {this / 'pipeline.yml'}, "
        f"or run `runner down staging` in {owner} first"
    )


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copies]:
    root = tmp_path_factory.mktemp("owner").resolve()
    port, test_port = free_ports(2)
    app = f"own{uuid.uuid4().hex[:6]}"
    a = root / "a"
    (a / "web").mkdir(parents=True)
    (a / "web" / "README").write_text("the web service\n")
    (a / "pipeline.yml").write_text(PIPELINE.format(app=app, port=port, test_port=test_port))
    (a / ".gitignore").write_text(".runner/\n")
    git(a, "init", "-q", "-b", "main")
    git(a, "add", ".")
    git(a, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v1")
    git(a, "worktree", "add", "-q", "--detach", str(root / "b"))
    try:
        yield Copies(a, root / "b", app, port, test_port)
    finally:
        subprocess.run(
            ["docker", "compose", "-p", f"{app}-staging", "down", "-v", "-t", "1"],
            cwd=root,
            capture_output=True,
        )


def test_the_second_copy_is_refused_and_touches_nothing(copies: Copies, images: Images) -> None:
    first = deploy(copies.a, images.v1)
    assert first.returncode == 0, first.stdout + first.stderr
    before = containers(copies.project)
    assert set(before) == {"router", "web-blue"} and version(copies.port) == "1"

    for attempt in (deploy(copies.b, images.v2), runner(copies.b, "up", "staging")):
        assert attempt.returncode == 2, attempt.stdout + attempt.stderr
        assert attempt.stderr.splitlines() == [refused_line(copies, copies.a, copies.b)]

    assert containers(copies.project) == before  # same containers, same state, same images
    assert version(copies.port) == "1"
    assert not (copies.b / ".runner" / "envs" / "staging" / "compose.yml").exists()


def test_status_in_each_copy_is_consistent(copies: Copies) -> None:
    mine, theirs = status(copies.a), status(copies.b)
    assert mine["owner"] == {
        "project": str(copies.a),
        "home": str(copies.a / ".runner"),
        "ours": True,
        "gone": False,
    }
    [web] = mine["services"]  # type: ignore[misc]
    assert web["live_slot"] == "blue" and web["slots"]["blue"]["container"] == "running"
    assert web["last_deployment"]["status"] == "Succeeded"

    assert theirs["owner"] == {**mine["owner"], "ours": False}  # type: ignore[dict-item]
    assert theirs["router"] == "absent"  # not this copy's router, whatever answers on the port
    [other] = theirs["services"]  # type: ignore[misc]
    assert other["live_slot"] is None and other["last_deployment"] is None
    assert {s["container"] for s in other["slots"].values()} == {"absent"}
    text = runner(copies.b, "status", "staging")
    assert f"owned by the project in {copies.a}; this copy does not manage it" in text.stdout


def test_another_app_on_the_same_ports_names_the_router_holding_them(copies: Copies) -> None:
    pipeline = copies.b / "pipeline.yml"
    original = pipeline.read_text()
    pipeline.write_text(original.replace(f"app: {copies.app}", f"app: {copies.app}x"))
    try:
        attempt = runner(copies.b, "up", "staging")
    finally:
        pipeline.write_text(original)
    assert attempt.returncode == 2, attempt.stdout + attempt.stderr
    assert attempt.stderr.splitlines() == [
        f"runner: error: staging: port {copies.port} is held by the router of {copies.project}: "
        f"it belongs to the project in {copies.a}; give this copy other ports in {pipeline}, "
        f"or run `runner down staging` in {copies.a} first"
    ]
    assert containers(f"{copies.app}x-staging") == {}


def test_down_all_in_the_other_copy_leaves_the_owners_environment(copies: Copies) -> None:
    before = containers(copies.project)
    down = runner(copies.b, "down", "--all")
    assert down.returncode == 0, down.stderr
    assert (
        f"staging: compose project {copies.project} belongs to the project in {copies.a}: left alone"
        in down.stdout + down.stderr
    )
    named = runner(copies.b, "down", "staging")
    assert named.returncode == 2 and named.stderr.splitlines() == [refused_line(copies, copies.a, copies.b)]
    assert runner(copies.b, "down", "--all", "--force").returncode == 2  # --force names one environment
    assert containers(copies.project) == before and version(copies.port) == "1"


def test_after_the_owner_downs_it_the_other_copy_can_use_it(copies: Copies, images: Images) -> None:
    down = runner(copies.a, "down", "--all")
    assert down.returncode == 0, down.stderr
    assert containers(copies.project) == {}
    second = deploy(copies.b, images.v2)
    assert second.returncode == 0, second.stdout + second.stderr
    assert version(copies.port) == "2"
    assert status(copies.b)["owner"]["ours"] is True  # type: ignore[index]
    assert status(copies.a)["owner"] == {  # now the first copy is the other one
        "project": str(copies.b),
        "home": str(copies.b / ".runner"),
        "ours": False,
        "gone": False,
    }


def test_an_owner_whose_directory_is_gone_is_taken_over_explicitly(copies: Copies, images: Images) -> None:
    shutil.rmtree(copies.b)  # the worktree (and its state) deleted; its environment still runs
    git(copies.a, "worktree", "prune")
    before = containers(copies.project)
    refused = deploy(copies.a, images.v1)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        f"runner: error: staging: compose project {copies.project} belongs to the project in {copies.b}: "
        f"that directory no longer exists; `runner down staging --force` here removes its containers "
        f"so that this copy can take it over, or give this copy another app: and other ports in "
        f"{copies.a / 'pipeline.yml'}"
    ]
    # Untouched (its router no longer routes: the state it reads went with the directory).
    assert containers(copies.project) == before and before["router"][1] == "running"
    assert status(copies.a)["owner"]["gone"] is True  # type: ignore[index]

    takeover = runner(copies.a, "down", "staging", "--force")
    assert takeover.returncode == 0, takeover.stderr
    assert f"taken over from the project in {copies.b}" in takeover.stdout + takeover.stderr
    assert containers(copies.project) == {}
    again = deploy(copies.a, images.v1)
    assert again.returncode == 0, again.stdout + again.stderr
    assert version(copies.port) == "1" and status(copies.a)["owner"]["ours"] is True  # type: ignore[index]
    down = runner(copies.a, "down", "staging")
    assert down.returncode == 0, down.stderr
