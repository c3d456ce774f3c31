"""`runner build SERVICE`: a pipeline.yml service's build and image (helper of commands/build.py)."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys

from runner.codebuild.phases import SUCCEEDED
from runner.codepipeline.service_build import ServiceBuildResult, build_service
from runner.commands._build_common import overrides, report
from runner.core import config_loader
from runner.errors import EXIT_FAILED, EXIT_OK, RunnerError, UsageError
from runner.output import print_json, say
from runner.paths import runner_home
from runner.store import open_store
from runner.terminal import build_view

# pipeline.yml decides these for a service.
_PLAIN_ONLY = (
    ("-s", "source"),
    ("-b", "buildspec"),
    ("-i", "image"),
    ("-a", "artifacts"),
    ("-r", "reports"),
    ("-m", "mount"),
    ("-d", "privileged"),
    ("--secrets", "secrets"),
    ("--project", "project"),
)


def run_service(args: argparse.Namespace) -> int:
    given = [flag for flag, name in _PLAIN_ONLY if getattr(args, name)]
    if given:
        raise UsageError(f"{', '.join(given)}: not with a service (pipeline.yml sets it)")
    path = config_loader.find()
    if path is None:
        raise UsageError(f"no pipeline.yml in this directory or above: cannot build service {args.service!r}")
    cfg = config_loader.load(path)
    if args.aws:
        cfg = dataclasses.replace(cfg, aws=args.aws)
    store = open_store(runner_home(cfg.root))
    with build_view(sys.stderr if args.json else sys.stdout) as show:
        result = build_service(
            cfg,
            args.service,
            store,
            commit=args.commit,
            no_cache=args.no_cache,
            initiator=getpass.getuser(),
            show=show,
            overrides=overrides(args),
            timeout_min=args.timeout,
            memory=args.memory,
        )
    _print(result, args.json)
    if result.error:
        raise RunnerError(result.error)
    return EXIT_OK if result.status == SUCCEEDED and result.image else EXIT_FAILED


def _print(result: ServiceBuildResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_json())
        return
    if result.build is not None:
        report(result.build, False)
    if result.image is not None:
        state = "reused" if result.image.reused else "built"
        say(f"image {result.image.tag} {result.image.id[:19]} ({state})")
