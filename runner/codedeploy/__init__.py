"""Environments and deployments (CodeDeploy ECS blue/green on compose and nginx): the public API.

ImageRef(tag, id, repo_digest=None)  (runner/core/image_ref.py; images.tags.resolve reads deploy inputs)
deploy(config, store, environment, service, image, *, strategy=None, execution_id=None,
       source_dir=None, say=print, wait_termination=True) -> DeploymentResult
promote(config, store, service, from_env, to_env, *, strategy=None, say=print) -> DeploymentResult
rollback(config, store, environment, service=None, say=print) -> DeploymentResult
ensure_up(config, store, environment, say=print) -> UpResult
down(config, store, environment, say=print, force=False) -> None  (EnvironmentOwned: another project's)
live_images(store, environment) -> dict[str, ImageRef]
hook_network(config, store, environment) -> str | None  (the network that reaches its router as `router`)
status(config, store, environment=None) -> dict  (the `runner status --json` object)

May import spec, images, store and adapters; never codebuild, codepipeline, triggers or web.
"""

from runner.codedeploy.deployment import deploy, down, ensure_up, hook_network, live_images, promote
from runner.codedeploy.locks import EnvironmentBusy
from runner.codedeploy.model import DeploymentResult
from runner.codedeploy.ownership import EnvironmentOwned
from runner.codedeploy.rollback import rollback
from runner.codedeploy.stack import UpResult
from runner.codedeploy.status import status
from runner.core.image_ref import ImageRef

__all__ = [
    "DeploymentResult",
    "EnvironmentBusy",
    "EnvironmentOwned",
    "ImageRef",
    "UpResult",
    "deploy",
    "down",
    "ensure_up",
    "hook_network",
    "live_images",
    "promote",
    "rollback",
    "status",
]
