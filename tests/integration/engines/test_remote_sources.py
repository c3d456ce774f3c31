"""tests/integration/test_build_sources.py again, on an engine that sees none of our files (remote.py)."""

import pytest

from tests.integration import test_build_sources as original
from tests.integration.engines.remote import on_the_second_engine, remote_images, rerun

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("on_the_second_engine")]
globals().update(rerun(original))
__all__ = ["on_the_second_engine", "remote_images"]
