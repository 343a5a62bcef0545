"""Shared pytest setup: single-threaded torch (CI has 2 cores) and data availability."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir():
    """The real dataset directory, or skip when it is not on this machine."""
    from semsim.models.data import DatasetError, resolve_data_dir

    try:
        path = resolve_data_dir()
    except DatasetError as exc:
        pytest.skip(str(exc))
    if not (path / "mnist").is_dir():
        pytest.skip(f"no MNIST under {path}")
    return path
