"""The local AWS process: `python -m runner.localaws.server STATE_DIR HOST` (runner.localaws.process).

One process holds everything, so the state is shared: moto's HTTP endpoint on 127.0.0.1
(the runner's own calls: seeding, reset), the proxy on HOST (the address build containers
reach), and, when Debian's docker-registry is installed, the ECR registry on a loopback
address. When everything listens it writes `ready.json` in STATE_DIR; SIGTERM ends it,
SIGHUP empties the registry (`runner aws reset`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from runner.localaws import ecr_registry, proxy
from runner.localaws.process import READY_FILE


def main(argv: list[str]) -> int:
    state_dir, host = Path(argv[0]), argv[1]
    os.environ["TEST_PROXY_MODE"] = "true"  # moto builds URLs (TemplateURL …) for proxy clients
    from moto.server import ThreadedMotoServer

    control = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    control.start()
    front = proxy.serve(host, 0)
    os.environ.setdefault("MOTO_PORT", str(front.server_address[1]))
    threading.Thread(target=front.serve_forever, daemon=True).start()
    registry = ecr_registry.Registry(state_dir / "registry")
    registry.start()
    _write_ready(state_dir, control.get_host_and_port()[1], host, int(front.server_address[1]), registry)
    _wait_for_signals(registry)
    registry.stop()
    return 0


def _write_ready(state: Path, control: int, host: str, port: int, registry: ecr_registry.Registry) -> None:
    ready = {
        "pid": os.getpid(),
        "account": os.environ.get("MOTO_ACCOUNT_ID", ""),
        "started": time.time(),
        "control_port": control,
        "proxy": f"{host}:{port}",
        "registry": registry.address,
        "registry_problem": registry.problem,
    }
    temp = state / f".{READY_FILE}.tmp"
    temp.write_text(json.dumps(ready))
    os.replace(temp, state / READY_FILE)


def _wait_for_signals(registry: ecr_registry.Registry) -> None:
    done = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        registry.empty()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    while not done.wait(1.0):
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
