"""Building a pipeline.yml service: skip when its inputs are unchanged, else build, then its image.

Source (decisions.md 1): the repository root; for a commit, a clean `git archive` snapshot
in RUNNER_HOME/snapshots/<sha>; for a working tree whose service inputs differ from HEAD,
the working tree itself (tag `-dirty-<hash8>`). A working tree whose inputs equal HEAD's
is built as HEAD's clean snapshot, under HEAD's tag.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.adapters import git as source
from runner.adapters.docker import images as docker_images
from runner.codebuild.phases import FAILED, STOPPED, SUCCEEDED
from runner.core import image_ref
from runner.core.config import PipelineConfig, Service
from runner.core.image_ref import ImageRef, ImageResult
from runner.errors import EngineError, RunnerError, UsageError
from runner.images import inputs
from runner.images import tags as images
from runner.images.inputs import Inputs
from runner.localaws import mode as aws_mode
from runner.store import Store
from runner.store import builds as build_records
from runner.store import images as records
from runner.store.images import ImageRecord

if TYPE_CHECKING:  # the build engine is imported when a build runs: not to decide "unchanged"
    from runner.codebuild.build import BuildRequest, BuildResult

    RunPhases = Callable[[BuildRequest, Store, Callable[[str], None]], BuildResult]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a service must be built, and why (the line printed for it)."""

    service: str
    commit: str
    dirty: bool
    tag: str
    inputs: Inputs
    reuse: ImageRecord | None
    reason: str

    @property
    def rebuild(self) -> bool:
        return self.reuse is None


@dataclass(frozen=True, slots=True)
class ServiceBuildResult:
    service: str
    commit: str
    build: BuildResult | None  # None when the image was reused without a build
    image: ImageResult | None  # None when the build or the image step failed
    status: str
    error: str = ""
    reused_from: ImageRecord | None = None
    tag: str = ""

    def as_json(self) -> dict[str, Any]:
        """`runner build SERVICE --json`: the build object plus service, commit and image."""
        body = self.build.as_json() if self.build else self._reused_build()
        body |= {"service": self.service, "commit": self.commit}
        body["image"] = self.image.as_json() if self.image else None
        if self.error:
            body["error"] = self.error
        return body

    def _reused_build(self) -> dict[str, Any]:
        origin = self.reused_from
        return {
            "id": origin.build_id if origin else None,
            "number": origin.build_number if origin else None,
            "status": self.status,
            "phases": [],
            "exported_variables": {},
            "artifacts": {"primary": [], "secondary": {}},
            "reports": [],
        }


@dataclass
class _Engine:
    """Image ids asked once per decision (the build image, FROM images)."""

    ids: dict[str, str | None] = field(default_factory=dict)

    def image_id(self, ref: str) -> str | None:
        if ref not in self.ids:
            try:
                info = docker_images.image(ref)
            except EngineError:  # not a valid reference: the build will say why
                info = None
            self.ids[ref] = info.id if info else None
        return self.ids[ref]


# ---------------------------------------------------------------- deciding


def repository(config: PipelineConfig) -> Path:
    root = source.repo_root(config.root)
    if root is None:
        raise UsageError(f"{config.root} is not a git repository: service builds tag images by commit")
    if root.resolve() != config.root.resolve():
        raise UsageError(f"pipeline.yml must be at the repository root ({root}), not in {config.root}")
    return root


