"""Pushing immutable tags to a registry (pipeline.yml `registry: host:port[/prefix]`), deploying by digest.

A registry's tags are mutable, so before a push the remote tag is looked at: absent →
push; it holds our image (its manifest's config digest is the image id) → pushed again,
a no-op that returns the digest; it holds other content → refused (ImmutableTagError).
Deployments then name the image `host:port/<service>@sha256:<manifest digest>`, which no
later push can change. Loopback registries are spoken to over http, others over https.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Callable

from runner.adapters.docker import images
from runner.errors import RunnerError
from runner.images.tags import ImmutableTagError

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


def remote_tag(registry: str, tag: str) -> str:
    """`api:0123456789ab` → `127.0.0.1:5000/api:0123456789ab`."""
    return f"{registry.rstrip('/')}/{tag}"


def _endpoint(registry: str, tag: str) -> str:
    host, _, prefix = registry.rstrip("/").partition("/")
    name, _, reference = tag.partition(":")
    repository = f"{prefix}/{name}" if prefix else name
    return f"{_scheme(host)}://{host}/v2/{repository}/manifests/{reference}"


def _scheme(host: str) -> str:
    name = host.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost"
    return "http" if loopback else "https"


def remote_image_id(registry: str, tag: str) -> str | None:
    """The image id (config digest) a registry's tag names now, or None when it has no such tag."""
    request = urllib.request.Request(_endpoint(registry, tag), headers={"Accept": MANIFEST_TYPES})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            manifest = json.loads(response.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise RunnerError(f"registry {registry}: {tag}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise RunnerError(f"registry {registry} does not answer ({e})") from e
    config = manifest.get("config") if isinstance(manifest, dict) else None
    return str(config["digest"]) if isinstance(config, dict) and "digest" in config else None


def publish(registry: str, tag: str, image_id: str, say: Callable[[str], None]) -> str:
    """Push an immutable tag; returns the digest reference deployments use."""
    held = remote_image_id(registry, tag)
    if held is not None and held != image_id:
        raise ImmutableTagError(
            f"refusing to push {remote_tag(registry, tag)}: the registry's tag already names "
            f"{held[:19]}, not {image_id[:19]}; tags are immutable"
        )
    remote = remote_tag(registry, tag)
    images.tag_image(image_id, remote)  # kept: the engine then knows the repo digest too
    digest = images.push_image(remote, say)
    reference = f"{remote.rpartition(':')[0]}@{digest}"
    say(f"pushed {remote} ({reference})")
    return reference


def repo_digest(registry: str | None, service: str, image_id: str) -> str | None:
    """`host:port/<service>@sha256:…` once the image was pushed to `registry`, else None."""
    if not registry:
        return None
    info: images.ImageInfo | None = images.image(image_id)
    wanted = f"{registry.rstrip('/')}/{service}@"
    return next((str(r) for r in (info.repo_digests if info else ()) if r.startswith(wanted)), None)
