"""A deployment's ECS inputs, found and filled as CodePipeline's CodeDeployToECS action does.

taskdef.json and the appspec come from the build's primary artifact when the build produced
them (projects render them with sed/envsubst/jq), else from the service's directory in the
source. Each `<NAME>` image placeholder is replaced by the image of the service pipeline.yml
maps it to (one placeholder: this service's), the appspec's `<TASK_DEFINITION>` stands for
the definition registered here, and every image is pinned to its id in the local engine.
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECSbluegreen.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.adapters.docker import images as docker_images
from runner.codedeploy import appspec
from runner.codedeploy.ecs_compose import SlotTask
from runner.codedeploy.ecs_files import load_json_text
from runner.codedeploy.taskdef import TaskDef, from_document
from runner.core.config import EcsFiles, Service
from runner.core.image_ref import ImageRef, image_definitions
from runner.core.yamlnodes import load_text
from runner.errors import ConfigError, UsageError

PLACEHOLDER = re.compile(r"<([^<>\s]+)>")
APPSPEC_NAMES = ("appspec.yaml", "appspec.yml", "appspec.json")

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EcsInputs:
    """Everything a slot needs from the ECS files, resolved before the deployment starts."""

    task: SlotTask
    text: str  # the rendered definition, as installed
    fmt: str  # json | yaml
    appspec: appspec.AppSpec
    origin: str  # where the files came from, for the log


def artifact_dir(home: Path, image: ImageRef) -> Path | None:
    """The primary artifact of the build that made the image (None once `runner gc` removed it)."""
    info = docker_images.image(image.id)
    build = info.labels.get("runner.build", "") if info else ""
    directory = home / "artifacts" / build.partition(":")[2] / "artifacts" if build else None
    return directory if directory is not None and directory.is_dir() else None


def find(
    files: EcsFiles, service: Service, source_dir: Path, artifacts: Path | None
) -> tuple[Path, Path, str]:
    """(taskdef, appspec, origin): both from the build's artifact when it holds the taskdef."""
    names = (files.appspec,) if files.appspec else APPSPEC_NAMES
    places = [(artifacts, "the build's artifacts")] if artifacts else []
    places.append((source_dir / service.path, f"{service.path}/ in the source"))
    for base, origin in places:
        taskdef = base / files.taskdef
        if taskdef.is_file():
            own = source_dir / service.path
            spec = next((d / n for d in (base, own) for n in names if (d / n).is_file()), None)
            if spec is None:
                raise UsageError(f"{service.name}: no {' or '.join(names)} beside {taskdef}")
            return taskdef, spec, origin
    where = " or ".join(str(base / files.taskdef) for base, _ in places)
    raise UsageError(f"{service.name}: pipeline.yml says ecs:, but there is no {where}")


def load(
    service: Service,
    image: ImageRef,
    source_dir: Path,
    artifacts: Path | None,
    others: Mapping[str, ImageRef],
    say: Say,
) -> EcsInputs:
    """Read, fill and check the service's ECS files; `others` are other services' live images."""
    assert service.ecs is not None
    taskdef_path, spec_path, origin = find(service.ecs, service, source_dir, artifacts)
    display = _display(taskdef_path, source_dir, artifacts)
    fmt = "json" if taskdef_path.suffix.lower() == ".json" else "yaml"
    template = taskdef_path.read_text(encoding="utf-8-sig")
    first = _parse(template, display, fmt)
    refs = _placeholders(first, service, image, others)
    text = template
    for name, ref in refs.items():
        text = text.replace(f"<{name}>", ref.tag or ref.id)
    task = _parse(text, display, fmt)
    named = _named_images(task, artifacts, {f"<{name}>" for name in refs}, first, say)
    _no_placeholder_left(task, service, named)
    spec = appspec.load(spec_path, _display(spec_path, source_dir, artifacts))
    target_name, port = _target(task, spec, service)
    ids = _image_ids(task, {ref.tag: ref.id for ref in refs.values()}, named, say)
    for warning in (*task.warnings, *spec.warnings, *_derived(task, target_name)):
        say(f"warning: {warning}")
    return EcsInputs(SlotTask(task, ids, target_name, port), text, fmt, spec, origin)


def _display(path: Path, source_dir: Path, artifacts: Path | None) -> str:
    for base, prefix in ((artifacts, "artifacts/"), (source_dir, "")):
        if base is not None and path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)


def _parse(text: str, display: str, fmt: str) -> TaskDef:
    return from_document(load_json_text(text, display) if fmt == "json" else load_text(text, display))


