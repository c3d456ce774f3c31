"""Offline base images: built from Debian packages (debootstrap → trim → docker import).

No registry is reachable on these machines, so the images every build and
environment starts from are made locally. Their recipes live here and only here;
a hash of each recipe is stored as a label, so a second bootstrap is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.errors import EngineError, RunnerError, UsageError

SUITE = "bookworm"
MIRROR = os.environ.get("RUNNER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("RUNNER_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
RECIPE_LABEL = "runner.recipe"

BASE = f"runner/base:{SUITE}"
BUILD = f"runner/build:{SUITE}"
ROUTER = f"runner/router:{SUITE}"
PYTHON = f"runner/python:{SUITE}"
STANDARD = f"runner/standard:{SUITE}"  # the default build image, like CodeBuild's standard image
RECIPE_DIR = Path(__file__).parent / "recipes"

_TRIM = (
    "rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* "
    "/var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/cache/debconf/*-old"
)  # the *.bin package caches alone are 77 MB after an `apt-get update`
_INSTALL = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
    "--no-install-recommends {packages} >/dev/null && " + _TRIM
)

# Keeps later `apt-get install` runs small inside every image (docs, man pages, locales).
DPKG_EXCLUDES = """path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
"""

SOURCES = f"""deb {MIRROR} {SUITE} main
deb {MIRROR} {SUITE}-updates main
deb {SECURITY_MIRROR} {SUITE}-security main
"""


@dataclass(frozen=True, slots=True)
class Recipe:
    """How one image is made: from a debootstrap root (parent None) or a Dockerfile."""

    ref: str
    description: str
    parent: str | None
    dockerfile: str
    files: tuple[tuple[str, str], ...] = ()  # (name, text) put in the build context

    def digest(self, parent_digest: str = "") -> str:
        files = "".join(f"{name}\n{text}\n" for name, text in self.files)
        text = f"{self.ref}\n{self.parent}\n{parent_digest}\n{self.dockerfile}\n{files}{SOURCES}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _standard_dockerfile() -> str:
    text = (RECIPE_DIR / "standard.dockerfile").read_text()
    return text.replace("{mirror}", MIRROR).replace("{suite}", SUITE).replace("{trim}", _TRIM)


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        BASE,
        "Debian minbase with security updates",
        None,
        # Applied on top of the imported debootstrap root.
        "FROM {parent}\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq "
        f">/dev/null && {_TRIM}\n",
    ),
    Recipe(
        BUILD,
        "build image: sh, bash, coreutils, git, curl, python3, docker CLI",
        BASE,
        "FROM {parent}\n"
        "RUN "
        + _INSTALL.format(
            packages="bash coreutils git curl ca-certificates python3 procps xz-utils unzip zip"
        )
        + "\n"
        # The docker CLI only (for privileged builds): taken from Debian's docker.io
        # package without installing the engine it also carries.
        "RUN cd /tmp && apt-get update -qq && apt-get download -qq docker.io && "
        "dpkg-deb --fsys-tarfile docker.io_*.deb | tar -xO ./usr/bin/docker "
        "> /usr/local/bin/docker && chmod 0755 /usr/local/bin/docker && rm -f docker.io_*.deb && "
        + _TRIM
        + "\n"
        'CMD ["/bin/bash"]\n',
    ),
    Recipe(
        ROUTER,
        "router image: nginx with njs (per-request slot choice without reloads)",
        BASE,
        "FROM {parent}\n"
        "RUN " + _INSTALL.format(packages="nginx-light libnginx-mod-http-js curl") + " && "
        "ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log\n"
        "STOPSIGNAL SIGQUIT\n"
        'CMD ["nginx", "-g", "daemon off;"]\n',
    ),
    Recipe(
        PYTHON,
        "service runtime: python3 (standard library only)",
        BASE,
        "FROM {parent}\nRUN " + _INSTALL.format(packages="python3") + '\nCMD ["python3"]\n',
    ),
    Recipe(
        STANDARD,
        "standard build image: Python 3.11, Node.js 18, OpenJDK 17 + Maven, Go 1.23, AWS CLI, "
        "Ruby, PHP, docker CLI (about 2 minutes, 1.4 GB)",
        BASE,
        _standard_dockerfile(),
        (("runtimes.yml", (RECIPE_DIR / "standard-runtimes.yml").read_text()),),
    ),
)


def recipe_digests() -> dict[str, str]:
    digests: dict[str, str] = {}
    for recipe in RECIPES:
        digests[recipe.ref] = recipe.digest(digests.get(recipe.parent or "", ""))
    return digests


@dataclass(frozen=True, slots=True)
class ImageState:
    ref: str
    digest: str
    image_id: str | None
    current: bool


def status() -> list[ImageState]:
    digests = recipe_digests()
    states = []
    for recipe in RECIPES:
        info = docker_images.image(recipe.ref)
        current = info is not None and info.labels.get(RECIPE_LABEL) == digests[recipe.ref]
        states.append(ImageState(recipe.ref, digests[recipe.ref], info.id if info else None, current))
    return states


def short_name(ref: str) -> str:
    """runner/python:bookworm → python: what the command line accepts for it."""
    return ref.partition("/")[2].partition(":")[0]


def refs_named(names: Collection[str]) -> tuple[str, ...]:
    """The base images these names (short names or full tags) mean, in recipe order; all for none."""
    known = {short_name(r.ref): r.ref for r in RECIPES} | {r.ref: r.ref for r in RECIPES}
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(short_name(r.ref) for r in RECIPES)
        raise UsageError(f"no base image {unknown[0]!r}: expected one of {choices} (or their full tags)")
    wanted = {known[name] for name in names}
    return tuple(r.ref for r in RECIPES if not wanted or r.ref in wanted)


def _with_parents(refs: Collection[str]) -> set[str]:
    parents = {r.ref: r.parent for r in RECIPES}
    found: set[str] = set()
    for ref in refs:
        current: str | None = ref
        while current is not None and current not in found:
            found.add(current)
            current = parents[current]
    return found


def bootstrap(
    force: bool = False, say: Callable[[str], None] = print, only: Collection[str] = ()
) -> list[ImageState]:
    """Make every base image (or those `only` names, and what they are built from) that is missing
    or whose recipe changed; the states of those asked for. `force` rebuilds the ones asked for."""
    digests = recipe_digests()
    asked = refs_named(only)
    needed = _with_parents(asked)
    rebuilt: set[str] = set()
    for recipe in RECIPES:
        if recipe.ref not in needed:
            continue
        info = docker_images.image(recipe.ref)
        forced = force and recipe.ref in asked
        parent_rebuilt = recipe.parent in rebuilt
        if (
            not forced
            and not parent_rebuilt
            and info
            and info.labels.get(RECIPE_LABEL) == digests[recipe.ref]
        ):
            continue
        started = time.monotonic()
        say(f"building {recipe.ref}: {recipe.description}")
        _build(recipe, digests[recipe.ref], say)
        rebuilt.add(recipe.ref)
        say(f"built {recipe.ref} in {time.monotonic() - started:.1f}s")
    return [state for state in status() if state.ref in asked]


def _build(recipe: Recipe, digest: str, say: Callable[[str], None]) -> None:
    # Fixed labels (not docker_client.labels): base images outlive any test session.
    image_labels = {docker_client.MANAGED: "1", docker_client.KIND: "base-image", RECIPE_LABEL: digest}
    parent = recipe.parent
    if parent is None:
        parent = _import_debootstrap_root(say)
    dockerfile = recipe.dockerfile.replace("{parent}", parent)
    recent: deque[str] = deque(maxlen=5)  # what a failing step said last (apt's error)

    def show(line: str) -> None:
        recent.append(line)
        if line.startswith(("Step ", "==> ")):  # steps, and the lines a long step prints
            say(f"  {_clip(line)}")

    with tempfile.TemporaryDirectory(prefix="runner-image-") as context:
        for name, text in recipe.files:
            (Path(context) / name).write_text(text)
        try:
            docker_images.build_image(
                Path(context), recipe.ref, image_labels, dockerfile_text=dockerfile, on_line=show
            )
        except EngineError as e:
            raise EngineError(f"{e} (last output: {' | '.join(_clip(line) for line in recent)})") from e
    if recipe.parent is None:
        docker_images.remove_image(parent)


def _clip(line: str, width: int = 120) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _import_debootstrap_root(say: Callable[[str], None]) -> str:
    debootstrap = _require_debootstrap()
    ref = f"runner/rootfs:{SUITE}-import"
    with tempfile.TemporaryDirectory(prefix="runner-rootfs-", dir=_scratch_dir()) as tmp:
        root = Path(tmp) / "root"
        say(f"  debootstrap --variant=minbase {SUITE} from {MIRROR} (about 40 s)")
        _run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=ca-certificates",
                SUITE,
                str(root),
                MIRROR,
            ]
        )
        _trim_root(root)
        say("  importing the root filesystem")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        try:
            docker_images.import_tar(
                tar.stdout,
                ref,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    'CMD ["/bin/bash"]',
                ],
            )
        finally:
            tar.stdout.close()
            if tar.wait() != 0:
                raise RunnerError(f"tar of the root filesystem failed (exit {tar.returncode})")
    return ref


def _trim_root(root: Path) -> None:
    for pattern in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        for child in (root / pattern).glob("*"):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    for child in (root / "var/cache/apt/archives").glob("*.deb"):
        child.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/01-runner-slim").write_text(DPKG_EXCLUDES)
    (root / "etc/apt/sources.list").write_text(SOURCES)
    (root / "etc/apt/apt.conf.d/01-runner").write_text(
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
    )


def _scratch_dir() -> str | None:
    # debootstrap needs a filesystem that allows device nodes and exec: not a tmpfs with nodev.
    return "/var/tmp" if os.path.isdir("/var/tmp") else None


def _require_debootstrap() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"])
        found = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if found is None or os.geteuid() != 0:
        raise UsageError(
            "building base images needs root and debootstrap (Debian/Ubuntu); elsewhere, "
            "name images you can pull in pipeline.yml (e.g. python:3.12-slim, nginx:alpine)"
        )
    return found


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RunnerError(f"{command[0]} failed (exit {result.returncode}): {' | '.join(tail)}")
