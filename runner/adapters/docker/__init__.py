"""The Docker engine: the one package that imports the docker SDK (lazily, in client).

client (the SDK client, error translation, labels), engine_api (the engine's HTTP API on
the local socket, for a fresh process's first calls), images, runs (one-shot containers),
containers (the living ones: list, inspect, logs, exec, kill, remove) and networks; remote
(other engines by URL), ssh (ssh:// engines) and transfer (images between engines). Imports
only runner.errors and the adapters' own records. The SDK's optional paramiko is deferred here.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any


class _DeferredParamiko(types.ModuleType):
    """paramiko, imported at its first use. With runner[ssh] installed, `import docker` imports it
    (the SDK's ssh transport does at its top) although only ssh:// engines use it: ~80 ms more on
    every command that talks to an engine. This stand-in answers the import; the first attribute
    asked of it (paramiko.SSHClient when an ssh:// client is made) imports the real package."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("paramiko") is self:
            del sys.modules["paramiko"]  # so that this import runs the real package
        import paramiko

        return getattr(paramiko, name)


def _defer_paramiko() -> None:
    if "paramiko" in sys.modules or "docker" in sys.modules:
        return
    spec = importlib.util.find_spec("paramiko")
    if spec is not None:  # the ssh extra is installed
        stand_in = _DeferredParamiko("paramiko")
        stand_in.__spec__ = spec  # what the import statement checks (never its attributes)
        sys.modules["paramiko"] = stand_in


_defer_paramiko()
