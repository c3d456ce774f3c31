"""CodeBuild's path globs and the workspace boundary (runner/globs.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.codebuild.globs import PathEscape, base_directories, check_relative, inside, matches, select, walk


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "dir/a.txt", False),  # `*` stays inside one name
        ("**/*.txt", "a.txt", True),  # `**/` may match nothing
        ("**/*.txt", "x/y/a.txt", True),
        ("dir/*", "dir/a", True),
        ("dir/*", "dir/sub/a", False),
        ("dir/**/*", "dir/sub/deep/a", True),
        ("dir/**/*", "other/a", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "c.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("*", ".hidden", True),  # our choice: `*` matches dot files
        ("**/.*", "x/.env", True),
        ("**/.*", "x/.git/config", False),  # the dot *file* form, not the dot folder one
        ("**/.*/**/*", "x/.git/config", True),
        ("**/node_modules/**/*", "node_modules/a.js", True),
        ("**/node_modules/**/*", "a/node_modules/b/c.js", True),
        ("./a.txt", "a.txt", True),
        ("a.b", "axb", False),  # a dot is literal
        ("dir/", "dir", True),
    ],
)
def test_matches(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_check_relative_refuses_absolute_and_dotdot() -> None:
    assert check_relative("./out/a.txt") == "out/a.txt"
    assert check_relative("a..b/c") == "a..b/c"  # `..` inside a name is fine
    with pytest.raises(PathEscape, match=r"'/etc/passwd' is absolute"):
        check_relative("/etc/passwd")
    with pytest.raises(PathEscape, match=r"'out/../../x' contains '\.\.'"):
        check_relative("out/../../x")
    with pytest.raises(PathEscape, match=r"contains '\.\.'"):
        check_relative("..")


def _tree(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return root


def test_walk_lists_files_and_links_never_following_them(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a.txt", "d/b.txt"])
    outside = _tree(tmp_path / "outside", ["secret.txt"])
    os.symlink(outside, root / "d" / "to-outside")
    os.symlink("/etc/passwd", root / "passwd")
    os.mkfifo(root / "pipe")  # reading it would block: never listed
    entries, dirs = walk(root)
    assert {(e.rel, e.is_link) for e in entries} == {
        ("a.txt", False),
        ("d/b.txt", False),
        ("d/to-outside", True),
        ("passwd", True),
    }
    assert dirs == ["d"]


def test_walk_skips_the_runners_own_state(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["a.txt", ".runner/state.db", ".runner/work/x/y"])
    entries, dirs = walk(root)
    assert [e.rel for e in entries] == ["a.txt"] and dirs == []


def test_select_named_directories_and_excludes(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["out/a.txt", "out/sub/b.txt", "out/.cache/c", "top.txt"])
    entries, dirs = walk(root)
    # A literal pattern naming a directory selects everything below it ...
    assert [e.rel for e in select(entries, dirs, ["out"])] == ["out/.cache/c", "out/a.txt", "out/sub/b.txt"]
    # ... but `*` matching a directory does not: `out/*` is the files directly in out.
    assert [e.rel for e in select(entries, dirs, ["out/*"])] == ["out/a.txt"]
    assert [e.rel for e in select(entries, dirs, ["out/**/*"], ["**/.*/**/*"])] == [
        "out/a.txt",
        "out/sub/b.txt",
    ]
    assert [e.rel for e in select(entries, dirs, ["*.txt"])] == ["top.txt"]
    assert select(entries, dirs, ["nothing/*"]) == []


def test_base_directories(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "src", ["my-build-1/a", "my-build-2/b", "my-build-2/nested/my-build-3/c", "other/d"]
    )
    assert base_directories(root, None) == [root]
    assert base_directories(root, "other") == [root / "other"]
    assert base_directories(root, "missing") == []
    # A pattern matches top-level directories: `*` does not cross `/`.
    assert base_directories(root, "my-build*") == [root / "my-build-1", root / "my-build-2"]
    assert base_directories(root, "my-build-2/nested/") == [root / "my-build-2" / "nested"]


def test_base_directory_through_a_symlink_to_outside_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a"])
    outside = _tree(tmp_path / "home", ["secret"])
    os.symlink(outside, root / "link")
    with pytest.raises(PathEscape, match="'link' leads outside the source directory through a symlink"):
        base_directories(root, "link")
    # Patterns only match real directories, never links.
    assert base_directories(root, "l*") == []
    with pytest.raises(PathEscape, match=r"contains '\.\.'"):
        base_directories(root, "../home")


def test_inside_resolves_links(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a"])
    os.symlink("a", root / "ok")
    os.symlink("../../etc/passwd", root / "bad")
    os.symlink("ok", root / "chain")
    assert inside(root, root / "ok") and inside(root, root / "chain")
    assert not inside(root, root / "bad")
