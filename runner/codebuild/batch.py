"""Batch builds (CodeBuild's start-build-batch): the `batch` section as tasks, pure.

build-list, build-graph and build-matrix become one list of `Task`s; a matrix is
expanded into one task per combination. The graph is checked (unknown `depend-on`,
cycles) with file:line:col before anything runs. Which task may start, which will
never run, and the batch's status are plain functions over the tasks' statuses.
Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html
Where CodeBuild's documents are silent, our choices are in the README ("Batch builds").
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from runner.codebuild.buildspec_schema import SCHEMA
from runner.codebuild.phases import FAILED, STOPPED, SUCCEEDED, TIMED_OUT
from runner.core.schema import Context, Kind
from runner.core.yamlnodes import Document, is_null, mapping_items, position
from runner.errors import ConfigError, Position

LIST, GRAPH, MATRIX, FANOUT = "build-list", "build-graph", "build-matrix", "build-fanout"
KINDS = (LIST, GRAPH, MATRIX, FANOUT)
IDENTIFIER_VARIABLE = "CODEBUILD_BATCH_BUILD_IDENTIFIER"  # the only batch variable AWS documents
MAX_IDENTIFIER = 127  # CodeBuild: "less than 128 characters in length"
FANOUT_WARNING = (
    "batch.build-fanout: test sharding (codebuild-tests-run) is out of scope for now; "
    "the buildspec's phases run once, as a single build"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True)
class TaskEnv:
    """A task's `env` overrides; type, compute-type and fleet are recorded, not acted on."""

    image: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    privileged: bool = False
    type: str | None = None
    compute_type: str | None = None
    fleet: str | None = None

    def recorded(self) -> dict[str, Any]:
        values = {"type": self.type, "compute-type": self.compute_type, "fleet": self.fleet}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Task:
    identifier: str
    position: Position  # of the task's entry (a matrix: of build-matrix), for messages
    path: str  # its key path in messages: batch.build-list[0], batch.build-matrix
    buildspec: str | None = None  # a path in the source, or inline YAML; None: the batch's own file
    env: TaskEnv = field(default_factory=TaskEnv)
    ignore_failure: bool = False
    debug_session: bool = False
    depends_on: tuple[str, ...] = ()
    buildspec_position: Position | None = None


@dataclass(frozen=True, slots=True)
class BatchMember:
    """On a BuildRequest: this build is a task of a batch."""

    batch_id: str
    identifier: str


@dataclass(frozen=True, slots=True)
class Batch:
    kind: str
    tasks: tuple[Task, ...]
    fast_fail: bool = False
    warnings: tuple[str, ...] = ()
    position: Position | None = None  # of the `batch` key
    own_phases: bool = True  # the file has phases (tasks without a buildspec run them)


# ---------------------------------------------------------------- parsing


def has_batch(doc: Document) -> bool:
    return _child(doc.root, "batch") is not None


def is_batch_only(doc: Document) -> bool:
    """A file with `batch` and no `phases`: it can only mean a batch (decision 21)."""
    return has_batch(doc) and _child(doc.root, "phases") is None


def parse(doc: Document) -> Batch:
    """The batch section of a buildspec document as tasks; ConfigError (exit 2) when wrong."""
    node = _child(doc.root, "batch")
    if node is None:
        raise ConfigError(Position(doc.name, 1, 1), "batch", "this buildspec has no batch section")
    ctx = Context(doc)
    data = _batch_kind().read(node, "batch", ctx)
    kind = _one_kind(doc, node, data)
    warnings = list(ctx.warnings)
    own_phases = _child(doc.root, "phases") is not None
    fast_fail = bool(data["fast-fail"])
    if kind == FANOUT:
        return Batch(FANOUT, (), fast_fail, (*warnings, FANOUT_WARNING), _pos(doc, node), own_phases)
    kind_node = _child(node, kind)
    assert kind_node is not None
    if kind == MATRIX:
        tasks = expand_matrix(data[kind], _pos(doc, _child(node, kind, key=True) or kind_node))
    else:
        tasks = _listed(doc, kind_node, data[kind], kind, warnings)
    check_graph(doc, node, kind, tasks)
    return Batch(kind, tasks, fast_fail, tuple(warnings), _pos(doc, node), own_phases)


def _batch_kind() -> Kind:
    return next(key.kind for key in SCHEMA.keys if key.name == "batch")


def _one_kind(doc: Document, node: Node, data: dict[str, Any]) -> str:
    given = [kind for kind in KINDS if data.get(kind) is not None]
    if not given:
        raise ConfigError(_pos(doc, node), "batch", f"expected one of {', '.join(KINDS)}")
    if len(given) > 1:
        second = _child(node, given[1], key=True)
        raise ConfigError(
            _pos(doc, second or node),
            f"batch.{given[1]}",
            f"a batch has exactly one of {', '.join(KINDS)}; {given[0]} is already given",
        )
    return given[0]


