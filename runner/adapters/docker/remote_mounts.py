"""Host directories on an engine that does not see our filesystem: each mount becomes a volume there.

A request's mount of a host directory is, on such an engine, a named volume (one per host
directory per executor, labelled with the build so a sweep finds it). What the host directory
holds goes in through the archive API on the created, not yet started, container: all of it
the first time, afterwards only what changed on the host since the last copy. When a container
has exited, a writable mount's volume comes back out and the host directory is made equal
to it (files changed, added and deleted), so the build loop reads its state, exported
variables, artifacts and reports on the host as with a bind mount. A read-only mount goes in
once, through a container that is never started, and never comes back.

The Docker socket of a privileged build stays a bind: on that engine it is its own socket.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.adapters.docker.client import client, labels, translate
from runner.adapters.executor import Mount
from runner.errors import EngineError

if TYPE_CHECKING:
    from docker.models.containers import Container

KIND = "workspace"
ENGINE_SOCKET = "/var/run/docker.sock"
VOLUME_PREFIX = "runner-ws-"

# rel path -> (kind, size, mtime_ns, mode, link target): what a host directory held at the last copy
Manifest = dict[str, tuple[str, int, int, int, str]]


@dataclass
class _Volume:
    name: str
    manifest: Manifest | None = None  # None: nothing copied in yet


@dataclass
class RemoteMounts:
    """The volumes of one executor, by host directory (a build's workspace, its -m sources)."""

    volumes: dict[str, _Volume] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def host_config_mounts(self, mounts: Iterable[Mount], owner: dict[str, str]) -> list[Any]:
        """The engine's mounts for a request: volumes (created at first use), the socket a bind."""
        import docker

        result = []
        for mount in mounts:
            if mount.source == ENGINE_SOCKET:
                result.append(docker.types.Mount(mount.target, ENGINE_SOCKET, type="bind"))
                continue
            if not os.path.isdir(mount.source):
                raise EngineError(
                    f"mount {mount.source}: an engine that does not see this machine's files "
                    "takes directories only, copied in and out"
                )
            volume = self._volume(mount.source, owner)
            result.append(
                docker.types.Mount(mount.target, volume.name, type="volume", read_only=mount.read_only)
            )
        return result

    def _volume(self, source: str, owner: dict[str, str]) -> _Volume:
        with self.lock:
            known = self.volumes.get(source)
            if known is None:
                build = {"build": owner["runner.build"]} if "runner.build" in owner else {}
                name = VOLUME_PREFIX + secrets.token_hex(8)
                client().volumes.create(name, labels=labels(KIND, host_dir=source, **build))
                known = self.volumes[source] = _Volume(name)
            return known

    def copy_in(self, container: Container, mounts: Iterable[Mount], image: str) -> None:
        """What changed in each host directory since the last copy goes into its volume."""
        for mount in mounts:
            if mount.source == ENGINE_SOCKET:
                continue
            volume = self.volumes[mount.source]
            with self.lock:
                if mount.read_only and volume.manifest is not None:
                    continue  # a read-only mount goes in once
                now = manifest(Path(mount.source))
                changed = [rel for rel, entry in now.items() if (volume.manifest or {}).get(rel) != entry]
                if changed:
                    archive = _tar(Path(mount.source), sorted(changed), mount.target.lstrip("/"))
                    if mount.read_only:
                        _fill_through_helper(volume.name, mount.target, image, archive)
                    else:
                        container.put_archive("/", archive)
                volume.manifest = now

    def copy_out(self, container: Container, mounts: Iterable[Mount]) -> None:
        """After the container exited: each writable host directory becomes what its volume holds."""
        mounts = tuple(mounts)
        for mount in mounts:
            if mount.source == ENGINE_SOCKET or mount.read_only:
                continue
            volume = self.volumes[mount.source]
            stream, _ = container.get_archive(mount.target.rstrip("/") + "/.")
            with self.lock:
                mirror(stream, Path(mount.source), _nested(mount, mounts))
                volume.manifest = manifest(Path(mount.source))

    def release(self) -> None:
        """Remove the volumes (and any container of ours still holding one)."""
        import docker

        with self.lock:
            names = [v.name for v in self.volumes.values()]
            self.volumes.clear()
        if not names:
            return  # an engine that shares our files: nothing was made
        engine = client()
        for name in names:
            try:
                for holder in engine.containers.list(all=True, filters={"volume": name}):
                    holder.remove(force=True, v=True)
                engine.volumes.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.DockerException as e:
                raise EngineError(f"remove volume {name}: {e}") from e


@translate("remove a build's volumes")
def remove_build_volumes(build_id: str) -> int:
    """A build's volumes, found by label (its runner is gone)."""
    import docker

    found = client().volumes.list(filters={"label": [f"runner.kind={KIND}", f"runner.build={build_id}"]})
    for volume in found:
        try:
            volume.remove(force=True)
        except docker.errors.DockerException:
            pass  # still held by a container: the next sweep
    return len(found)


def manifest(root: Path) -> Manifest:
    """Every entry below root (root itself as "."), without following links."""
    found: Manifest = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        for name in (".",) if rel_dir == "." else ():
            found[name] = _entry(root)
        for name in (*dirs, *files):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            found[rel] = _entry(Path(directory) / name)
    return found


def _entry(path: Path) -> tuple[str, int, int, int, str]:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return ("l", 0, 0, 0, os.readlink(path))
    kind = "d" if stat.S_ISDIR(info.st_mode) else "f"
    size = 0 if kind == "d" else info.st_size
    mtime = 0 if kind == "d" else info.st_mtime_ns  # a directory's time changes with every copy
    return (kind, size, mtime, stat.S_IMODE(info.st_mode), "")


def _tar(root: Path, rels: list[str], prefix: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in rels:
            path = root / rel
            name = prefix if rel == "." else f"{prefix}/{rel}"
            if path.exists() or path.is_symlink():
                tar.add(str(path), arcname=name, recursive=False)
    return buffer.getvalue()


def _fill_through_helper(volume: str, target: str, image: str, archive: bytes) -> None:
    """A read-only mount is filled through a container that mounts it writable and never starts."""
    import docker

    api = client().api
    mount = docker.types.Mount(target, volume, type="volume")
    created = api.create_container(
        image,
        command=["true"],
        labels=labels("workspace-fill"),
        host_config=api.create_host_config(mounts=[mount], network_mode="none"),
    )
    try:
        api.put_archive(created["Id"], "/", archive)
    finally:
        api.remove_container(created["Id"], force=True)


def _nested(mount: Mount, mounts: tuple[Mount, ...]) -> tuple[str, ...]:
    """Where other mounts sit inside this one (`-m`: the source inside the workspace), relative to it."""
    inside = mount.target.rstrip("/") + "/"
    return tuple(m.target[len(inside) :].strip("/") for m in mounts if m.target.startswith(inside))


def mirror(stream: Iterator[bytes], root: Path, skip: tuple[str, ...] = ()) -> None:
    """Make `root` hold exactly what the tar stream of a directory (`dir/.`) holds.

    Spooled to a file first (a workspace may be large); an entry is rewritten only when it
    differs, never through a link on the host, and an entry the stream lacks is removed.
    `skip`: paths below root that are other mounts (the stream holds them too): left alone.
    """

    def skipped(rel: str) -> bool:
        return any(rel == s or rel.startswith(s + "/") for s in skip)

    with tempfile.TemporaryFile() as spool:
        for chunk in stream:
            spool.write(chunk)
        spool.seek(0)
        kept: set[str] = {"."}
        with tarfile.open(fileobj=spool) as tar:
            for member in tar:
                rel = _relative(member.name)
                if rel is None or rel == "." or skipped(rel):
                    continue
                kept.add(rel)
                _place(tar, member, rel, root)
    for rel in sorted(manifest(root), key=len, reverse=True):
        if rel not in kept and not skipped(rel):
            path = root / rel
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _relative(name: str) -> str | None:
    """The member's path below the archived directory (`DIR/.` names them `./…`); None for
    one that would leave it."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts) or "."


def _place(tar: tarfile.TarFile, member: tarfile.TarInfo, rel: str, root: Path) -> None:
    path = root / rel
    existing = path.lstat() if path.exists() or path.is_symlink() else None
    if existing is not None:
        same_kind = (
            (member.isdir() and stat.S_ISDIR(existing.st_mode))
            or (member.isfile() and stat.S_ISREG(existing.st_mode))
            or (member.issym() and stat.S_ISLNK(existing.st_mode))
        )
        if not same_kind:
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
            existing = None
        elif member.isdir():
            if stat.S_IMODE(existing.st_mode) != member.mode & 0o7777:
                os.chmod(path, member.mode & 0o7777)
            return
        elif member.isfile() and (
            existing.st_size == member.size
            and int(existing.st_mtime) == int(member.mtime)
            and stat.S_IMODE(existing.st_mode) == member.mode & 0o7777
        ):
            return  # unchanged
        elif member.issym() and os.readlink(path) == member.linkname:
            return
        else:
            path.unlink()
    if member.islnk():
        target = _relative("./" + member.linkname)
        if target is None:
            return
        member = _copy(member, linkname=str(root / target))
        os.link(member.linkname, path)
        return
    if not (member.isdir() or member.isfile() or member.issym()):
        return  # devices, FIFOs: a workspace holds none worth copying back
    tar.extract(_copy(member, name=rel), root, set_attrs=True, filter="fully_trusted")


def _copy(member: tarfile.TarInfo, **changes: str) -> tarfile.TarInfo:
    result = member.replace(**changes, deep=False)  # type: ignore[arg-type]
    return result
