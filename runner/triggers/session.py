"""`runner watch`: saves queue working-tree builds, new commits queue pipeline executions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from runner.adapters import git as source
from runner.core import config_loader
from runner.errors import RunnerError
from runner.store import Store, queue
from runner.triggers import changes
from runner.triggers.debounce import Debouncer
from runner.triggers.refs import BranchTracker
from runner.triggers.watcher import Watcher

SOURCE = "watch"


class WatchSession:
    """The observers, the debouncer and the branch tracker; they only ever enqueue.

    on_enqueue (the dispatcher's wake-up) runs after each enqueue so the queue is drained
    at once rather than at its next poll.
    """

    def __init__(
        self,
        pipeline_file: Path,
        store: Store,
        say: Callable[[str], None],
        on_enqueue: Callable[[], None],
        *,
        debounce_s: float = 0.05,
        tree: bool = True,
        commits: bool = True,
    ) -> None:
        self.pipeline_file, self.store, self.say, self.on_enqueue = pipeline_file, store, say, on_enqueue
        config = config_loader.load(pipeline_file)
        self.root = config.root
        self.owned = changes.runner_owned(self.root, store.path.parent)
        self.watcher = Watcher()
        self.debouncer: Debouncer | None = None
        self.tracker: BranchTracker | None = None
        self._refs_changed = threading.Event()
        self._closing = threading.Event()
        self._ref_thread: threading.Thread | None = None
        self._checked: set[str] = set()
        self._ignored_tops: set[str] = set()
        if tree:
            self.debouncer = Debouncer(debounce_s, self._on_batch)
            self.watcher.watch_tree(self.root, self._skip_top, self._on_path)
        if commits:
            self.tracker = BranchTracker(self.root, config.branch)
            git_dir, common = source.git_dirs(self.root)
            self.watcher.watch_refs((common, git_dir), common / "refs" / "heads", self._on_ref)
            self._ref_thread = threading.Thread(target=self._ref_loop, name="refs", daemon=True)

    @property
    def branch(self) -> str | None:
        return self.tracker.branch if self.tracker else None

    def start(self) -> None:
        self.watcher.start()
        if self._ref_thread is not None:
            self._ref_thread.start()
            self._refs_changed.set()  # a commit made before the observer started is found now

    def stop(self) -> None:
        self._closing.set()
        self._refs_changed.set()
        self.watcher.stop()
        if self.debouncer is not None:
            self.debouncer.close()
        if self._ref_thread is not None and self._ref_thread.is_alive():
            self._ref_thread.join(5)

    # ------------------------------------------------------------ working tree

    def _skip_top(self, directory: Path) -> bool:
        """The runner's own directories, and top-level directories git ignores as a whole."""
        if changes.inside(directory, self.owned):
            return True
        name = f"{directory.name}/"
        if name not in self._checked:  # all of them in one git call at start, new ones later
            names = [name] if self._checked else [f"{d.name}/" for d in self.root.iterdir() if d.is_dir()]
            self._checked.update((*names, name))
            self._ignored_tops |= self._ignored(names)
        return name in self._ignored_tops

    def _ignored(self, names: list[str]) -> set[str]:
        try:
            return source.check_ignored(self.root, names, self.root / changes.RUNNER_IGNORE)
        except RunnerError:
            return set()

    def _on_path(self, path: str) -> None:
        if self.debouncer is not None and not changes.inside(Path(path), self.owned):
            self.debouncer.add(path)

    def _on_batch(self, paths: list[str]) -> None:
        try:
            config = config_loader.load(self.pipeline_file)  # as it is now
            edited = changes.relevant(self.root, paths, self.owned)
            for name, hits in sorted(changes.touched(config, edited).items()):
                entry_id, superseded = queue.enqueue_build(self.store, name, SOURCE)
                self.say(f"{name}: {changes.describe(hits)} → queue #{entry_id}")
                self.store.event("trigger.decision", name, entry=entry_id, source=SOURCE, files=hits)
                for old in superseded:
                    self.say(f"queue #{old} build {name}: SUPERSEDED by #{entry_id}")
            self.on_enqueue()
        except RunnerError as e:  # e.g. pipeline.yml mid-edit: say it, keep watching
            self.say(f"watch: {e}")

    # ------------------------------------------------------------ commits

    def _on_ref(self, _path: str) -> None:
        self._refs_changed.set()

    def _ref_loop(self) -> None:
        assert self.tracker is not None
        while not self._closing.is_set():
            self._refs_changed.wait()
            self._refs_changed.clear()
            if self._closing.is_set():
                return
            try:
                for commit in self.tracker.poll():
                    entry_id = queue.enqueue_commit(self.store, commit, self.tracker.ref, SOURCE)
                    if entry_id is not None:
                        self.say(f"{self.tracker.branch}: new commit {commit[:12]} → queue #{entry_id}")
                self.on_enqueue()
            except RunnerError as e:
                self.say(f"watch: {e}")
