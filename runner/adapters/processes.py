"""Is a process still there? (stale locks, orphaned builds, interrupted executions)."""

from __future__ import annotations

import os
from pathlib import Path

# /proc's boot time has whole seconds: a process can look up to ~1 s younger than it is.
START_TOLERANCE_S = 2.0


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def started_at(pid: int) -> float | None:
    """When a process started (epoch seconds, from Linux /proc); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def still_running(pid: int | None, since: float) -> bool:
    """The process that recorded something at `since` is alive: not gone, and its pid not
    taken over by a process started later (after a crash, pids are reused)."""
    if not pid_alive(pid):
        return False
    assert pid is not None
    started = started_at(pid)
    return started is None or started <= since + START_TOLERANCE_S
