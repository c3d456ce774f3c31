"""Artifact and report paths as CodeBuild reads them after POST_BUILD (CODEBUILD.md decision 23).

`$VAR` and `${VAR}` in `files`, `exclude-paths` and `base-directory` (artifacts, secondary
artifacts, reports) expand from the shell state the last phase left, exported or not; an
unset variable is empty, as in the shell. `$(…)` is shell syntax only in an artifact's
`name`. An absolute base-directory names a path in the build container: under one of
the workspace's mounts it is read on the host, anywhere else it is copied out of the
build's last container state (with links that leave it dropped), so nothing on the host
outside the workspace is ever read.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from runner.adapters.executor import File, Running, RunRequest, first_file
from runner.codebuild.artifacts import ArtifactError
from runner.codebuild.buildspec import Artifacts, ArtifactSpec, Buildspec, ReportSpec
from runner.codebuild.globs import PathEscape, has_wildcard
from runner.codebuild.phase_runner import PhaseSetup
from runner.codebuild.shell import restore_lines, shell_binary
from runner.codebuild.workspace import Workspace

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
VARIABLE = re.compile(rf"\$(?:\{{({_NAME})\}}|({_NAME}))")
COPIED = "container-root"  # under the workspace's tmp: absolute base directories, copied out
OUT_FILE = "paths.out"


@dataclass(frozen=True, slots=True)
class Values:
    """What the build's shell knew at the end: the variables the paths name, and names."""

    variables: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # artifact identifier → evaluated name


def referenced(spec: Buildspec) -> list[str]:
    """Variable names used by any path setting, in order of first use."""
    found: dict[str, None] = {}
    for text in _path_texts(spec):
        for match in VARIABLE.finditer(text):
            found.setdefault(match.group(1) or match.group(2))
    return list(found)


def _blocks(spec: Buildspec) -> dict[str, ArtifactSpec]:
    if spec.artifacts is None:
        return {}
    return {"artifacts": spec.artifacts.primary, **spec.artifacts.secondary}


def _path_texts(spec: Buildspec) -> Iterator[str]:
    for block in _blocks(spec).values():
        yield from block.files
        yield from block.exclude_paths
        if block.base_directory:
            yield block.base_directory
    for report in spec.reports:
        yield from report.files
        if report.base_directory:
            yield report.base_directory


