"""AWS's documented event samples (tests/event_samples/, copied from AWS's docs), and a check
that an event we produce has their shape: the same envelope, every documented detail key
with a value of the same JSON type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "event_samples"
FILES = {
    "CodeBuild Build State Change": "codebuild-build-state-change.json",
    "CodeBuild Build Phase Change": "codebuild-build-phase-change.json",
    "CodePipeline Pipeline Execution State Change": "codepipeline-pipeline-execution-state-change.json",
    "CodePipeline Stage Execution State Change": "codepipeline-stage-execution-state-change.json",
    "CodePipeline Action Execution State Change": "codepipeline-action-execution-state-change.json",
    "CodeDeploy Deployment State-change Notification": "codedeploy-deployment-state-change-notification.json",
}


def sample(detail_type: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / FILES[detail_type]).read_text()))


def assert_shape(event: dict[str, Any]) -> None:
    documented = sample(event["detail-type"])
    assert sorted(event) == sorted(documented), f"envelope keys differ: {sorted(event)}"
    assert event["source"] == documented["source"]
    assert len(event["account"]) == 12 and event["time"].endswith("Z")
    _same_shape(event["detail"], documented["detail"], "detail")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same_shape(value: Any, documented: Any, path: str) -> None:
    assert _kind(value) == _kind(documented), f"{path}: {_kind(value)} where AWS has {_kind(documented)}"
    if isinstance(documented, dict):
        missing = sorted(set(documented) - set(value))
        assert not missing, f"{path}: missing {missing}"
        for key, inner in documented.items():
            _same_shape(value[key], inner, f"{path}.{key}")
    elif isinstance(documented, list) and documented and all(isinstance(d, dict) for d in documented):
        for index, item in enumerate(value):
            closest = max(documented, key=lambda d: len(set(d) & set(item)) - len(set(d) - set(item)))
            _same_shape(item, closest, f"{path}[{index}]")
