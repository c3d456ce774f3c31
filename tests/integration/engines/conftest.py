"""The engine tests' fixtures: the second Docker engine (tests/integration/second_engine.py)."""

from tests.integration.second_engine import second_engine

__all__ = ["second_engine"]
