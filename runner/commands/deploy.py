"""`runner deploy ENV SERVICE IMAGE_REF`: a CodeDeploy-style blue/green deployment of one image."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "deploy",
        help="deploy an immutable image of a service to an environment (blue/green)",
        description="IMAGE_REF: <service>:<sha12>[-dirty-<hash8>] (never latest), sha256:<id>, "
        "<registry>/<service>@sha256:<digest>, or an imagedefinitions.json / imageDetail.json file.",
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("image", metavar="IMAGE_REF")
    add_strategy(parser)
    parser.add_argument("--no-wait", action="store_true", help="return without the termination wait")
    parser.add_argument("--json", action="store_true", help="print the deployment as JSON")
    parser.set_defaults(func=run)


def add_strategy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy",
        help="AllAtOnce, CodeDeployDefault.ECSCanary10Percent5Minutes, ECSLinear10PercentEvery1Minutes, "
        "canary:PERCENT:WAIT or linear:PERCENT:EVERY (default: the environment's)",
    )


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import deploy
    from runner.commands._project import load_project
    from runner.images.tags import resolve
    from runner.output import say
    from runner.store import open_store

    config, store = load_project(), open_store()
    image = resolve(args.image, store)
    result = deploy(
        config,
        store,
        args.environment,
        args.service,
        image,
        strategy=args.strategy,
        say=say,
        wait_termination=not args.no_wait,
    )
    return report(result, args.json)


def report(result: Any, as_json: bool) -> int:
    from runner.output import print_json

    if as_json:
        print_json(result.as_json())
    else:
        extra = f" (rolled back: {result.rollback_deployment})" if result.rolled_back else ""
        print(f"{result.id} {result.kind} {result.service} → {result.environment}: {result.status}{extra}")
        if result.reason:
            print(f"  {result.reason}")
    return 0 if result.status == "Succeeded" else 1
