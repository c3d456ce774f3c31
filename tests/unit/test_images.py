"""Pure parts of service images: tags, hand-off files, input scanning and diffs, the gc policy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner import gc, images, inputs
from runner.errors import RunnerError, UsageError
from runner.inputs import Inputs, Tree
from runner.store import images as records
from runner.store import open_store
from runner.store.images import ImageRecord

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_tags_are_content_derived_and_recognised() -> None:
    assert images.commit_tag("api", SHA) == "api:0123456789ab"
    assert images.dirty_tag("api", SHA, "f" * 64) == "api:0123456789ab-dirty-ffffffff"
    for good in ("api:0123456789ab", "web-ui:0123456789ab-dirty-0badcafe"):
        assert images.is_immutable(good)
    for bad in ("api:latest", "api", "api:0123456789a", "api:0123456789ab-dirty-xyz", "Api:0123456789ab"):
        assert not images.is_immutable(bad)


def test_mutable_tags_are_refused_before_any_lookup(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for text in ("api:latest", "api", "api:v1.2", "api:ABCDEF123456", "registry/api:0123456789ab"):
        with pytest.raises(UsageError, match="not an immutable image tag"):
            images.parse_image_ref(text, store)
    with pytest.raises(RunnerError, match="no image api:0123456789ab was built here"):
        images.parse_image_ref("api:0123456789ab", store)


def test_handoff_files_follow_codepipeline_formats(tmp_path: Path) -> None:
    definitions = tmp_path / "imagedefinitions.json"
    entries = [{"name": "web", "imageUri": "w:1"}, {"name": "api", "imageUri": "a:1"}]
    definitions.write_text(json.dumps(entries))
    assert images.handoff_uri(definitions, "api") == "a:1"
    with pytest.raises(RunnerError, match="no single entry named 'db'"):
        images.handoff_uri(definitions, "db")
    definitions.write_text(json.dumps([{"name": "other", "imageUri": "o:1"}]))
    assert images.handoff_uri(definitions, "api") == "o:1"  # the only entry
    definitions.write_text('{"imageUri": "x"}')
    with pytest.raises(RunnerError, match="expected an array"):
        images.handoff_uri(definitions, "api")
    detail = tmp_path / "imageDetail.json"
    detail.write_text('{"ImageURI": "api:abc"}')
    definitions.write_text('[{"name": "api", "imageUri": "a:2"}]')
    # Directories are searched in order, imagedefinitions.json before imageDetail.json.
    assert images.find_handoff([tmp_path / "missing", tmp_path], "api") == (definitions, "a:2")
    definitions.unlink()
    assert images.find_handoff([tmp_path], "api") == (detail, "api:abc")
    detail.write_text("[]")
    with pytest.raises(RunnerError, match="ImageURI"):
        images.handoff_uri(detail, "api")


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
    builds = [gc._Build(f"p:{n}", "p", n, n == 1, None) for n in range(1, 6)]
    builds.append(gc._Build("q:1", "q", 1, False, None))
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
