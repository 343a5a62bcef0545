"""Shared fixtures for the simulator tests."""

from __future__ import annotations

import pytest
from simhelpers import BASE, merge

from semsim.simulator.scenario import parse_scenario


@pytest.fixture
def make_scenario():
    """make_scenario(**patch) -> Scenario built from BASE deep-merged with patch."""

    def make(**patch):
        return parse_scenario(merge(BASE, patch))

    return make
