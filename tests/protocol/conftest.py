"""Fixtures shared by the scoring engine's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import protocol
from protocol import Simulation

FIXED_NOW = 1_000_000.0
"""The time at which the reference scenarios run (seconds since the epoch)."""

SimulationFactory = Callable[..., Simulation]


@pytest.fixture
def make_simulation() -> SimulationFactory:
    """Build a simulation of a contract kind, with overrides, on a clock stopped at FIXED_NOW."""

    def make(kind: str, overrides: dict[str, Any] | None = None) -> Simulation:
        contract = protocol.create_contract(kind, overrides)
        return Simulation(contract, clock=lambda: FIXED_NOW)

    return make


@pytest.fixture
def example(make_simulation: SimulationFactory) -> Simulation:
    """An empty ``example`` community with default parameters."""
    return make_simulation("example")
