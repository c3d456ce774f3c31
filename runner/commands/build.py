"""`runner build`: run a buildspec the way CodeBuild does (flags compatible with codebuild_build.sh)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.codebuild.phases import SUCCEEDED
from runner.commands._build_common import overrides, report
from runner.errors import EXIT_FAILED, EXIT_OK, UsageError
from runner.localaws.mode import MODES
from runner.paths import runner_home

if TYPE_CHECKING:  # the engine's modules are imported when a build runs, not for --help
    from runner.codebuild.build import BuildRequest


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "build",
        help="run a build (buildspec phases in fresh containers)",
        description="Run a CodeBuild buildspec locally. Flags follow AWS's codebuild_build.sh.",
    )
    parser.add_argument("service", nargs="?", help="a service of pipeline.yml (else: a plain build)")
    parser.add_argument(
        "-s",
        dest="source",
        action="append",
        metavar="DIR | ID:DIR",
        help="source directory (default: current directory); repeat as -s ID:DIR for secondary sources",
    )
    parser.add_argument("-b", dest="buildspec", help="buildspec file (default: SOURCE/buildspec.yml)")
    parser.add_argument(
        "-i", dest="image", help="build image (default: runner/standard:bookworm, the standard image)"
    )
    parser.add_argument("-a", dest="artifacts", help="write artifacts to this directory")
    parser.add_argument("-r", dest="reports", help="write test reports to this directory")
    parser.add_argument("-e", dest="env_file", help="file of NAME=VALUE overrides")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="override a variable"
    )
    parser.add_argument("-m", dest="mount", action="store_true", help="mount the sources, don't copy")
    parser.add_argument(
        "-d",
        "--privileged",
        dest="privileged",
        action="store_true",
        help="privileged build container with the Docker socket",
    )
    parser.add_argument("--secrets", help="secrets file for parameter-store / secrets-manager")
    parser.add_argument("--timeout", type=float, metavar="MIN", help="build timeout (default: 60)")
    parser.add_argument("--memory", help="memory limit of build containers (e.g. 512m)")
    parser.add_argument("--project", help="project name (default: the source directory's name)")
    parser.add_argument("--region", help="AWS_REGION in the build (default: $AWS_REGION, else us-east-1)")
    parser.add_argument(
        "--aws",
        choices=MODES,
        default=None,
        help="local: AWS CLI calls go to a local AWS (moto) the runner starts; none (default): "
        "unchanged (RUNNER_AWS, pipeline.yml aws:)",
    )
    parser.add_argument(
        "-H",
        "--docker-host",
        dest="docker_host",
        metavar="URL|NAME",
        help="run the build on this Docker engine (a URL, or a name under engines: in pipeline.yml); "
        "default: DOCKER_HOST, else the local socket",
    )
    parser.add_argument("--no-cache", action="store_true", help="rebuild even if inputs are unchanged")
    parser.add_argument("--commit", metavar="SHA", help="with SERVICE: build this commit")
    parser.add_argument("--json", action="store_true", help="print the build result as JSON")
    _add_batch_flags(parser)
    parser.set_defaults(func=run)


def _add_batch_flags(parser: Any) -> None:
    """CodeBuild's start-build-batch; what CodeBuild keeps in the project are flags here."""
    batch = parser.add_argument_group("batch builds (the buildspec's batch section)")
    batch.add_argument("--batch", action="store_true", help="run the batch (start-build-batch)")
    batch.add_argument(
        "--jobs", type=int, metavar="N", help="tasks at once (default: build_parallelism or cores)"
    )
    batch.add_argument(
        "--combine-artifacts",
        action="store_true",
        help="also one artifact of every task: -a DIR/artifacts/<identifier>/ and DIR/artifacts.zip",
    )
    batch.add_argument("--batch-timeout", type=float, metavar="MIN", help="stop the whole batch after MIN")
    batch.add_argument("--max-builds", type=int, metavar="N", help="refuse a batch of more than N builds")


def run(args: argparse.Namespace) -> int:
    from runner.commands import _docker_host

    engine = _docker_host.choose(args.docker_host)
    if engine is not None and (args.service or args.batch):
        raise UsageError(
            "-H/--docker-host runs plain builds; a SERVICE or --batch build runs on this machine"
        )
    if args.service:
        if args.batch:
            raise UsageError("--batch runs a buildspec's batch; it does not take a SERVICE")
        from runner.commands._service_build import run_service

        return run_service(args)
    if args.commit:
        raise UsageError("--commit needs a SERVICE of pipeline.yml")
    request = plain_request(args)
    from runner.commands._batch_build import is_batch_only, run_batch_build

    if args.batch or is_batch_only(request.buildspec):
        if engine is not None:
            raise UsageError("-H/--docker-host runs plain builds, not a buildspec's batch")
        code = run_batch_build(args, request)
        if code is not None:
            return code
    from runner.codebuild.build import load_inputs, run_build
    from runner.store import open_store
    from runner.terminal import build_view

    load_inputs(request)  # a bad buildspec or secrets file is refused before the store exists
    executor = _docker_host.executor_for(engine, request.work_dir, request.image)
    if not executor.shares_files and request.aws_account:
        raise UsageError("--aws local needs an engine on this machine (its local AWS listens here)")
    store = open_store()
    with build_view(sys.stderr if args.json else sys.stdout) as show:
        result = run_build(request, store, show=show, executor=executor)
    if engine is not None:
        from runner.store.builds import note_result

        note_result(store, result.id, engine=engine.name)
    report(result, args.json)
    return EXIT_OK if result.status == SUCCEEDED else EXIT_FAILED


def plain_request(args: argparse.Namespace) -> BuildRequest:
    from runner.codebuild.build_control import make_request
    from runner.codebuild.secondary_sources import parse_sources
    from runner.localaws import mode

    source, secondary = parse_sources(args.source or [])
    return make_request(
        source,
        home=runner_home(),
        buildspec=Path(args.buildspec) if args.buildspec else None,
        image=args.image,
        project=args.project,
        artifacts_dir=Path(args.artifacts).resolve() if args.artifacts else None,
        reports_dir=Path(args.reports).resolve() if args.reports else None,
        overrides=overrides(args),
        mount_source=args.mount,
        privileged=args.privileged,
        secrets_file=Path(args.secrets) if args.secrets else None,
        timeout_min=args.timeout,
        region=args.region,
        memory=args.memory,
        secondary_sources=secondary,
        aws_account=mode.account(args.aws or mode.from_env()),
    )
