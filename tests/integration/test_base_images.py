"""Base image recipes against the real engine."""

from __future__ import annotations

import pytest

from runner.errors import EngineError
from runner.images import base as base_images
from runner.images.base import Recipe

pytestmark = pytest.mark.docker


def test_a_failing_recipe_step_shows_what_it_said_last() -> None:
    broken = Recipe(
        "runner-test/broken:never",
        "a recipe whose step fails",
        base_images.BASE,
        "FROM {parent}\n"
        'RUN echo "==> installing nothing" && echo "E: Unable to locate package nope" && exit 100\n',
    )
    said: list[str] = []
    with pytest.raises(EngineError) as info:
        base_images._build(broken, "0", said.append)
    assert "returned a non-zero code: 100" in str(info.value)
    assert "E: Unable to locate package nope" in str(info.value)
    assert "  ==> installing nothing" in said

