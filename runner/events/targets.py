"""Rule targets: run a command, POST to a webhook, or show a desktop notification.

Each `send` either returns (delivered), raises Skipped (nothing to deliver to: no
notify-send here), or raises DeliveryFailed with a one-line reason (retried later).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.events.rules import Target
from runner.events.shapes import summary_line

COMMAND_TIMEOUT_S = 30.0
WEBHOOK_TIMEOUT_S = 5.0
DESKTOP_TIMEOUT_S = 5.0
DEBUG_ENV = "RUNNER_DEBUG"


class DeliveryFailed(Exception):
    """The target did not take the event (a reason on one line)."""


class Skipped(Exception):
    """There is nothing to deliver to on this machine."""


def send(target: Target, event: Mapping[str, Any], rule: str, cwd: Path | None = None) -> None:
    if target.kind == "command":
        _command(target.value, event, rule, cwd)
    elif target.kind == "webhook":
        _webhook(target.value, target.format, event)
    else:
        _desktop(event)


# ---------------------------------------------------------------- command


def variables(event: Mapping[str, Any], rule: str) -> dict[str, str]:
    """RUNNER_EVENT_* for a command: the envelope, and each top-level scalar of the detail
    (`build-status` → RUNNER_EVENT_DETAIL_BUILD_STATUS)."""
    values = {
        "RUNNER_EVENT_ID": str(event["id"]),
        "RUNNER_EVENT_DETAIL_TYPE": str(event["detail-type"]),
        "RUNNER_EVENT_SOURCE": str(event["source"]),
        "RUNNER_EVENT_TIME": str(event["time"]),
        "RUNNER_EVENT_ACCOUNT": str(event["account"]),
        "RUNNER_EVENT_REGION": str(event["region"]),
        "RUNNER_EVENT_RESOURCES": " ".join(event.get("resources") or []),
        "RUNNER_EVENT_RULE": rule,
        "RUNNER_EVENT_SUMMARY": summary_line(event),
    }
    for key, value in (event.get("detail") or {}).items():
        if isinstance(value, str | int | float | bool):
            name = "RUNNER_EVENT_DETAIL_" + re.sub(r"[^A-Za-z0-9]+", "_", key).upper().strip("_")
            values[name] = json.dumps(value) if isinstance(value, bool) else str(value)
    return values


def _command(command: str, event: Mapping[str, Any], rule: str, cwd: Path | None) -> None:
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=json.dumps(event).encode(),
            env=os.environ | variables(event, rule),
            cwd=cwd,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        raise DeliveryFailed(f"the command ran longer than {COMMAND_TIMEOUT_S:.0f}s") from e
    except OSError as e:
        raise DeliveryFailed(f"the command could not start: {e}") from e
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise DeliveryFailed(
            f"the command exited {done.returncode}" + (f": {said[-1][:200]}" if said else "")
        )


# ---------------------------------------------------------------- webhook


def _webhook(url: str, body_format: str, event: Mapping[str, Any]) -> None:
    body = {"text": summary_line(event)} if body_format == "slack" else event
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "runner-events"},
        method="POST",
    )
    try:
        with _opener(url).open(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            response.read(65536)
    except urllib.error.HTTPError as e:
        raise DeliveryFailed(f"the webhook answered {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryFailed(f"the webhook did not answer: {reason}") from e


def _opener(url: str) -> urllib.request.OpenerDirector:
    """The environment's proxies, except for a loopback address (never proxied)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    handlers = [urllib.request.ProxyHandler({})] if loopback else []
    return urllib.request.build_opener(*handlers)


# ---------------------------------------------------------------- desktop


def _desktop(event: Mapping[str, Any]) -> None:
    program = shutil.which("notify-send")
    if program is None:
        if os.environ.get(DEBUG_ENV):
            print(
                "runner: debug: desktop notification skipped: notify-send is not installed", file=sys.stderr
            )
        raise Skipped("notify-send is not installed")
    title = f"runner: {event['detail-type']}"
    try:
        done = subprocess.run(
            [program, "--app-name=runner", title, summary_line(event)],
            capture_output=True,
            timeout=DESKTOP_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DeliveryFailed(f"notify-send failed: {e}") from e
    if done.returncode != 0:
        raise DeliveryFailed(
            f"notify-send exited {done.returncode}: {done.stderr.decode(errors='replace')[:200]}"
        )
