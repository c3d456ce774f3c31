"""runner: a local CodeBuild + CodePipeline + CodeDeploy on one Docker engine."""

__version__ = "0.1.0"
