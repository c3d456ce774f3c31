"""A host directory made equal to a volume's tar stream (remote_mounts.mirror), and -H's refusals."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from runner.adapters.docker.remote_mounts import manifest, mirror


def stream(entries: dict[str, str | None], links: dict[str, str] | None = None) -> list[bytes]:
    """A tar of `DIR/.` as the engine sends it: names `./…`; a None content is a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        root = tarfile.TarInfo(".")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(root)
        for name, content in entries.items():
            info = tarfile.TarInfo(f"./{name}")
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o1777
                tar.addfile(info)
            else:
                data = content.encode()
                info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return [buffer.getvalue()]


def test_mirror_adds_changes_and_deletes_and_never_writes_through_a_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside.txt"
    (root / "src" / "gone").mkdir(parents=True)
    (root / "src" / "kept.txt").write_text("old")
    (root / "src" / "gone" / "file").write_text("x")
    outside.write_text("must stay")
    os.symlink(outside, root / "src" / "was-link")
    (root / "nested").mkdir()
    (root / "nested" / "user-file").write_text("the user's, not the stream's")

    mirror(
        stream(
            {"src": None, "src/kept.txt": "new", "src/was-link": "a file now", "tmp": None, "nested": None},
            {"src/link": "/usr/bin/env"},
        ),
        root,
        skip=("nested",),
    )

    assert (root / "src" / "kept.txt").read_text() == "new"
    assert not (root / "src" / "gone").exists()
    assert (root / "src" / "was-link").read_text() == "a file now" and not (
        root / "src" / "was-link"
    ).is_symlink()
    assert outside.read_text() == "must stay"
    assert os.readlink(root / "src" / "link") == "/usr/bin/env"  # links come back as links
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (root / "nested" / "user-file").read_text() == "the user's, not the stream's"


def test_mirror_refuses_names_that_leave_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    mirror(stream({"../escaped.txt": "no", "ok.txt": "yes"}), root)
    assert not (tmp_path / "escaped.txt").exists()
    assert set(manifest(root)) == {".", "ok.txt"}


def test_manifest_sees_a_change_of_content_mode_or_link(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1")
    before = manifest(tmp_path)
    os.chmod(tmp_path / "a.txt", 0o600)
    assert manifest(tmp_path)["a.txt"] != before["a.txt"]
    os.symlink("a.txt", tmp_path / "l")
    assert manifest(tmp_path)["l"] == ("l", 0, 0, 0, "a.txt")


def runner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, cwd=cwd)


def test_docker_host_refusals_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases: {build: {commands: [true]}}\n")
    unknown = runner("build", "-H", "nowhere", cwd=tmp_path)
    assert unknown.returncode == 2 and "no engine 'nowhere' (known: local)" in unknown.stderr
    bad = runner("build", "--docker-host", "http://box:2375", cwd=tmp_path)
    assert bad.returncode == 2 and "engine http://box:2375: expected" in bad.stderr
    service = runner("build", "web", "-H", "tcp://10.0.0.9:2375", cwd=tmp_path)
    assert service.returncode == 2 and "-H/--docker-host runs plain builds" in service.stderr
    assert all("Traceback" not in r.stderr for r in (unknown, bad, service))


def test_an_engine_name_brings_its_tls_files(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases: {build: {commands: [true]}}\n")
    (tmp_path / "pipeline.yml").write_text(
        "app: shop\nservices: {web: {path: .}}\nenvironments: [{name: prod, port: 8080, test_port: 9080}]\n"
        "engines:\n  box: {url: 'tcp://10.0.0.9:2376', tls_ca: certs/ca.pem}\n"
    )
    done = runner("build", "-H", "box", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"runner: error: engine tcp://10.0.0.9:2376: tls_ca {tmp_path}/certs/ca.pem: no such file"
    )
