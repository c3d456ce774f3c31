"""`runner images bootstrap -H`: base images built on this machine's engine (the mirror is
reachable here) and streamed to an engine that has no network and none of our files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters.docker.remote import Endpoint
from runner.errors import EngineError
from runner.images.base import BASE, BUILD, PYTHON, ROUTER
from runner.images.on_engine import present_on
from tests.conftest import SESSION_LABEL
from tests.integration.second_engine import SecondEngine

pytestmark = pytest.mark.docker

SMALL = (BASE, BUILD, ROUTER, PYTHON)  # all but the 1.4 GB standard image (~35 s more to copy)


def runner(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        env={**os.environ, **env},
    )


def image_id(ref: str, host: str | None = None) -> str | None:
    where = ["-H", host] if host else []
    found = subprocess.run(
        ["docker", *where, "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True
    )
    return found.stdout.strip() if found.returncode == 0 else None


@pytest.fixture
def absent_before(second_engine: SecondEngine) -> Iterator[set[str]]:
    """The small base images whose id the second engine lacks now; afterwards the tags it lacked are removed
    there again, and only those (other tests may use the ones that were there), never by force:
    an image in use there stays."""
    untagged = {ref for ref in SMALL if image_id(ref, second_engine.url) is None}
    # by id: an earlier test may have untagged an image there that its snapshots still hold
    yield {ref for ref in SMALL if image_id(str(image_id(ref)), second_engine.url) is None}
    for ref in untagged:
        second_engine.docker("rmi", ref, check=False)


def test_bootstrap_streams_the_base_images_to_an_engine_with_no_network(
    tmp_path: Path, second_engine: SecondEngine, absent_before: set[str]
) -> None:
    (tmp_path / "pipeline.yml").write_text(
        "app: shop\nservices:\n  web: {path: web}\n"
        "environments:\n  - {name: prod, port: 8080, test_port: 9080}\n"
        f"engines:\n  node2: {second_engine.url}\n"
    )
    first = runner(
        "images", "bootstrap", "-H", "node2", "base", "build", "router", "python", "--json", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    assert [r["ref"] for r in rows] == list(SMALL)
    for row in rows:
        here = image_id(row["ref"])
        assert row["id"] == here == image_id(row["ref"], second_engine.url) and row["current"]
        assert row["engine"] == second_engine.url
        # sent when it was missing there (or there under another id); nothing when it was there
        assert (row["bytes"] > 50 * 2**20) == (row["ref"] in absent_before), row
    if absent_before:
        assert "MiB sent, the target engine is loading it" in first.stderr
    # DOCKER_HOST naming that engine is the target too; the images are still built here
    again = runner(
        "images",
        "bootstrap",
        "base",
        "build",
        "router",
        "python",
        cwd=tmp_path,
        DOCKER_HOST=second_engine.url,
    )
    assert again.returncode == 0, again.stderr
    table = again.stdout.splitlines()
    assert table[0].split() == ["IMAGE", "RECIPE", "ID", "ON", second_engine.url]
    assert [line.split()[0] for line in table[1:]] == list(SMALL)
    assert all(line.endswith("already there") for line in table[1:])
    assert "exporting" not in again.stderr
    assert again.stderr.startswith(f"base images are current on {second_engine.url} (")
    # what a build on that engine calls for its build image: current here, there already
    said: list[str] = []
    placed = present_on(Endpoint(second_engine.url), BUILD, say=said.append)
    assert (placed.image_id, placed.bytes_sent, said) == (image_id(BUILD), 0, [])
    # usable there: that engine has no registry and no network to pull from
    ran = second_engine.docker("run", "--rm", "--network", "none", PYTHON, "python3", "-c", "print(6 * 7)")
    assert ran.stdout.strip() == "42"
    assert second_engine.docker("run", "--rm", "--network", "none", BUILD, "true").returncode == 0


def test_bootstrap_names_an_unreachable_engine_or_an_unknown_image_in_one_line(
    tmp_path: Path, second_engine: SecondEngine
) -> None:
    gone = runner("images", "bootstrap", "-H", "tcp://10.231.0.2:2399", "python", cwd=tmp_path)
    assert (gone.returncode, gone.stderr) == (
        1,
        "runner: error: engine tcp://10.231.0.2:2399: Connection refused\n",
    )
    unknown = runner("images", "bootstrap", "-H", second_engine.url, "pyhton", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "runner: error: no base image 'pyhton': expected one of base, build, router, python, standard "
        "(or their full tags)\n"
    )
    nameless = runner("images", "bootstrap", "--docker-host", "node9", cwd=tmp_path)
    assert nameless.returncode == 2 and "no engine 'node9' (known: local)" in nameless.stderr


@pytest.fixture
def fresh_tag(second_engine: SecondEngine) -> Iterator[str]:
    """A new image's tag on this machine's engine (the base image and a unique label); every
    image under that name on either engine, tagged or left dangling there, is removed after."""
    tag = f"runner-test-bootstrap-{uuid.uuid4().hex[:10]}:1"
    key, _, value = SESSION_LABEL.partition("=")
    subprocess.run(
        ["docker", "build", "-q", "--label", f"{key}={value}", "-t", tag, "-"],
        input=f"FROM {BASE}\nLABEL runner.test.nonce={uuid.uuid4().hex}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    yield tag
    subprocess.run(["docker", "rmi", tag], capture_output=True)
    mine = second_engine.docker("images", "-aq", "--filter", f"label={SESSION_LABEL}").stdout.split()
    for image in {*mine, *second_engine.docker("images", "-q", tag.partition(":")[0]).stdout.split()}:
        second_engine.docker("rmi", "-f", image, check=False)


def _import_there(engine: SecondEngine, tag: str, *labels: str) -> str:
    """An empty image made on that engine under `tag` (a tag the runner must deal with there)."""
    changes = [arg for label in (SESSION_LABEL, *labels) for arg in ("-c", f"LABEL {label}")]
    subprocess.run(
        ["docker", "-H", engine.url, "import", *changes, "-", tag],
        input=b"\0" * 10240,  # an empty tar archive
        capture_output=True,
        check=True,
    )
    there = image_id(tag, engine.url)
    assert there is not None
    return there


def test_a_tag_naming_an_older_base_image_of_ours_moves_and_no_other_tag_does(
    fresh_tag: str, second_engine: SecondEngine
) -> None:
    target = Endpoint(second_engine.url)
    foreign = _import_there(second_engine, fresh_tag)
    with pytest.raises(EngineError, match=r"is another image .* a tag is never overwritten"):
        present_on(target, fresh_tag, say=lambda _line: None)
    assert image_id(fresh_tag, second_engine.url) == foreign
    ours = _import_there(second_engine, fresh_tag, "runner.managed=1", "runner.kind=base-image")
    assert ours != foreign
    placed = present_on(target, fresh_tag, say=lambda _line: None)
    assert placed.image_id == image_id(fresh_tag) == image_id(fresh_tag, second_engine.url)
    assert placed.bytes_sent > 50 * 2**20 and placed.tags == (fresh_tag,)


def test_bootstrap_here_of_named_images_keeps_its_shape(tmp_path: Path) -> None:
    """Without -H nothing moves: the images asked for are made current on this engine, and
    --json keeps the shape it had before engines (no engine, bytes or seconds)."""
    result = runner("images", "bootstrap", "python", "runner/router:bookworm", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["ref"] for r in rows] == [ROUTER, PYTHON]
    assert all(list(r) == ["ref", "recipe", "id", "current"] and r["current"] for r in rows)
    assert [r["id"] for r in rows] == [image_id(ROUTER), image_id(PYTHON)]