def expand(text: str, variables: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def _pattern(field_name: str, text: str, variables: dict[str, str], base: str | None) -> str:
    """A files/exclude-paths pattern, expanded; one made absolute by a variable is refused."""
    value = expand(text, variables)
    first = VARIABLE.match(text)
    if value.startswith("/") and first is not None:
        name = first.group(1) or first.group(2)
        state = f"is {variables[name]!r}" if name in variables else "is unset"
        hint = "patterns are relative to base-directory" if base else f"set base-directory: ${name} instead"
        raise PathEscape(
            f"{field_name}: {text!r} expands to {value!r}, an absolute path (${name} {state}); {hint}"
        )
    return value


def expand_artifact(spec: ArtifactSpec, variables: dict[str, str]) -> ArtifactSpec:
    try:
        return replace(
            spec,
            files=tuple(_pattern("files", p, variables, spec.base_directory) for p in spec.files),
            exclude_paths=tuple(
                _pattern("exclude-paths", p, variables, spec.base_directory) for p in spec.exclude_paths
            ),
            base_directory=expand(spec.base_directory, variables) if spec.base_directory else None,
        )
    except PathEscape as e:
        raise ArtifactError(str(e)) from e


def expand_report(spec: ReportSpec, variables: dict[str, str]) -> ReportSpec:
    """Raises PathEscape (the report is INCOMPLETE with that line)."""
    return replace(
        spec,
        files=tuple(_pattern("files", p, variables, spec.base_directory) for p in spec.files),
        base_directory=expand(spec.base_directory, variables) if spec.base_directory else None,
    )


# ---------------------------------------------------------------- the build container


@dataclass(frozen=True, slots=True)
class Final:
    """The build's last state: the image and saved shell state the last phase left."""

    setup: PhaseSetup
    image: str
    state_dir: str | None


class BuildPaths:
    """The values the paths need, and where absolute base-directories are on the host."""

    def __init__(self, space: Workspace, values: Values) -> None:
        self.space = space
        self.values = values

    def artifacts(self, spec: Artifacts) -> Artifacts:
        return Artifacts(
            expand_artifact(spec.primary, self.values.variables),
            {k: expand_artifact(v, self.values.variables) for k, v in spec.secondary.items()},
        )

    def locate(self, path: str) -> tuple[Path, str]:
        """A container path: its host directory when it is mounted, else its copy."""
        for mount in sorted(self.space.mounts(), key=lambda m: len(m.target), reverse=True):
            if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                return Path(mount.source), path[len(mount.target) :].lstrip("/") or "."
        return self.space.tmp / COPIED, path.lstrip("/")


def prepare(spec: Buildspec, space: Workspace, final: Final, say: Callable[[str], None]) -> BuildPaths:
    """Read what the paths need from the build's last state: one short helper container,
    only when a path names a variable, a name uses shell syntax, or a base-directory is a
    container path outside the workspace's mounts."""
    names = {k: b.name for k, b in _blocks(spec).items() if b.name and "$" in b.name}
    wanted = referenced(spec)
    paths = BuildPaths(space, Values())
    if not (wanted or names or _absolute_bases(spec, {})):
        return paths
    container = None
    try:
        if wanted or names:
            container = _run(final, space, _script(final, space, wanted, names))
            paths = BuildPaths(space, _read_values(container, f"{space.container_tmp}/{OUT_FILE}", names))
        copied = space.tmp / COPIED
        copies = [d for d in _absolute_bases(spec, paths.values.variables) if paths.locate(d)[0] == copied]
        if copies:
            container = container or _run(final, space, "true")
            for directory in copies:
                _copy_out(container, directory, space, say)
    finally:
        if container is not None:
            container.remove()
    for ident, name in paths.values.names.items():
        say(f"Updating artifact name as {name}" + ("" if ident == "artifacts" else f" ({ident})"))
    return paths


def _absolute_bases(spec: Buildspec, variables: dict[str, str]) -> list[str]:
    """Absolute base-directories after expansion; a pattern is copied from above its wildcard."""
    bases = [b.base_directory for b in _blocks(spec).values()] + [r.base_directory for r in spec.reports]
    found = []
    for base in filter(None, bases):
        value = expand(base, variables)
        if value.startswith("/"):
            if has_wildcard(value):
                value = re.split(r"[*?\[]", value, maxsplit=1)[0].rsplit("/", 1)[0] or "/"
            found.append(value.rstrip("/") or "/")
    return sorted(set(found))


def _script(final: Final, space: Workspace, wanted: list[str], names: dict[str, str]) -> str:
    out = f"{space.container_tmp}/{OUT_FILE}"
    setup = final.setup
    lines = ["exec </dev/null 2>/dev/null", *restore_lines(setup.shell, final.state_dir, setup.workdir)]
    lines.append("set +eu")  # restored options must not stop the report of what is set
    lines.append("{")
    lines += [f'[ -n "${{{n}+x}}" ] && printf \'v:{n}\\000%s\\000\' "${n}"' for n in wanted]
    # An artifact name is shell syntax ($(date …) included), evaluated as a "…" word.
    lines += [f"printf 'n:{ident}\\000%s\\000' \"{text}\"" for ident, text in names.items()]
    lines += ["true", f"}} > {out}"]
    return "\n".join(lines) + "\n"


def _run(final: Final, space: Workspace, script: str) -> Running:
    setup = final.setup
    path = f"{space.container_tmp}/paths.sh"
    container = setup.executor.start(
        RunRequest(
            image=final.image,
            command=[shell_binary(setup.shell), path],
            env=setup.env,
            labels=setup.labels,
            workdir=setup.workdir,
            mounts=setup.mounts,
            files=(File(path, script.encode()),),
        )
    )
    try:
        container.wait(timeout_s=120)
    except BaseException:
        container.remove()
        raise
    return container


def _read_values(container: Running, path: str, names: dict[str, str]) -> Values:
    stream = container.get_archive(path)
    data = first_file(stream) if stream is not None else None
    parts = (data or b"").decode("utf-8", "replace").split("\0")
    found = dict(zip(parts[0:-1:2], parts[1::2], strict=False))
    variables = {k[2:]: v for k, v in found.items() if k.startswith("v:")}
    evaluated = {ident: found.get(f"n:{ident}", text) for ident, text in names.items()}
    return Values(variables, evaluated)


def _copy_out(container: Running, directory: str, space: Workspace, say: Callable[[str], None]) -> None:
    """Copy a directory of the build container below the copies' root, at its own path."""
    stream = container.get_archive(directory)
    if stream is None:
        return  # the base-directory does not exist: collect says so in CodeBuild's words
    target = space.tmp / COPIED / directory.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    spool = space.tmp / "copy.tar"
    with spool.open("wb") as out:
        for chunk in stream:
            out.write(chunk)
    dropped: list[str] = []

    def safe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, dest)
        except tarfile.FilterError:
            dropped.append(member.name)  # a link that leaves the directory, a device …
            return None

    with tarfile.open(spool) as archive:
        archive.extractall(target.parent, filter=safe)
    spool.unlink()
    if dropped:
        say(f"Skipping {len(dropped)} path(s) of {directory} that point outside it, e.g. {dropped[0]}")
