"""Pure parts of service images: tags, hand-off files, input scanning and diffs, the gc policy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner.core import image_ref
from runner.core.image_ref import ImageRef, ImageResult
from runner.errors import UsageError
from runner.images import gc, inputs
from runner.images import tags as images
from runner.images.inputs import Inputs, Tree
from runner.store import images as records
from runner.store import open_store
from runner.store.builds import BuildOutline
from runner.store.images import ImageRecord

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_tags_are_content_derived_and_recognised() -> None:
    assert image_ref.commit_tag("api", SHA) == "api:0123456789ab"
    assert image_ref.dirty_tag("api", SHA, "f" * 64) == "api:0123456789ab-dirty-ffffffff"


IMMUTABLE = (
    "api:0123456789ab",
    "web-ui:0123456789ab-dirty-0badcafe",
    "127.0.0.1:5000/api:0123456789ab",  # our tag pushed to a registry, which refuses to move it
    "sha256:" + "a" * 64,
    "sha256:abc",  # an image id prefix, resolved by the engine
    "127.0.0.1:5000/api@sha256:" + "b" * 64,
)
MUTABLE = (
    "api:latest",
    "api",
    "api:v1.2",
    "api:prod",
    "api:0123456789a",
    "api:0123456789ab-dirty-xyz",
    "Api:0123456789ab",
    "api:ABCDEF123456",
    "registry:5000/web",
    "localhost:5000/web:1a2b",
    "api@sha256:abc",  # not a whole digest
)


def test_one_immutability_rule() -> None:
    assert [ref for ref in IMMUTABLE if not image_ref.is_immutable(ref)] == []
    assert [ref for ref in MUTABLE if image_ref.is_immutable(ref)] == []
    for ref in MUTABLE:
        with pytest.raises(UsageError, match="is not an immutable image reference"):
            image_ref.check_immutable(ref)


def test_mutable_tags_are_refused_before_any_lookup(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for text in ("api:latest", "api", "api:v1.2", "registry/api:latest"):
        with pytest.raises(UsageError, match="mutable tags such as latest are refused"):
            images.resolve(text, store)
    detail = tmp_path / "imageDetail.json"
    detail.write_text('{"ImageURI": "api:latest"}')
    with pytest.raises(UsageError, match="'api:latest' is not an immutable"):
        images.resolve(str(detail), store)


def test_image_ref_travels_as_json_and_runs_its_digest() -> None:
    digest = "127.0.0.1:5000/api@sha256:" + "c" * 64
    pushed = ImageRef("api:0123456789ab", "sha256:" + "1" * 64, digest)
    local = ImageRef("api:0123456789ab", "sha256:" + "1" * 64)
    assert ImageRef.from_json(json.loads(json.dumps(pushed.as_json()))) == pushed
    assert ImageRef.from_json(local.as_json()) == local and "repo_digest" not in local.as_json()
    assert pushed.reference == digest and local.reference == local.id
    assert pushed.service == "api" == ImageRef("127.0.0.1:5000/api:0123456789ab", "x").service
    result = ImageResult(pushed, True, "inputs unchanged")
    assert ImageResult.from_json(json.loads(json.dumps(result.as_json()))) == result


def test_handoff_files_follow_codepipeline_formats(tmp_path: Path) -> None:
    definitions = tmp_path / "imagedefinitions.json"
    entries = [{"name": "web", "imageUri": "w:1"}, {"name": "api", "imageUri": "a:1"}]
    definitions.write_text(json.dumps(entries))
    assert image_ref.read_handoff(definitions, "api") == "a:1"
    with pytest.raises(UsageError, match="2 images and no single entry named 'db'"):
        image_ref.read_handoff(definitions, "db")
    with pytest.raises(UsageError, match="deploy one service at a time"):
        image_ref.read_handoff(definitions)
    definitions.write_text(json.dumps([{"name": "other", "imageUri": "o:1"}]))
    assert image_ref.read_handoff(definitions, "api") == "o:1"  # the only entry
    definitions.write_text('{"imageUri": "x"}')
    with pytest.raises(UsageError, match=r"expected imagedefinitions\.json"):
        image_ref.read_handoff(definitions, "api")
    detail = tmp_path / "imageDetail.json"
    detail.write_text('{"ImageURI": "api:abc"}')
    definitions.write_text('[{"name": "api", "imageUri": "a:2"}]')
    # Directories are searched in order, imagedefinitions.json before imageDetail.json.
    assert image_ref.find_handoff([tmp_path / "missing", tmp_path], "api") == (definitions, "a:2")
    definitions.unlink()
    assert image_ref.find_handoff([tmp_path], "api") == (detail, "api:abc")
    detail.write_text("[]")
    with pytest.raises(UsageError, match=r"expected imageDetail\.json"):
        image_ref.read_handoff(detail, "api")
    other = tmp_path / "release.json"  # `runner deploy FILE.json`: any name, read by its shape
    other.write_text('{"ImageURI": "api:0123456789ab"}')
    assert image_ref.read_handoff(other) == "api:0123456789ab"
    other.write_text("not json")
    with pytest.raises(UsageError, match="not a readable JSON file"):
        image_ref.read_handoff(other)


def tree(paths: list[str], texts: dict[str, str] | None = None) -> Tree:
    contents = texts or {}
    return Tree(
        root=Path("/repo"),
        paths=sorted(paths),
        entry=lambda path: f"100644 {hash(path)}",
        read=lambda path: contents[path].encode() if path in contents else None,
    )


def test_buildspec_names_shared_files() -> None:
    repo = tree(
        [
            "services/api/app.py",
            "services/api/lib/util.py",
            "tools/lint.sh",
            "tools/common/env.sh",
            "buildspecs/python.yml",
            "Makefile",
            "docs/readme.md",
        ]
    )
    text = """
      - cd $SERVICE_PATH
      - sh $CODEBUILD_SRC_DIR/tools/lint.sh && . ${CODEBUILD_SRC_DIR}/tools/common
      - make -f ../../Makefile; cp -r lib /tmp; echo docs tools
      - cat ../../buildspecs/python.yml "$HOME/x"
      - cd ..
    """
    found = inputs.referenced_paths(text, "services/api", repo)
    # `tools` and `docs` as bare words are not paths; `..` (a parent) would be everything.
    assert found == {"tools/lint.sh", "tools/common", "Makefile", "services/api/lib", "buildspecs/python.yml"}


def test_from_images_skips_stages_and_scratch() -> None:
    text = "FROM runner/build:bookworm AS build\nRUN make\nFROM --platform=x scratch\nFROM build\nFROM py:3\n"
    assert inputs.from_images(text) == ["runner/build:bookworm", "py:3"]
    with_args = "ARG BASE=runner/python:bookworm\nARG TAG\nFROM ${BASE}\nFROM other:$TAG\n"
    assert inputs.from_images(with_args) == ["runner/python:bookworm", "other:$TAG"]
    assert inputs.from_images(with_args, {"BASE": "mine:1", "TAG": "2"}) == ["mine:1", "other:2"]


def test_changes_say_which_inputs_differ() -> None:
    old = Inputs({"a": "1", "b": "1", "c": "1"}, {"build_image": "x 1", "variables": "{}"})
    new = Inputs({"a": "2", "c": "1", "d": "1"}, {"build_image": "x 2", "variables": "{}"})
    assert inputs.changes(old, new) == ["3 files changed: a, b, d", "build image changed"]
    many = Inputs({str(i): "1" for i in range(8)}, old.settings)
    assert inputs.changes(Inputs({}, old.settings), many, limit=2) == ["8 files changed: 0, 1 and 6 more"]
    assert inputs.changes(old, old) == []
    assert old.digest != new.digest and old.digest == inputs.from_json(old.as_json()).digest


def record(tag: str, image_id: str, created: float, service: str = "api") -> ImageRecord:
    return ImageRecord(tag, image_id, service, SHA, None, "d", {}, created)


def test_gc_policy_keeps_newest_and_protected() -> None:
    rows = [record(f"api:{n:012x}", f"sha256:{n}", float(n)) for n in range(5)]
    rows.append(record("api:aaaaaaaaaaaa", "sha256:4", 9.0))  # a second tag of the newest image
    rows.append(record("web:000000000000", "sha256:w", 1.0, "web"))
    remove, kept = gc.choose_images(rows, {"sha256:0": "runs in prod (blue)"}, keep=2)
    assert sorted(remove) == ["sha256:1", "sha256:2"]
    assert kept["sha256:0"] == "runs in prod (blue)"
    assert set(kept) == {"sha256:0", "sha256:3", "sha256:4", "sha256:w"}
    assert remove["sha256:1"] == ["api:000000000001"]


def test_gc_keeps_running_and_newest_builds() -> None:
    builds = [BuildOutline(f"p:{n}", "p", n, n == 1, None) for n in range(1, 6)]
    builds.append(BuildOutline("q:1", "q", 1, False, None))
    assert gc.kept_builds(builds, keep=2) == {"p:5", "p:4", "p:1", "q:1"}


def test_protected_images_come_from_env_state_and_deployments(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.execute(
        "INSERT INTO env_state (environment, service, live_slot, blue_tag, blue_image_id, green_tag, "
        "green_image_id, updated) "
        "VALUES ('prod', 'api', 'green', 'api:1', 'sha256:b', 'api:2', 'sha256:g', ?)",
        (time.time(),),
    )
    rows = [
        ("Succeeded", "sha256:old", None),
        ("Failed", "sha256:new", "sha256:prev"),
        ("Queued", "sha256:q", None),
    ]
    for n, (status, image_id, previous) in enumerate(rows):
        store.execute(
            "INSERT INTO deployments (id, environment, service, image_tag, image_id, previous_image_id, "
            "strategy, status, created) VALUES (?, 'staging', ?, 't', ?, ?, 'AllAtOnce', ?, ?)",
            (f"d-{n}", "api" if n < 2 else "web", image_id, previous, status, float(n)),
        )
    why = records.protected_ids(store)
    assert why["sha256:g"] == "runs in prod (green)"
    assert why["sha256:b"] == "rollback target in prod (blue)"
    # The newest api deployment (and what it replaced), and the queued web one; not the old one.
    assert {"sha256:new", "sha256:prev", "sha256:q"} <= set(why)
    assert "sha256:old" not in why
    placements = records.placements_by_image(store)
    assert [p.text() for p in placements["sha256:g"]] == ["prod:green(live)"]


def test_an_image_carries_its_commit_time_to_deployments(tmp_path: Path) -> None:
    """Lead time is data: deploy reads the commit time from the image's labels, never from git."""
    store = open_store(tmp_path)
    labels = images.image_labels(store, "api", SHA, "api:1", "d" * 64, False, 1_700_000_000.0)
    assert labels["runner.commit"] == SHA and labels["runner.commit-time"] == "1700000000"
    assert "runner.commit-time" not in images.image_labels(store, "api", SHA, "api:1", "d" * 64, False)
