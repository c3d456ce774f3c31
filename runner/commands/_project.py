"""Shared by project commands: find and load pipeline.yml."""

from __future__ import annotations

from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.errors import UsageError


def load_project() -> PipelineConfig:
    path = config_loader.find()
    if path is None:
        raise UsageError("no pipeline.yml here or in a parent directory (see README: pipeline.yml)")
    return config_loader.load(path)
