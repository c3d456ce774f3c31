"""Secondary sources without Docker: the -s flags as codebuild_build.sh reads them, the
variables, and the workspace layout (copies: links kept as links, `.runner` left out)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.codebuild import workspace
from runner.codebuild.secondary_sources import (
    SecondaryInfo,
    SecondarySource,
    as_json,
    parse_sources,
    variables,
)
from runner.errors import UsageError

RULE = "use 1 to 127 letters, digits or underscores"


def dirs(tmp_path: Path, *names: str) -> list[Path]:
    made = [tmp_path / name for name in names]
    for path in made:
        path.mkdir()
    return made


def test_first_s_is_the_primary_and_later_ones_are_identifier_colon_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, lib, tools = dirs(tmp_path, "app", "lib", "to:ols")
    monkeypatch.chdir(tmp_path)
    primary, secondary = parse_sources([str(app), f"lib_1:{lib}", "Tools:to:ols"])
    assert primary == app.resolve()
    # Split at the first colon, like the script's ${x%%:*} and ${x#*:}; relative to the cwd.
    assert secondary == (SecondarySource("lib_1", lib.resolve()), SecondarySource("Tools", tools.resolve()))
    assert parse_sources([]) == (tmp_path.resolve(), ())
    assert parse_sources(["lib"]) == (lib.resolve(), ())


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("a-b:{lib}", "-s a-b:{lib}: bad source identifier 'a-b': " + RULE),
        (":{lib}", "-s :{lib}: bad source identifier '': " + RULE),
        ("{lib}", "-s {lib}: a secondary source is IDENTIFIER:DIR (only the first -s is the primary DIR)"),
        ("lib:{lib}/missing", "-s lib:{lib}/missing: '{lib}/missing' is not a directory"),
        ("lib:{lib}/file", "-s lib:{lib}/file: '{lib}/file' is not a directory"),
    ],
)
def test_bad_secondary_sources_are_usage_errors(tmp_path: Path, flag: str, message: str) -> None:
    app, lib = dirs(tmp_path, "app", "lib")
    (lib / "file").write_text("")
    with pytest.raises(UsageError) as raised:
        parse_sources([str(app), flag.format(lib=lib)])
    assert str(raised.value) == message.format(lib=lib)


def test_identifier_length_and_repeats(tmp_path: Path) -> None:
    app, lib = dirs(tmp_path, "app", "lib")
    longest = "x" * 127
    assert parse_sources([str(app), f"{longest}:{lib}"])[1][0].identifier == longest
    with pytest.raises(UsageError, match=r"bad source identifier 'x{128}'"):
        parse_sources([str(app), f"{'x' * 128}:{lib}"])
    with pytest.raises(UsageError, match=r"^-s lib:.*: source identifier 'lib' is given twice$"):
        parse_sources([str(app), f"lib:{lib}", f"lib:{app}"])
    # Variable names are case-sensitive: lib and LIB are two sources.
    assert len(parse_sources([str(app), f"lib:{lib}", f"LIB:{lib}"])[1]) == 2


def test_a_first_s_with_an_identifier_is_a_path_like_in_the_script(tmp_path: Path) -> None:
    (app,) = dirs(tmp_path, "app")
    with pytest.raises(UsageError) as raised:
        parse_sources([f"main:{app}"])
    assert str(raised.value) == (
        f"-s main:{app}: not a directory (the first -s is the primary source's DIR; "
        "IDENTIFIER:DIR is for the -s flags after it)"
    )
    with pytest.raises(UsageError) as raised:
        parse_sources([str(tmp_path / "missing")])
    assert str(raised.value) == f"-s {tmp_path / 'missing'}: not a directory"


def test_variables_and_json() -> None:
    git = SecondaryInfo("lib", Path("/h/lib"), "main", "a" * 40, "https://example.test/lib.git")
    plain = SecondaryInfo("data", Path("/h/data"), None, None, "file:///h/data")
    found = variables([git, plain], lambda ident: f"/codebuild/output/src1/secSrc/{ident}")
    assert found == {
        "CODEBUILD_SRC_DIR_lib": "/codebuild/output/src1/secSrc/lib",
        "CODEBUILD_SOURCE_REPO_URL_lib": "https://example.test/lib.git",
        "CODEBUILD_SOURCE_VERSION_lib": "main",
        "CODEBUILD_RESOLVED_SOURCE_VERSION_lib": "a" * 40,
        "CODEBUILD_SRC_DIR_data": "/codebuild/output/src1/secSrc/data",
        "CODEBUILD_SOURCE_REPO_URL_data": "file:///h/data",
    }
    assert as_json([plain], None) == {
        "data": {
            "path": "/h/data",
            "src_dir": None,
            "source_version": None,
            "resolved_source_version": None,
            "repo_url": "file:///h/data",
        }
    }


def test_workspace_copies_secondary_sources_beside_the_primary(tmp_path: Path) -> None:
    app, src = dirs(tmp_path, "app", "src")  # an identifier named like the primary's directory
    (app / "a.txt").write_text("primary")
    (src / "b.txt").write_text("secondary")
    (src / ".runner").mkdir()
    (src / ".runner" / "state.db").write_text("never copied")
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", src / "out-link")
    sources = (SecondarySource("src", src),)
    space = workspace.create(tmp_path / "work", "b1", app, mount_source=False, secondary=sources)
    workspace.copy_source(app, space)
    copy = space.secondary_src(sources[0])
    assert copy == space.src.parent / "secSrc" / "src" and space.src == space.src.parent / "src"
    assert sorted(p.name for p in space.src.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in copy.iterdir()) == ["b.txt", "out-link"]
    assert os.readlink(copy / "out-link") == str(tmp_path / "outside.txt")  # a link, not the file
    assert space.container_secondary("src") == f"/codebuild/output/src{space.src_number}/secSrc/src"
    assert space.mounts() == (workspace.Mount(str(space.output), "/codebuild/output"),)
    workspace.remove_source(space)
    assert not space.src.exists() and not copy.exists()


def test_workspace_mounts_secondary_sources_with_m(tmp_path: Path) -> None:
    app, lib = dirs(tmp_path, "app", "lib")
    sources = (SecondarySource("lib", lib), SecondarySource("again", app))
    space = workspace.create(tmp_path / "work", "b2", app, mount_source=True, secondary=sources)
    workspace.copy_source(app, space)  # nothing to copy
    number = space.src_number
    assert space.secondary_src(sources[0]) == lib
    assert space.mounts()[1:] == (
        workspace.Mount(str(app), f"/codebuild/output/src{number}/src"),
        workspace.Mount(str(lib), f"/codebuild/output/src{number}/secSrc/lib"),
        workspace.Mount(str(app), f"/codebuild/output/src{number}/secSrc/again"),
    )
    assert (space.output / f"src{number}" / "secSrc" / "lib").is_dir()  # the mount point
