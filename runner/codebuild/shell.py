"""The script each phase container runs, and the markers it prints (pure).

CodeBuild runs every command of a build in one shell instance (CODEBUILD.md
decision 1). We run each phase in a fresh container, so the script restores the
shell state saved by the previous phase (variables, exported or not, functions in
bash, `set` options, working directory) and saves it again when the shell exits,
from an EXIT trap, so even `exit` or `set -e` in a command leaves a state behind.
Secret variables (parameter-store, secrets-manager) are injected again in every phase,
so the state leaves out each one the build did not change: no secret value is ever
written to disk. Every state file is 0600, given to the next phase's run-as user.

Each command is written to its own file and dot-sourced: a syntax error in one
command cannot swallow the next, and the command runs in the phase's one shell.
Markers on stdout (prefixed by an ASCII record separator and a per-build nonce)
tell the runner when each command starts and ends, so it can print CodeBuild's
`Running command …` lines with the right timestamps.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from runner.core.secrets import MASK

MARK = "\x1e"
COMMANDS, FINALLY = "c", "f"
STATE_FILES = ("vars.sh", "exports.sh", "options.sh", "cwd", "exported")


@dataclass(frozen=True, slots=True)
class Item:
    """One command of a phase: from `commands` (section c) or `finally` (section f)."""

    section: str
    index: int
    path: str  # where the command's file is, inside the container


@dataclass(frozen=True, slots=True)
class StateSaving:
    """How a phase saves its shell state: the secret variables to leave out when unchanged,
    the run-as user of the next phase (when another than this one's), the runner's uid."""

    secrets: tuple[str, ...] = ()
    reader: str | None = None
    host_uid: int = 0


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # S (start), E (end), X (shell exit)
    section: str = ""
    index: int = -1
    status: int = 0


def shell_binary(shell: str) -> str:
    return "/bin/bash" if shell == "bash" else "/bin/sh"


def phase_script(
    shell: str,
    items: Sequence[Item],
    state_in: str | None,
    state_out: str,
    start_dir: str,
    nonce: str,
    refreshed: dict[str, str],
    exported: Sequence[str] = (),
    saving: StateSaving | None = None,
) -> str:
    """The text of one phase's script. `refreshed` are runner-owned variables
    (CODEBUILD_BUILD_SUCCEEDING) whose new values win over the restored state."""
    mark = f"printf '\\036{nonce}:%s\\n'"
    saving = saving or StateSaving()
    secrets = [name for name in saving.secrets if name.isidentifier() and name.isascii()]
    lines = [
        "exec 2>&1 </dev/null",
        f'__rn_mark() {{ {mark} "$*"; }}',
        f"__rn_save() {{ {_save_state(shell, state_out, exported, secrets, saving)}; }}",
        "trap '__rn_st=$?; __rn_save; __rn_mark X:$__rn_st' EXIT",
        # The injected values, before the restore: in memory only, to tell at exit which
        # secrets the build left as they came.
        *(f'__rn_s_{name}="${{{name}-}}"' for name in secrets),
        *restore_lines(shell, state_in, start_dir),
        *(f"export {name}={shlex.quote(value)}" for name, value in refreshed.items()),
        "__rn_ok=1; __rn_fok=1",
    ]
    for item in items:
        flag = "__rn_ok" if item.section == COMMANDS else "__rn_fok"
        lines.append(
            f'if [ "${flag}" = 1 ]; then __rn_mark S:{item.section}:{item.index}; '
            f". {shlex.quote(item.path)}; __rn_st=$?; __rn_mark E:{item.section}:{item.index}:$__rn_st; "
            f"[ $__rn_st -eq 0 ] || {flag}=0; fi"
        )
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def restore_lines(shell: str, state_in: str | None, start_dir: str) -> list[str]:
    if state_in is None:
        return [f"cd {shlex.quote(start_dir)}"]
    d = shlex.quote(state_in)
    # cd first so the restored PWD/OLDPWD are the ones the last phase left.
    lines = [
        f'cd "$(cat {d}/cwd 2>/dev/null || echo {shlex.quote(start_dir)})" 2>/dev/null '
        f"|| cd {shlex.quote(start_dir)}",
        "__rn_ppid=$PPID",
        # Read-only variables (PPID, EUID …) cannot be set again: their errors are noise.
        f"[ -f {d}/vars.sh ] && . {d}/vars.sh 2>/dev/null",
        f"[ -f {d}/exports.sh ] && . {d}/exports.sh 2>/dev/null",
    ]
    if shell != "bash":
        lines.append("PPID=$__rn_ppid")  # dash lets the restore overwrite it
    lines.append(f"[ -f {d}/options.sh ] && . {d}/options.sh 2>/dev/null")
    lines.append("true")
    return lines


def _save_state(
    shell: str, state_out: str, exported: Sequence[str], secrets: Sequence[str], saving: StateSaving
) -> str:
    d = shlex.quote(state_out)
    # A secret the build left as it came is left out (unset: the shell is ending anyway);
    # __rn_u_NAME remembers it for exported-variables, which shows it masked, as --json does.
    drop = "".join(
        f'if [ -n "${{{n}+x}}" ] && [ "${n}" = "$__rn_s_{n}" ]; then unset {n} 2>/dev/null; '
        f"__rn_u_{n}=1; fi; unset __rn_s_{n}; "
        for n in secrets
    )
    # env/exported-variables: NAME NUL VALUE NUL for each one that is set.
    masked = {n: f"if [ -n \"${{__rn_u_{n}+x}}\" ]; then printf '{n}\\000{MASK}\\000'; el" for n in secrets}
    picks = "".join(
        masked.get(name, "")
        + f'if [ -n "${{{name}+x}}" ]; then printf \'{name}\\000%s\\000\' "${name}"; fi; '
        for name in exported
    )
    forget = "".join(f"unset __rn_u_{n}; " for n in secrets)
    if shell == "bash":
        variables = f"declare -p > {d}/vars.sh; declare -f | sed '/^__rn_/,/^}}/d' >> {d}/vars.sh"
        options = f"{{ set +o; shopt -p; }} > {d}/options.sh"
    else:
        variables = f"set > {d}/vars.sh"
        options = f"set +o > {d}/options.sh"
    return (
        # Files 0600 from the start (umask); the directory lets others reach only the files
        # given to them below.
        f"umask 077; mkdir -p {d} && chmod 0711 {d}; {drop}{{ {picks}true; }} > {d}/exported; {forget}"
        f"{variables}; export -p > {d}/exports.sh; {options}; pwd > {d}/cwd; "
        f"{_hand_over(d, saving)}true"
    )


def _hand_over(d: str, saving: StateSaving) -> str:
    """Give the state files to who reads them next: the next phase's run-as user (root
    reads them anyway) and, for `exported`, the runner on the host. Only root may chown:
    a build with two different unprivileged run-as users has its state files 0644
    instead (they never hold an unchanged secret)."""
    parts = []
    if saving.reader:
        files = " ".join(f"{d}/{name}" for name in STATE_FILES if name != "exported")
        reader = shlex.quote(saving.reader)
        parts.append(
            f'if [ "$(id -un 2>/dev/null)" != {reader} ]; then '
            f"chown {reader} {files} 2>/dev/null || chmod 0644 {files}; fi; "
        )
    if saving.host_uid:
        parts.append(
            f'if [ "$(id -u)" != {saving.host_uid} ]; then '
            f"chown {saving.host_uid} {d}/exported 2>/dev/null || chmod 0644 {d}/exported; fi; "
        )
    return "".join(parts)


def parse_marker(payload: str) -> Marker | None:
    """`S:c:0`, `E:c:0:1`, `X:0` → Marker; anything else → None."""
    if payload.startswith("X:"):
        status = payload[2:]
        return Marker("X", status=int(status)) if status.lstrip("-").isdigit() else None
    parts = payload.split(":")
    if len(parts) == 3 and parts[0] == "S" and parts[1] in (COMMANDS, FINALLY) and parts[2].isdigit():
        return Marker("S", parts[1], int(parts[2]))
    if (
        len(parts) == 4
        and parts[0] == "E"
        and parts[1] in (COMMANDS, FINALLY)
        and parts[2].isdigit()
        and parts[3].lstrip("-").isdigit()
    ):
        return Marker("E", parts[1], int(parts[2]), int(parts[3]))
    return None


class MarkerSplitter:
    """Splits a container's byte stream into log lines and markers.

    A marker may follow output that did not end with a newline: that partial line
    is flushed as a line of its own, as the command printed it.
    """

    def __init__(self, nonce: str) -> None:
        self.prefix = f"{MARK}{nonce}:"
        self.buffer = ""

    def feed(self, text: str) -> list[str | Marker]:
        self.buffer += text
        out: list[str | Marker] = []
        while True:
            newline = self.buffer.find("\n")
            mark = self.buffer.find(self.prefix)
            if mark != -1 and (newline == -1 or mark < newline):
                if mark > 0:
                    out.append(self.buffer[:mark])
                end = self.buffer.find("\n", mark)
                if end == -1:
                    self.buffer = self.buffer[mark:]
                    return out
                marker = parse_marker(self.buffer[mark + len(self.prefix) : end])
                out.append(marker if marker is not None else self.buffer[mark:end])
                self.buffer = self.buffer[end + 1 :]
            elif newline != -1:
                out.append(self.buffer[:newline])
                self.buffer = self.buffer[newline + 1 :]
            else:
                # Keep a partial line until its end arrives, unless it is huge.
                if len(self.buffer) > 64 * 1024:
                    out.append(self.buffer)
                    self.buffer = ""
                return out

    def flush(self) -> list[str | Marker]:
        rest, self.buffer = self.buffer, ""
        return [rest] if rest else []


def read_exported(data: bytes) -> dict[str, str]:
    """The `exported` state file: NAME NUL VALUE NUL …"""
    parts = data.decode("utf-8", "replace").split("\0")
    return dict(zip(parts[0:-1:2], parts[1::2], strict=False))
