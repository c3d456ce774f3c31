"""watchdog observers on the working tree and on git's refs; the only module using watchdog.

Callers get plain absolute paths; what they mean (ignored, a service's input, a new
commit) is decided elsewhere.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

# Reads (opened, closed_no_write) and attribute changes are not edits: a build reading
# the tree must never trigger a build. `closed` is IN_CLOSE_WRITE, the end of a save.
_EDITS = {"created", "modified", "deleted", "moved", "closed"}
MAX_TOP_WATCHES = 32


def _paths(event: FileSystemEvent) -> list[str]:
    found = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        found.append(os.fsdecode(dest))
    return found


class _TreeHandler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, on_path: Callable[[str], None]) -> None:
        self.watcher, self.on_path = watcher, on_path

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _EDITS:
            return
        if event.is_directory:
            # A directory's own "modified" only echoes its entries' events; a moved or
            # deleted directory stands for its whole content; a new top-level one needs a watch.
            if event.event_type in ("moved", "deleted", "created"):
                for path in _paths(event):
                    self.watcher.top_level_changed(Path(path))
                    if event.event_type != "created":
                        self.on_path(path)
            return
        for path in _paths(event):
            self.on_path(path)


class _RefHandler(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[str], None]) -> None:
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _EDITS:
            return
        for path in _paths(event):
            name = os.path.basename(path)
            if not name.endswith(".lock") and (name in ("HEAD", "packed-refs") or "/refs/heads" in path):
                self.on_change(path)
                return


class Watcher:
    """One observer thread with several watches; stop() joins it."""

    def __init__(self) -> None:
        self._observer = Observer()
        self._lock = threading.Lock()
        self._tree: tuple[Path, Callable[[Path], bool], _TreeHandler] | None = None
        self._top: dict[Path, Any] = {}

    def watch_tree(
        self, root: Path, skip_top: Callable[[Path], bool], on_path: Callable[[str], None]
    ) -> None:
        """Every edit under root, but not inside top-level directories that skip_top names
        (.git, .runner, wholly ignored dirs): those are never watched, so a build writing
        snapshots or caches there costs no inotify watch and no event.

        Each watch is an inotify instance (128 per user by default): a root with more
        top-level directories than MAX_TOP_WATCHES gets one recursive watch instead, and
        the caller's filter drops the events of the skipped directories.
        """
        handler = _TreeHandler(self, on_path)
        tops = [e for e in sorted(root.iterdir()) if e.is_dir() and not e.is_symlink() and not skip_top(e)]
        if len(tops) > MAX_TOP_WATCHES:
            self._observer.schedule(handler, str(root), recursive=True)
            return
        self._tree = (root, skip_top, handler)
        self._observer.schedule(handler, str(root), recursive=False)
        for entry in tops:
            self._top[entry] = self._observer.schedule(handler, str(entry), recursive=True)

    def top_level_changed(self, path: Path) -> None:
        """A directory appeared in or left the root: add or drop its recursive watch."""
        if self._tree is None or path.parent != self._tree[0]:
            return
        _root, skip_top, handler = self._tree
        with self._lock:
            old = self._top.pop(path, None)
            if old is not None:
                self._observer.unschedule(old)
            if path.is_dir() and not path.is_symlink() and not skip_top(path):
                self._top[path] = self._observer.schedule(handler, str(path), recursive=True)
                # files written before the watch existed
                for file in _files(path):
                    handler.on_path(str(file))

    def watch_refs(self, git_dirs: Iterable[Path], refs: Path, on_change: Callable[[str], None]) -> None:
        """HEAD and packed-refs in the git dirs, and every branch ref; never .git/objects."""
        handler = _RefHandler(on_change)
        for directory in dict.fromkeys(git_dirs):
            self._observer.schedule(handler, str(directory), recursive=False)
        refs.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(handler, str(refs), recursive=True)

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(10)


def _files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for base, _dirs, names in os.walk(directory):
        found.extend(Path(base) / name for name in names)
    return found