def _listed(
    doc: Document, node: Node, items: tuple[dict[str, Any], ...], kind: str, warnings: list[str]
) -> tuple[Task, ...]:
    assert isinstance(node, SequenceNode)
    tasks = []
    for index, (item, item_node) in enumerate(zip(items, node.value, strict=True)):
        depends = tuple(item.get("depend-on") or ())
        if depends and kind == LIST:
            where = _pos(doc, _child(item_node, "depend-on", key=True) or item_node)
            warnings.append(f"{where}: batch.{LIST}[{index}].depend-on: only build-graph tasks wait; ignored")
            depends = ()
        spec_node = _child(item_node, "buildspec")
        tasks.append(
            Task(
                identifier=item["identifier"],
                position=_pos(doc, item_node),
                path=f"batch.{kind}[{index}]",
                buildspec=item.get("buildspec") or None,
                env=_env(item.get("env") or {}),
                ignore_failure=bool(item.get("ignore-failure")),
                debug_session=bool(item.get("debug-session")),
                depends_on=depends,
                buildspec_position=_pos(doc, spec_node) if spec_node is not None else None,
            )
        )
    return tuple(tasks)


def _env(data: Mapping[str, Any], base: TaskEnv | None = None) -> TaskEnv:
    base = base or TaskEnv()
    privileged = data.get("privileged-mode")
    return TaskEnv(
        image=data.get("image") or base.image,
        variables={**base.variables, **(data.get("variables") or {})},
        privileged=base.privileged if privileged is None else bool(privileged),
        type=data.get("type") or base.type,
        compute_type=data.get("compute-type") or base.compute_type,
        fleet=data.get("fleet") or base.fleet,
    )


# ---------------------------------------------------------------- matrix


def expand_matrix(data: Mapping[str, Any], where: Position) -> tuple[Task, ...]:
    """One task per combination of the dynamic lists, in file order (the last list varies
    fastest), each with the static settings. Identifiers: see `matrix_identifiers`."""
    static = data.get("static") or {}
    dynamic = data.get("dynamic") or {}
    dims = _dimensions(dynamic)
    if not dims:
        raise ConfigError(where, "batch.build-matrix.dynamic", "expected at least one list of values")
    base = _env(static.get("env") or {})
    combos = list(itertools.product(*(values for _, values in dims)))
    names = matrix_identifiers([tuple(zip((d for d, _ in dims), combo, strict=True)) for combo in combos])
    tasks = []
    for identifier, combo in zip(names, combos, strict=True):
        chosen = dict(zip((d for d, _ in dims), combo, strict=True))
        env = _env(
            {
                "image": chosen.get("image"),
                "compute-type": chosen.get("compute-type"),
                "variables": {k.partition(":")[2]: v for k, v in chosen.items() if k.startswith("var:")},
            },
            base,
        )
        tasks.append(
            Task(
                identifier=identifier,
                position=where,
                path="batch.build-matrix",
                buildspec=chosen.get("buildspec"),
                env=env,
                ignore_failure=bool(static.get("ignore-failure")),
                buildspec_position=where,
            )
        )
    return tuple(tasks)


def _dimensions(dynamic: Mapping[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    env = dynamic.get("env") or {}
    dims = [
        ("buildspec", tuple(dynamic.get("buildspec") or ())),
        ("image", tuple(env.get("image") or ())),
        ("compute-type", tuple(env.get("compute-type") or ())),
        *((f"var:{name}", tuple(values or ())) for name, values in (env.get("variables") or {}).items()),
    ]
    return [(name, values) for name, values in dims if values]


def matrix_identifiers(combos: list[tuple[tuple[str, str], ...]]) -> list[str]:
    """Our scheme (CodeBuild's is undocumented): `<label>_<value>` per dimension, joined
    by `_`, where the label is `buildspec`, `image`, `compute_type` or the variable's
    name; every run of characters other than letters, digits and `_` becomes `_`.
    A name that would reach 128 characters, or that two combinations share, is cut to
    118 characters and ends in `_` + 8 hex digits of the combination's SHA-256."""
    plain = [_sanitize("_".join(f"{_label(dim)}_{value}" for dim, value in combo)) for combo in combos]
    counts: dict[str, int] = {}
    for name in plain:
        counts[name] = counts.get(name, 0) + 1
    return [
        name if len(name) <= MAX_IDENTIFIER and counts[name] == 1 else _hashed(name, combo)
        for name, combo in zip(plain, combos, strict=True)
    ]


def _label(dimension: str) -> str:
    return dimension.partition(":")[2] if dimension.startswith("var:") else dimension.replace("-", "_")


def _sanitize(text: str) -> str:
    return _UNSAFE.sub("_", text)


def _hashed(name: str, combo: tuple[tuple[str, str], ...]) -> str:
    canonical = "\n".join(f"{dim}={value}" for dim, value in combo)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    return f"{name[:118]}_{digest}"


# ---------------------------------------------------------------- graph


IDENTIFIER = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_IDENTIFIER}}}")
IDENTIFIER_RULE = (
    "must contain only alphanumeric characters and underscores and be less than 128 characters in length"
)  # CodeBuild's BATCH_SPEC_VALIDATION_ERROR (CODEBUILD.md decision 25)


