"""Command line: `main(argv) -> int`; one module per subcommand; one error handler."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import FrameType

from runner import __version__, commands
from runner.errors import EXIT_FAILED, EXIT_INTERRUPTED, RunnerError
from runner.store import db

# Commands that only read the store; every other command repairs what a crashed runner
# left (runner.recovery) when it opens the store, so a new command is safe by default.
READ_ONLY = {
    ("history", None),
    ("logs", None),
    ("metrics", None),
    ("status", None),
    ("validate", None),
    ("schema", None),
    ("pipeline", "status"),
    ("images", "list"),
    ("hook", "status"),
}


def command_modules() -> list[str]:
    """Every module in runner/commands is a subcommand (no central list to edit).

    Modules whose name starts with `_` are helpers. Keep heavy imports inside the
    command's run function: every invocation imports every command module.
    """
    import pkgutil

    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(names)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, when argv starts with a command's name, the parser of that one
    command only (importing the ~25 command modules costs tens of ms every invocation)."""
    parser = argparse.ArgumentParser(
        prog="runner",
        description="A local CodeBuild + CodePipeline + CodeDeploy on one Docker engine.",
    )
    parser.add_argument("--version", action="version", version=f"runner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    given = argv[0] if argv and argv[0].isidentifier() and not argv[0].startswith("_") else None
    if given is not None and Path(commands.__path__[0], f"{given}.py").is_file():
        names = [given]  # without listing the package (pkgutil alone costs ~3 ms)
    else:
        names = command_modules()
    for name in names:
        importlib.import_module(f"runner.commands.{name}").add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM is handled like Ctrl-C: clean up, then exit 130."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with _recovering(args):
            return int(args.func(args))
    except KeyboardInterrupt:
        print("runner: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RunnerError as e:
        print(f"runner: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as e:  # the last resort: a short line, the traceback in a file
        log = _write_crash_log()
        print(f"runner: internal error: {type(e).__name__}: {e} (traceback: {log})", file=sys.stderr)
        return EXIT_FAILED
    finally:
        _deliver_before_exit()


def _deliver_before_exit() -> None:
    """The state-change events still due go out now (bounded); the next command sends the rest."""
    delivery = sys.modules.get("runner.events.delivery")
    if delivery is None:  # nothing was attached (a read-only command): nothing to send
        return
    try:
        delivery.detach_all()
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: leave them to the next command


def _recovering(args: argparse.Namespace) -> AbstractContextManager[None]:
    if (args.command, getattr(args, "verb", None)) in READ_ONLY:
        return nullcontext()
    return _recover_on_open()


@contextmanager
def _recover_on_open() -> Iterator[None]:
    done: set[Path] = set()

    def repair(store: db.Store) -> None:
        if store.path not in done:  # once per store and command: one query, Docker only if needed
            done.add(store.path)
            from runner.codepipeline.recovery import recover
            from runner.events.delivery import attach

            attach(store)  # before recovery: what it repairs is announced too

            recover(store, lambda line: print(line, file=sys.stderr, flush=True))

    with db.on_open(repair):
        yield


def _write_crash_log() -> Path:
    import tempfile
    import traceback

    path = Path(tempfile.gettempdir()) / f"runner-crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
    path.write_text(traceback.format_exc())
    return path
