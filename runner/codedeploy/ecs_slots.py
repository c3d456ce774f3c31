"""The task definition each slot runs, kept beside the environment's compose file.

Installing a task definition into a slot writes `tasks/<service>-<slot>.json` (the rendered
task definition, its image ids and the appspec's target), as ECS registers a revision: every
later compose file of the environment is rendered from it, so `runner up` after a reboot, a
rollback to the warm slot and the next deployment all run exactly what was installed. Secret
values are never written: compose receives them in its own process environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from runner.codedeploy import ecs_secrets
from runner.codedeploy.ecs_compose import SlotTask, container_service, members, secret_variable, slot_name
from runner.codedeploy.ecs_files import load_json_text
from runner.codedeploy.platform import Unit
from runner.codedeploy.taskdef import from_document
from runner.core.config import PipelineConfig
from runner.core.secrets import SecretsFile, load_secrets, secrets_path
from runner.core.yamlnodes import load_text
from runner.errors import RunnerError
from runner.store.deployments import EnvState

SLOTS = ("blue", "green")

DIRECTORY = "tasks"


def task_file(env_dir: Path, service: str, slot: str) -> Path:
    return env_dir / DIRECTORY / f"{service}-{slot}.json"


def write(env_dir: Path, service: str, slot: str, image_id: str, text: str, fmt: str, task: SlotTask) -> None:
    """Atomically record what the slot runs (the rendered definition text, not its parse)."""
    record = {
        "image_id": image_id,
        "file": task.task.file,
        "format": fmt,
        "taskdef": text,
        "image_ids": dict(task.image_ids),
        "container": task.container,
        "port": task.port,
    }
    path = task_file(env_dir, service, slot)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record, indent=1))
    partial.replace(path)


def read(env_dir: Path, service: str, slot: str, image_id: str | None) -> SlotTask | None:
    """The slot's task, when it was installed with this image (any image: None), else None."""
    path = task_file(env_dir, service, slot)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RunnerError(f"{path}: unreadable ({e}); redeploy {service}") from e
    if image_id is not None and record.get("image_id") != image_id:
        return None
    name = f"{record['file']} (installed in {service}-{slot})"
    text = record["taskdef"]
    doc = load_json_text(text, name) if record["format"] == "json" else load_text(text, name)
    return SlotTask(from_document(doc), record["image_ids"], record["container"], int(record["port"]))


def forget(env_dir: Path, service: str, slot: str) -> None:
    task_file(env_dir, service, slot).unlink(missing_ok=True)


def slot_members(env_dir: Path, service: str, slot: str, image_id: str | None = None) -> list[str]:
    """The compose services of one slot: one for a plain slot, the task's for a task slot."""
    task = read(env_dir, service, slot, image_id)
    return members(service, slot, task) if task else [slot_name(service, slot)]


def installed(
    config: PipelineConfig, env_dir: Path, states: Mapping[str, EnvState]
) -> list[tuple[str, str, SlotTask]]:
    """(service, slot, task) of every slot that runs a task definition now."""
    found = []
    for service in config.services:
        state = states.get(service.name)
        for slot in SLOTS if service.ecs and state else ():
            image = state.image(slot) if state else None
            task = read(env_dir, service.name, slot, image.id) if image else None
            if task is not None:
                found.append((service.name, slot, task))
    return found


def compose_environment(config: PipelineConfig, tasks: list[tuple[str, str, SlotTask]]) -> dict[str, str]:
    """The secrets of the installed tasks, from the project's secrets file, for compose's process."""
    if not any(c.secrets for _, _, task in tasks for c in task.task.containers):
        return {}
    path = secrets_path(config.root / config.secrets if config.secrets else None)
    return secret_environment(tasks, load_secrets(path))


def readiness(
    unit_of: Callable[[str], Unit | None], service: str, slot: str, task: SlotTask
) -> tuple[str, str]:
    """(why the slot is not ready yet, why it never will be): an essential container that exited
    fails the slot (ECS stops the task); one with a healthCheck must be healthy. `unit_of`
    finds the platform's unit of a compose service."""
    waiting = []
    for container in task.task.containers:
        state = unit_of(container_service(service, slot, task, container.name))
        if state is not None and state.ended:
            if container.essential:
                return "", f"essential container {container.name} exited with code {state.exit_code}"
            continue
        if container.health is not None and (state is None or state.health != "healthy"):
            waiting.append(f"{container.name} {state.health if state and state.health else 'not started'}")
    return ", ".join(waiting), ""


def secret_environment(tasks: Iterable[tuple[str, str, SlotTask]], secrets: SecretsFile) -> dict[str, str]:
    """The compose process's variables for every secret of the given (service, slot, task)."""
    values: dict[str, str] = {}
    for service, slot, task in tasks:
        for container, variables in ecs_secrets.resolve(task.task, secrets).items():
            for name, value in variables.items():
                values[secret_variable(service, slot, container, name)] = value
    return values


def ports(tasks: Iterable[tuple[str, str, SlotTask]]) -> Mapping[str, int]:
    """Compose slot name → the port the listeners reach (appspec ContainerPort)."""
    return {slot_name(service, slot): task.port for service, slot, task in tasks}
