"""`runner images bootstrap|list|copy`: offline base images, the images builds produced, and
their way to another engine."""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

from runner.output import TransferProgress, print_json, print_table, say

if TYPE_CHECKING:
    from runner.adapters.docker.remote import Endpoint
    from runner.images.base import ImageState
    from runner.images.on_engine import Placed
    from runner.store.images import ImageRecord, Placement


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("images", help="base images and built service images")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    boot = verbs.add_parser("bootstrap", help="build the offline base images (debootstrap)")
    boot.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="only these: base, build, router, python or standard (what they are built from is made "
        "here too, and not copied)",
    )
    boot.add_argument("--force", action="store_true", help="rebuild even when current")
    boot.add_argument(
        "-H",
        "--docker-host",
        metavar="URL|NAME",
        help="put them on this engine, a pipeline.yml engine or a URL (default: DOCKER_HOST when it "
        "is tcp:// or ssh://): always built here, where the mirror is reachable, then streamed there "
        "by image id (nothing is sent when it has that id)",
    )
    boot.add_argument("--json", action="store_true", help="print the image states as JSON")
    boot.set_defaults(func=run_bootstrap)
    listing = verbs.add_parser("list", help="service images: tag, id, commit, build, where deployed")
    listing.add_argument("--service", help="only this service's images")
    listing.add_argument(
        "-H",
        "--docker-host",
        metavar="URL|NAME",
        help="whether each image is present on this engine (a pipeline.yml engine or a URL) instead of here",
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    copy = verbs.add_parser(
        "copy", help="stream images to another engine (save → load): same image id, tags never overwritten"
    )
    copy.add_argument("images", nargs="+", metavar="IMAGE", help="a tag (copied with its tag) or an image id")
    copy.add_argument(
        "--to", required=True, metavar="ENGINE", help="an engine pipeline.yml names, or its URL"
    )
    copy.add_argument("--from", dest="source", default="local", metavar="ENGINE", help="default: local")
    copy.add_argument("--json", action="store_true", help="print what was copied as JSON")
    copy.set_defaults(func=run_copy)


def run_bootstrap(args: argparse.Namespace) -> int:
    from runner.images import base as base_images

    target = _bootstrap_target(args.docker_host)
    if target is not None:
        return _bootstrap_on(target, args)
    started = time.monotonic()
    states = base_images.bootstrap(force=args.force, say=say, only=args.images)
    if args.json:
        print_json([_state(s) for s in states])
        return 0
    built = time.monotonic() - started
    print_table(["IMAGE", "RECIPE", "ID"], [[s.ref, s.digest, (s.image_id or "")[7:19]] for s in states])
    say(f"base images are current ({built:.1f}s)")
    return 0


def _bootstrap_target(text: str | None) -> Endpoint | None:
    """The engine -H (or a tcp:// or ssh:// DOCKER_HOST) names; None for this machine's engine.

    The images are built on this machine's engine: DOCKER_HOST when it is a unix:// socket, else
    the default socket. A DOCKER_HOST naming another machine is the target, never the builder:
    it is dropped from this process's environment before the first client is made.
    """
    from runner.adapters.docker.remote import DEFAULT_SOCKET_URL

    host = os.environ.get("DOCKER_HOST", "").strip()
    if host.startswith(("tcp://", "ssh://")):
        del os.environ["DOCKER_HOST"]
        if not text:
            return _from_docker_env(host)
    there = _engine_argument(text)
    here = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET_URL
    return None if there is None or there.url in (None, here) else there


def _from_docker_env(host: str) -> Endpoint:
    """DOCKER_HOST as the docker CLI reads it: with DOCKER_TLS_VERIFY, the certificates in
    DOCKER_CERT_PATH (default ~/.docker)."""
    from runner.adapters.docker.remote import Endpoint

    if not os.environ.get("DOCKER_TLS_VERIFY"):
        return Endpoint(host)
    certs = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
    return Endpoint(host, *(os.path.join(certs, f"{n}.pem") for n in ("ca", "cert", "key")))


def _bootstrap_on(target: Endpoint, args: argparse.Namespace) -> int:
    from runner.images.on_engine import bootstrap_on

    started = time.monotonic()
    placed = bootstrap_on(
        target,
        only=args.images,
        force=args.force,
        say=say,
        progress_for=lambda ref: TransferProgress(f"{ref} → {target.shown()}"),
    )
    if args.json:
        print_json([_state(p.state) | _placed(p, target) for p in placed])
        return 0
    print_table(
        ["IMAGE", "RECIPE", "ID", "ON " + target.shown()],
        [
            [p.state.ref, p.state.digest, (p.state.image_id or "")[7:19], _sent(p.bytes_sent, p.seconds)]
            for p in placed
        ],
    )
    say(f"base images are current on {target.shown()} ({time.monotonic() - started:.1f}s)")
    return 0


def _placed(placed: Placed, target: Endpoint) -> dict[str, Any]:
    return {"engine": target.shown(), "bytes": placed.bytes_sent, "seconds": round(placed.seconds, 3)}


def _sent(sent: int, seconds: float) -> str:
    return f"copied: {sent / 2**20:.0f} MiB in {seconds:.1f}s" if sent else "already there"


def _state(state: ImageState) -> dict[str, Any]:
    return {
        "ref": state.ref,
        "recipe": state.digest,
        "id": state.image_id,
        "current": state.current,
    }


def run_list(args: argparse.Namespace) -> int:
    from runner.adapters.docker import client as docker_client
    from runner.adapters.docker import images as docker_images
    from runner.adapters.docker import remote
    from runner.images import tags as images
    from runner.store import images as records
    from runner.store import open_store

    store = open_store()
    rows = records.list_images(store, args.service)
    where = records.placements_by_image(store)
    kind = [f"{docker_client.KIND}={images.KIND}"]
    there = _engine_argument(args.docker_host)
    if there is not None:
        present = remote.image_ids(there, kind) if rows else set()
    else:
        present = {i.id for i in docker_images.list_images(kind)} if rows else set()
    listed = [_listed(r, where.get(r.image_id, []), r.image_id in present) for r in rows]
    if there is not None:
        listed = [row | {"engine": there.shown()} for row in listed]
    if args.json:
        print_json(listed)
        return 0
    print_table(
        ["SERVICE", "TAG", "IMAGE ID", "COMMIT", "BUILD", "CREATED", "DEPLOYED"],
        [
            [
                r["service"],
                r["tag"],
                r["id"][7:19] + ("" if r["present"] else " (not there)" if there else " (gone)"),
                (r["commit"] or "")[:12],
                r["build_number"] or "",
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"])),
                " ".join(p.text() for p in where.get(r["id"], [])),
            ]
            for r in listed
        ],
    )
    return 0


def _engine_argument(text: str | None) -> Endpoint | None:
    """-H's engine (a pipeline.yml name or a URL); None without -H."""
    from runner.commands._engines import configured, endpoint
    from runner.core.engines import from_argument

    if not text:
        return None
    return endpoint(from_argument(configured() if "://" not in text else (), text))


def _listed(record: ImageRecord, placements: list[Placement], present: bool) -> dict[str, Any]:
    return {
        "service": record.service,
        "tag": record.tag,
        "id": record.image_id,
        "commit": record.commit_sha,
        "build": record.build_id,
        "build_number": record.build_number,
        "created": record.created,
        "input_digest": record.input_digest,
        "present": present,
        "deployed": [p.as_json() for p in placements],
    }


def run_copy(args: argparse.Namespace) -> int:
    from runner.adapters.docker.transfer import copy_image
    from runner.commands._engines import configured, endpoint
    from runner.core.engines import from_argument

    engines = configured()
    source, target = (endpoint(from_argument(engines, text)) for text in (args.source, args.to))
    copied = []
    for ref in args.images:
        done = copy_image(source, ref, target, TransferProgress(f"{ref} → {target.shown()}"))
        say(f"{ref}: {done.image_id[7:19]} on {target.shown()} ({_sent(done.bytes_sent, done.seconds)})")
        copied.append(
            {
                "image": ref,
                "id": done.image_id,
                "to": target.shown(),
                "tags": list(done.tags),
                "bytes": done.bytes_sent,
                "seconds": round(done.seconds, 3),
            }
        )
    if args.json:
        print_json(copied)
    return 0
