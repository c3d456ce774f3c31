"""Artifact selection and output (runner/artifacts.py), with the AWS documentation's examples.

Examples: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
(artifacts/base-directory, discard-paths, exclude-paths).
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from runner.codebuild.artifacts import ArtifactError, collect, discard_partial, upload, write
from runner.codebuild.buildspec import Artifacts, ArtifactSpec

AWS_TREE = [
    "my-build-1/my-file-1.txt",
    "my-build-2/my-file-2.txt",
    "my-build-2/my-subdirectory/my-file-3.txt",
]


def _tree(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    return root


def dests(root: Path, **spec: object) -> list[str]:
    return [s.dest for s in collect(root, ArtifactSpec(**spec))]  # type: ignore[arg-type]


def test_aws_example_base_directory(tmp_path: Path) -> None:
    root = _tree(tmp_path, AWS_TREE)
    assert dests(root, files=("*/my-file-3.txt",), base_directory="my-build-2") == [
        "my-subdirectory/my-file-3.txt"
    ]


def test_aws_example_base_directory_pattern_with_discard_paths(tmp_path: Path) -> None:
    root = _tree(tmp_path, AWS_TREE)
    assert dests(root, files=("**/*",), base_directory="my-build*", discard_paths=True) == [
        "my-file-1.txt",
        "my-file-2.txt",
        "my-file-3.txt",
    ]


EXCLUDE_TREE = ["keep.txt", ".env", "sub/.hidden", "sub/keep2.txt", ".git/config", "a/.cache/x", "a/b.txt"]
EXCLUDE_TREE += ["node_modules/m.js", "a/node_modules/n/o.js"]


@pytest.mark.parametrize(
    ("exclude", "expected"),
    [
        # AWS: "all dot files" — not the files inside dot folders.
        (
            "**/.*",
            [
                ".git/config",
                "a/.cache/x",
                "a/b.txt",
                "a/node_modules/n/o.js",
                "keep.txt",
                "node_modules/m.js",
                "sub/keep2.txt",
            ],
        ),
        # AWS: "all dot folders" — the files inside them, not dot files.
        (
            "**/.*/**/*",
            [
                ".env",
                "a/b.txt",
                "a/node_modules/n/o.js",
                "keep.txt",
                "node_modules/m.js",
                "sub/.hidden",
                "sub/keep2.txt",
            ],
        ),
        # AWS: "a named directory anywhere".
        (
            "**/node_modules/**/*",
            [".env", ".git/config", "a/.cache/x", "a/b.txt", "keep.txt", "sub/.hidden", "sub/keep2.txt"],
        ),
    ],
)
def test_aws_examples_exclude_paths(tmp_path: Path, exclude: str, expected: list[str]) -> None:
    root = _tree(tmp_path, EXCLUDE_TREE)
    assert dests(root, files=("**/*",), exclude_paths=(exclude,)) == expected


def test_exclude_paths_are_relative_to_base_directory(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["out/a.txt", "out/skip/b.txt"])
    assert dests(root, files=("**/*",), base_directory="out", exclude_paths=("skip/**/*",)) == ["a.txt"]


def test_nothing_matched_is_the_codebuild_message(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["a.txt"])
    with pytest.raises(ArtifactError, match=r"^no matching artifact paths found$"):
        collect(root, ArtifactSpec(files=("*.jar",)))
    # A missing base directory has its own words (aws/aws-cdk#28519; decision 23).
    with pytest.raises(ArtifactError, match=r"^no matching base directory path found for missing$"):
        collect(root, ArtifactSpec(files=("**/*",), base_directory="missing"))


def test_dir_star_is_the_files_directly_in_dir(tmp_path: Path) -> None:
    """AWS: `my-subdirectory/*` is "all files in a subdirectory", `my-subdirectory/**/*` all
    files recursively (decision 24); a literal directory name still takes everything below it."""
    root = _tree(tmp_path, ["dist/app.js", "dist/assets/logo.png", "dist/assets/deep/x.css", "top.txt"])
    assert dests(root, files=("dist/*",)) == ["dist/app.js"]
    everything = ["dist/app.js", "dist/assets/deep/x.css", "dist/assets/logo.png"]
    assert dests(root, files=("dist/**/*",)) == everything
    assert dests(root, files=("*",)) == ["top.txt"]
    assert dests(root, files=("dist",)) == everything
    assert dests(root, files=("*",), base_directory="dist") == ["app.js"]


def test_an_absolute_base_directory_is_read_where_locate_puts_it(tmp_path: Path) -> None:
    copied = _tree(tmp_path / "copied", ["tmp/testArtifacts/a.txt", "tmp/testArtifacts/sub/b.txt"])
    src = _tree(tmp_path / "src", ["c.txt"])

    def locate(path: str) -> tuple[Path, str]:
        return copied, path.lstrip("/")

    spec = ArtifactSpec(files=("**/*",), base_directory="/tmp/testArtifacts")
    assert [s.dest for s in collect(src, spec, locate)] == ["a.txt", "sub/b.txt"]
    with pytest.raises(ArtifactError, match="'/tmp/testArtifacts' is absolute"):
        collect(src, spec)  # without a build container, an absolute path stays refused


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            ArtifactSpec(files=("../secret",)),
            "'../secret' contains '..'; paths cannot leave the source directory",
        ),
        (ArtifactSpec(files=("/etc/passwd",)), "'/etc/passwd' is absolute; expected a path relative to"),
        (ArtifactSpec(files=("a",), exclude_paths=("../x",)), "'../x' contains '..'"),
        (ArtifactSpec(files=("**/*",), base_directory="../"), "'../' contains '..'"),
        (ArtifactSpec(files=("**/*",), base_directory="/etc"), "'/etc' is absolute"),
    ],
)
def test_paths_leaving_the_workspace_are_refused(tmp_path: Path, spec: ArtifactSpec, message: str) -> None:
    root = _tree(tmp_path / "src", ["a"])
    with pytest.raises(ArtifactError, match=message.replace(".", r"\.").replace("(", r"\(")):
        collect(root, spec)


def test_symlink_to_outside_is_refused_never_followed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a.txt"])
    os.symlink("/etc/passwd", root / "passwd")
    with pytest.raises(
        ArtifactError, match=r"^passwd is a symlink to /etc/passwd, outside the source directory; refused$"
    ):
        collect(root, ArtifactSpec(files=("**/*",)))
    with pytest.raises(ArtifactError, match="outside the source directory"):
        collect(root, ArtifactSpec(files=("**/*",), enable_symlinks=True))


def test_base_directory_symlink_to_the_hosts_home_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a.txt"])
    home = _tree(tmp_path / "home", [".ssh/id_rsa"])
    os.symlink(home, root / "h")
    with pytest.raises(ArtifactError, match="'h' leads outside the source directory"):
        collect(root, ArtifactSpec(files=("**/*",), base_directory="h"))


def test_internal_symlinks_are_copied_as_files_or_kept_with_enable_symlinks(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["lib/real.so"])
    os.symlink("real.so", root / "lib" / "link.so")
    os.symlink("lib", root / "libdir")
    plain = collect(root, ArtifactSpec(files=("**/*",)))
    assert [(s.dest, s.link_target) for s in plain] == [("lib/link.so", None), ("lib/real.so", None)]
    kept = collect(root, ArtifactSpec(files=("**/*",), enable_symlinks=True))
    assert [(s.dest, s.link_target) for s in kept] == [
        ("lib/link.so", "real.so"),
        ("lib/real.so", None),
        ("libdir", "lib"),
    ]
    out = tmp_path / "out"
    zip_path = write(kept, out, "artifacts")
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo("lib/link.so")
        assert stat.S_ISLNK(info.external_attr >> 16) and archive.read(info) == b"real.so"
    assert os.readlink(out / "artifacts" / "lib" / "link.so") == "real.so"


def test_discard_paths_keeps_the_first_of_equal_names(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["a/x.txt", "b/x.txt"])
    selected = collect(root, ArtifactSpec(files=("**/*",), discard_paths=True))
    assert [(s.dest, s.source.relative_to(root).as_posix()) for s in selected] == [("x.txt", "a/x.txt")]


def test_special_files_are_left_out(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["a.txt"])
    os.mkfifo(root / "fifo")  # copying it would block the upload forever
    assert dests(root, files=("**/*",)) == ["a.txt"]


def test_upload_writes_the_local_agent_layout(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["out/app.jar", "out/lib/dep.jar", "docs/index.html"])
    artifacts = Artifacts(
        primary=ArtifactSpec(files=("**/*",), base_directory="out", name="ignored-name"),
        secondary={"docs": ArtifactSpec(files=("docs/**/*",), discard_paths=True)},
    )
    out = tmp_path / "a"
    (out / "artifacts").mkdir(parents=True)
    (out / "artifacts" / "stale.txt").write_text("from an earlier build")
    assert upload(root, artifacts, out) == {"artifacts": ["app.jar", "lib/dep.jar"], "docs": ["index.html"]}
    assert sorted(p.name for p in out.iterdir()) == ["artifacts", "artifacts.zip", "docs", "docs.zip"]
    assert (out / "artifacts" / "lib" / "dep.jar").read_text() == "content of out/lib/dep.jar\n"
    assert not (out / "artifacts" / "stale.txt").exists()
    with zipfile.ZipFile(out / "artifacts.zip") as archive:
        assert sorted(archive.namelist()) == ["app.jar", "lib/dep.jar"]
    with zipfile.ZipFile(out / "docs.zip") as archive:
        assert archive.namelist() == ["index.html"]


def test_upload_writes_nothing_when_one_block_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a.txt"])
    artifacts = Artifacts(ArtifactSpec(files=("a.txt",)), {"extra": ArtifactSpec(files=("missing",))})
    with pytest.raises(ArtifactError):
        upload(root, artifacts, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_failed_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src", ["a.txt", "b.txt"])
    out = tmp_path / "out"
    upload(root, Artifacts(ArtifactSpec(files=("a.txt",))), out)  # an earlier, complete result
    selected = collect(root, ArtifactSpec(files=("**/*",)))
    (root / "b.txt").unlink()  # vanishes between selection and copy
    with pytest.raises(FileNotFoundError):
        write(selected, out, "artifacts")
    assert list(out.iterdir()) == []  # neither the old result nor a half tree under real names


def test_discard_partial_removes_what_a_killed_write_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "artifacts" / "sub").mkdir(parents=True)
    (out / "artifacts" / "sub" / "f").write_text("half")
    (out / "artifacts.zip.partial").write_text("half")
    (out / "done").mkdir()
    (out / "done.zip").write_text("complete")
    assert discard_partial(out) == ["artifacts"]
    assert sorted(p.name for p in out.iterdir()) == ["done", "done.zip"]