def decide(
    config: PipelineConfig,
    service: str,
    store: Store,
    commit: str | None = None,
    no_cache: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> Decision:
    """Which tag this build writes and whether an image made from the same inputs exists."""
    svc = config.service(service)
    repo, engine = repository(config), _Engine()
    sha = source.resolve_commit(repo, commit or "HEAD")
    committed = inputs.collect(config, svc, inputs.commit_tree(repo, sha), engine.image_id, overrides)
    current, dirty = committed, False
    if commit is None:
        current = inputs.collect(config, svc, inputs.work_tree(repo), engine.image_id, overrides)
        dirty = current.digest != committed.digest
    tag = image_ref.dirty_tag(svc.name, sha, current.digest) if dirty else image_ref.commit_tag(svc.name, sha)
    return _decision(store, svc.name, sha, dirty, tag, current, no_cache)


def _decision(
    store: Store, name: str, sha: str, dirty: bool, tag: str, current: Inputs, no_cache: bool
) -> Decision:
    digest = current.digest
    candidates = [r for r in [records.get_tag(store, tag)] if r and r.input_digest == digest]
    candidates += records.by_digest(store, name, digest)
    present = next((r for r in candidates if docker_images.image(r.image_id) is not None), None)
    if no_cache:
        reason = f"{name}: --no-cache: rebuilding {tag} (digest {digest[:4]}…)"
        return Decision(name, sha, dirty, tag, current, None, reason)
    if present is not None:
        since = f"since {_build(present)} (digest {digest[:4]}…)"
        reason = f"{name}: inputs unchanged {since}, reusing {present.tag}"
        return Decision(name, sha, dirty, tag, current, present, reason)
    if candidates:
        gone = candidates[0]
        reason = f"{name}: inputs unchanged since {_build(gone)}, but its image {gone.image_id[:19]} is gone"
        return Decision(name, sha, dirty, tag, current, None, reason)
    baseline = records.latest(store, name)
    if baseline is None or baseline.inputs is None:
        return Decision(name, sha, dirty, tag, current, None, f"{name}: first build ({tag})")
    said = inputs.changes(inputs.from_json(baseline.inputs), current)
    reason = f"{name}: {'; '.join(said) or 'inputs changed'} (since {_build(baseline)})"
    return Decision(name, sha, dirty, tag, current, None, reason)


def _build(record: ImageRecord) -> str:
    return f"build {record.build_number}" if record.build_number else f"image {record.tag}"


def decisions(config: PipelineConfig, store: Store, commit: str) -> dict[str, Decision]:
    """Every service's decision for one commit (the triggers print the reasons)."""
    return {svc.name: decide(config, svc.name, store, commit) for svc in config.services}


def changed_services(config: PipelineConfig, store: Store, commit: str) -> dict[str, str]:
    """Service → the reason it must be built at this commit; services left out are reused."""
    return {name: d.reason for name, d in decisions(config, store, commit).items() if d.rebuild}


# ---------------------------------------------------------------- building


def build_service(
    config: PipelineConfig,
    service: str,
    store: Store,
    *,
    commit: str | None = None,
    no_cache: bool = False,
    initiator: str = "user",
    show: Callable[[str], None] | None = None,
    snapshot_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout_min: float | None = None,
    memory: str | None = None,
    run: RunPhases | None = None,
) -> ServiceBuildResult:
    """Build one service and its image, or reuse the image of identical inputs (no container runs).

    commit None builds the working tree; snapshot_dir (with a commit) is a ready
    `git archive` snapshot of that commit, e.g. the pipeline's. `run` runs the buildspec's
    phases (a build fleet places them on an engine); the image is built here either way.
    """
    submitted = time.time()  # the build's start if one runs (CodeBuild: the StartBuild call)
    say = show or (lambda _line: None)
    decision = decide(config, service, store, commit, no_cache, overrides)
    say(decision.reason)
    if decision.reuse is not None:
        try:
            return _reuse(config, store, decision, say)
        except RunnerError as e:
            store.event("image.failed", decision.tag, error=str(e))
            return ServiceBuildResult(decision.service, decision.commit, None, None, FAILED, str(e))
    from runner.codebuild.build import run_build
    from runner.codebuild.buildlog import BuildLog
    from runner.core.secrets import Masker

    svc, repo = config.service(service), repository(config)
    home = store.path.parent
    if decision.dirty:
        src = repo
    else:
        src = snapshot_dir if snapshot_dir and commit else commit_snapshot(repo, decision.commit, home)
    request = _request(config, svc, src, home, decision, initiator, overrides or {}, timeout_min, memory)
    request = replace(request, submitted=submitted)
    result = run(request, store, say) if run else run_build(request, store, show=say)
    if result.status != SUCCEEDED:
        return ServiceBuildResult(svc.name, decision.commit, result, None, result.status, tag=decision.tag)
    log = BuildLog(store, result.id, Masker([]), say)  # the image step continues the build's log
    log.next_seq = records.last_log_seq(store, result.id) + 1
    stored = build_records.get_build(store, result.id)
    recorded = dict(stored.result or {}) if stored else {}  # already masked
    build_records.reopen_build(store, result.id, os.getpid())
    try:
        image = _image(config, svc, store, src, home, decision, result, no_cache, log.output)
    except RunnerError as e:
        log.container(f"Image step failed: {e}")
        log.flush()
        store.event("image.failed", decision.tag, build=result.id, error=str(e))
        build_records.finish_build(store, result.id, FAILED, recorded | {"status": FAILED, "error": str(e)})
        return ServiceBuildResult(svc.name, decision.commit, result, None, FAILED, str(e), tag=decision.tag)
    except BaseException:
        log.flush()
        build_records.finish_build(store, result.id, STOPPED, recorded | {"status": STOPPED})
        raise
    log.flush()
    build_records.finish_build(store, result.id, SUCCEEDED, recorded | {"image": image.as_json()})
    return ServiceBuildResult(svc.name, decision.commit, result, image, SUCCEEDED, tag=decision.tag)


def _reuse(
    config: PipelineConfig, store: Store, decision: Decision, say: Callable[[str], None]
) -> ServiceBuildResult:
    origin = decision.reuse
    assert origin is not None
    record = images.new_record(
        decision.tag,
        origin.image_id,
        decision.service,
        decision.commit,
        origin.build_id or "",
        decision.inputs.as_json(),
        decision.inputs.digest,
    )
    held = images.claim(store, record)  # the same image under the new commit's tag: not a content change
    store.event("image.reused", decision.tag, id=held.id, origin=origin.tag, build=origin.build_id)
    image = _published(config, ImageResult(ImageRef(decision.tag, held.id), True, decision.reason), say)
    return ServiceBuildResult(
        decision.service, decision.commit, None, image, SUCCEEDED, reused_from=origin, tag=decision.tag
    )


def _request(
    config: PipelineConfig,
    svc: Service,
    src: Path,
    home: Path,
    decision: Decision,
    initiator: str,
    overrides: Mapping[str, str],
    timeout_min: float | None,
    memory: str | None,
) -> BuildRequest:
    from runner.codebuild.build_control import make_request

    buildspec = src / svc.buildspec
    if not buildspec.is_file():
        raise UsageError(f"{svc.name}: buildspec {svc.buildspec} not found in {src}")
    return make_request(
        src,
        home=home,
        buildspec=buildspec,
        image=config.build_image,
        project=svc.name,
        service=svc.name,
        overrides=overrides,
        project_env={"SERVICE_PATH": svc.path, "RUNNER_SERVICE": svc.name, **svc.variables},
        privileged=svc.privileged,
        secrets_file=config.root / config.secrets if config.secrets else None,
        timeout_min=timeout_min,
        initiator=initiator,
        region=config.region,
        memory=memory,
        source_version=decision.commit,
        resolved_source_version=decision.commit,
        aws_account=aws_mode.account(config.aws, config.account),
    )


def _image(
    config: PipelineConfig,
    svc: Service,
    store: Store,
    src: Path,
    home: Path,
    decision: Decision,
    result: BuildResult,
    no_cache: bool,
    say: Callable[[str], None],
) -> ImageResult:
    digest = decision.inputs.digest
    made = source.commit_time(config.root, decision.commit)  # the image carries it to deployments
    labels = images.image_labels(store, svc.name, decision.commit, result.id, digest, decision.dirty, made)
    primary = home / "artifacts" / result.id.partition(":")[2] / "artifacts"
    handoff = image_ref.find_handoff(_handoff_dirs(primary, Path(result.workspace), svc), svc.name)
    if handoff is not None:
        path, uri = handoff
        found = docker_images.image(uri)
        if found is None:
            raise RunnerError(f"{path.name} names {uri}, which the Docker engine does not have")
        say(f"{svc.name}: {path.name} hands off {uri} ({found.id[:19]})")
        new_id = images.wrap(found.id, labels, say)
    else:
        context, dockerfile = _context(svc, src, primary if result.artifacts.get("artifacts") else None)
        new_id = images.build(context, dockerfile, labels, svc.image.build_args, no_cache, say)
    record = images.new_record(
        decision.tag, new_id, svc.name, decision.commit, result.id, decision.inputs.as_json(), digest
    )
    try:
        held = images.claim(store, record)
    except images.ImmutableTagError:
        docker_images.remove_image(new_id)
        raise
    if held.kept:
        docker_images.remove_image(new_id)
        say(f"{svc.name}: {held.note}")
        return _published(config, ImageResult(ImageRef(decision.tag, held.id), True, held.note), say)
    say(f"{svc.name}: built {decision.tag} ({new_id[:19]})")
    return _published(config, ImageResult(ImageRef(decision.tag, new_id), False, decision.reason), say)


def _published(config: PipelineConfig, image: ImageResult, say: Callable[[str], None]) -> ImageResult:
    """With `registry:` in pipeline.yml, push the immutable tag; deployments then use the digest."""
    if not config.registry:
        return image
    from runner.images import registry

    reference = registry.publish(config.registry, image.tag, image.id, say)
    return replace(image, ref=replace(image.ref, repo_digest=reference))


def _handoff_dirs(primary: Path, workspace: Path, svc: Service) -> list[Path]:
    sources = sorted((workspace / "output").glob("src*/src")) if workspace.parts else []
    return [primary, *(s / svc.path for s in sources), *sources]


def _context(svc: Service, src: Path, primary: Path | None) -> tuple[Path, Path]:
    recipe, service_dir = svc.image, src / svc.path
    if recipe.from_artifacts:
        if primary is None:
            raise RunnerError(f"{svc.name}: image.from_artifacts is set, but the build has no artifacts")
        base = primary
    else:
        base = service_dir
    context = (base / recipe.context).resolve()
    if not context.is_relative_to(base.resolve()) or not context.is_dir():
        raise RunnerError(f"{svc.name}: image.context {recipe.context!r} is not a directory inside {base}")
    dockerfile = context / recipe.dockerfile
    if not (recipe.from_artifacts and dockerfile.is_file()):
        dockerfile = service_dir / recipe.dockerfile
    if not dockerfile.is_file():
        raise RunnerError(
            f"{svc.name}: no {recipe.dockerfile} in {svc.path}: add one, set image.dockerfile, "
            "or write imagedefinitions.json from a privileged build"
        )
    return context, dockerfile


def commit_snapshot(repo: Path, commit: str, home: Path) -> Path:
    """RUNNER_HOME/snapshots/<sha>: a clean `git archive` of the commit, reused, written atomically."""
    snapshots = home / "snapshots"
    final = snapshots / commit
    if final.is_dir():
        return final
    snapshots.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=snapshots))
    try:
        source.export_commit(repo, commit, partial)
        os.chmod(partial, 0o755)
        try:
            os.rename(partial, final)
        except OSError:
            if not final.is_dir():  # not a concurrent writer that finished first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final