def _placeholders(
    task: TaskDef, service: Service, image: ImageRef, others: Mapping[str, ImageRef]
) -> dict[str, ImageRef]:
    """Placeholder → image: pipeline.yml's `images:`, or this service's image for a lone one."""
    assert service.ecs is not None
    found = {m.group(1): c for c in task.containers for m in PLACEHOLDER.finditer(c.image)}
    mapping = dict(service.ecs.images)
    if not mapping and len(found) == 1:
        mapping = {next(iter(found)): service.name}
    refs: dict[str, ImageRef] = {}
    for name, owner in mapping.items():
        if owner == service.name:
            refs[name] = image
        elif owner in others:
            refs[name] = others[owner]
        else:
            raise UsageError(
                f"services.{service.name}.images.{name}: {owner} has no live image in this environment "
                f"to fill <{name}> with: deploy {owner} first"
            )
    return refs


def _named_images(
    task: TaskDef, artifacts: Path | None, placeholders: set[str], template: TaskDef, say: Say
) -> dict[str, str]:
    """A multi-entry imagedefinitions.json in the build's artifact (the standard ECS action's
    file) sets the image of each container it names, except those a placeholder filled."""
    path = artifacts / "imagedefinitions.json" if artifacts else None
    if path is None or not path.is_file():
        return {}
    entries = image_definitions(path)
    filled = {c.name for c in template.containers if any(p in c.image for p in placeholders)}
    named = {c.name: entries[c.name] for c in task.containers if c.name in entries and c.name not in filled}
    for name, uri in named.items():
        say(f"  {name}: image {uri} from the build's imagedefinitions.json")
    return named


def _no_placeholder_left(task: TaskDef, service: Service, named: Mapping[str, str]) -> None:
    for index, container in enumerate(task.containers):
        match = PLACEHOLDER.search(container.image) if container.name not in named else None
        if match:
            raise ConfigError(
                container.image_at,
                f"containerDefinitions[{index}].image",
                f"placeholder {match.group(0)} is not replaced: name the service whose image fills it in "
                f"pipeline.yml (services.{service.name}.images: {{{match.group(1)}: SERVICE}})",
            )


def _target(task: TaskDef, spec: appspec.AppSpec, service: Service) -> tuple[str, int]:
    """The appspec's ContainerName/ContainerPort: what the live and test listeners reach."""
    shown = spec.path.name
    if spec.container_name is None or spec.container_port is None:
        raise UsageError(
            f"{shown}: an ECS service needs Resources[0].TargetService.Properties.LoadBalancerInfo "
            "(ContainerName, ContainerPort): the container and port the listeners reach"
        )
    container = task.container(spec.container_name)
    if container is None:
        names = ", ".join(c.name for c in task.containers)
        raise UsageError(
            f"{shown}: ContainerName {spec.container_name!r} is not a container of {task.file} ({names})"
        )
    if container.ports and spec.container_port not in container.ports:
        raise UsageError(
            f"{shown}: ContainerPort {spec.container_port} is not a portMappings containerPort of "
            f"{container.name} in {task.file} ({', '.join(map(str, container.ports))})"
        )
    return container.name, spec.container_port


def _image_ids(
    task: TaskDef, known: Mapping[str, str], named: Mapping[str, str], say: Say
) -> dict[str, str]:
    """Every container's image id: a deployed image's own id, else what the engine has now."""
    ids = {}
    for index, container in enumerate(task.containers):
        image = named.get(container.name, container.image)
        if image in known:
            ids[container.name] = known[image]
            continue
        info = docker_images.image(image)
        if info is None:
            raise ConfigError(
                container.image_at,
                f"containerDefinitions[{index}].image",
                f"{image} is not in the local engine (no registry is pulled from): "
                "build it, or `docker load` it",
            )
        ids[container.name] = info.id
        say(f"  {container.name}: {image} pinned to {info.id[:19]}")
    return ids


def _derived(task: TaskDef, target: str) -> list[str]:
    """Warnings about what runs differently here (one line each)."""
    lines = []
    if task.network_mode in ("host", "none"):
        lines.append(
            f"{task.file}: networkMode {task.network_mode} runs as bridge (slots sit behind the router)"
        )
    if any(cond == "COMPLETE" for c in task.containers for _, cond in c.depends_on):
        lines.append(f"{task.file}: dependsOn COMPLETE waits for exit 0 here (compose has no 'any exit')")
    limited = [k for k, v in (("memory", task.memory_mib), ("cpu", task.cpu)) if v]
    if limited and not any(c.memory_mib or c.cpu for c in task.containers):
        lines.append(f"{task.file}: task {' and '.join(limited)} applied to container {target}")
    return lines