def check_graph(doc: Document, batch_node: Node, kind: str, tasks: tuple[Task, ...]) -> None:
    """Identifiers well formed and unique, every `depend-on` names a task, no cycle: else one ConfigError."""
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        if not IDENTIFIER.fullmatch(task.identifier):
            raise ConfigError(
                task.position, f"batch.{kind}[{index}].identifier", f"{task.identifier!r} {IDENTIFIER_RULE}"
            )
        if task.identifier in seen:
            raise ConfigError(
                task.position, f"batch.{kind}[{index}].identifier", f"{task.identifier!r} is used twice"
            )
        seen.add(task.identifier)
    for index, task in enumerate(tasks):
        for n, name in enumerate(task.depends_on):
            if name not in seen:
                raise ConfigError(
                    _depend_position(doc, batch_node, kind, index, n, task),
                    f"batch.{kind}[{index}].depend-on[{n}]",
                    f"no task has the identifier {name!r}",
                )
    cycle = find_cycle(tasks)
    if cycle:
        index = next(i for i, t in enumerate(tasks) if t.identifier == cycle[0])
        raise ConfigError(
            _depend_position(doc, batch_node, kind, index, None, tasks[index]),
            f"batch.{kind}[{index}].depend-on",
            f"a dependency cycle: {' -> '.join((*cycle, cycle[0]))}",
        )


def find_cycle(tasks: Iterable[Task]) -> tuple[str, ...]:
    """The first cycle in file order (identifiers), or () when the graph has none."""
    edges = {t.identifier: t.depends_on for t in tasks}
    done: set[str] = set()
    for start in edges:
        path: list[str] = []
        found = _visit(start, edges, path, set(), done)
        if found:
            return found
    return ()


def _visit(
    name: str, edges: Mapping[str, tuple[str, ...]], path: list[str], on_path: set[str], done: set[str]
) -> tuple[str, ...]:
    if name in on_path:
        return tuple(path[path.index(name) :])
    if name in done or name not in edges:
        return ()
    path.append(name)
    on_path.add(name)
    for dep in edges[name]:
        found = _visit(dep, edges, path, on_path, done)
        if found:
            return found
    path.pop()
    on_path.discard(name)
    done.add(name)
    return ()


def _depend_position(
    doc: Document, batch_node: Node, kind: str, index: int, item: int | None, task: Task
) -> Position:
    tasks_node = _child(batch_node, kind)
    if not isinstance(tasks_node, SequenceNode):
        return task.position
    node = _child(tasks_node.value[index], "depend-on")
    if isinstance(node, SequenceNode) and item is not None:
        return _pos(doc, node.value[item])
    return _pos(doc, node) if node is not None else task.position


# ---------------------------------------------------------------- running order and status


def passed(task: Task, status: str | None, ran: bool) -> bool:
    """A dependency lets its dependants start: it SUCCEEDED, or it ran with ignore-failure."""
    return status == SUCCEEDED or (task.ignore_failure and ran and status is not None)


def ready(tasks: Iterable[Task], ended: Mapping[str, str], ran: set[str], started: set[str]) -> list[Task]:
    """Tasks not started yet whose every dependency has passed, in file order."""
    by_name = {t.identifier: t for t in tasks}
    return [
        t
        for t in by_name.values()
        if t.identifier not in started
        and t.identifier not in ended
        and all(d in ended and passed(by_name[d], ended[d], d in ran) for d in t.depends_on)
    ]


def never_run(tasks: Iterable[Task], ended: Mapping[str, str], ran: set[str]) -> list[Task]:
    """Tasks that cannot start any more: a dependency ended without passing (our choice:
    they are not started and are listed STOPPED, without a build number)."""
    by_name = {t.identifier: t for t in tasks}
    return [
        t
        for t in by_name.values()
        if t.identifier not in ended
        and t.identifier not in ran
        and any(d in ended and not passed(by_name[d], ended[d], d in ran) for d in t.depends_on)
    ]


def counts_as_failure(task: Task, status: str) -> bool:
    return status != SUCCEEDED and not task.ignore_failure


def batch_status(
    tasks: Iterable[Task], statuses: Mapping[str, str], stopped: bool = False, timed_out: bool = False
) -> str:
    """SUCCEEDED when every task without ignore-failure SUCCEEDED; a stop or the batch
    timeout wins over the tasks' outcome, as in CodeBuild's buildBatchStatus."""
    if timed_out:
        return TIMED_OUT
    if stopped:
        return STOPPED
    ok = all(statuses.get(t.identifier) == SUCCEEDED for t in tasks if not t.ignore_failure)
    return SUCCEEDED if ok else FAILED


def variables(identifier: str | None) -> dict[str, str]:
    """What a task build sees of its batch (nothing else is documented: decision 26)."""
    return {IDENTIFIER_VARIABLE: identifier} if identifier is not None else {}


# ---------------------------------------------------------------- nodes


def _child(node: Node | None, name: str, key: bool = False) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in mapping_items(node):
        if k.value == name:
            return k if key else (None if is_null(v) else v)
    return None


def _pos(doc: Document, node: Node) -> Position:
    return position(doc.name, node)
