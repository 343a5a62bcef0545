"""What every ``run_eval`` of the model families returns: data, never files or figures.

The command layer (``semsim.simulator.commands``) writes the tables (CSV + Parquet), the
summary (JSON), renders Markdown and draws the figures from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EvalResult"]


@dataclass
class EvalResult:
    """``summary``: JSON-able headline numbers; ``tables``: table name -> rows (one dict
    per row, the same keys in every row); ``images``: figure name -> columns of example
    images, column title -> tensor (N, C, H, W) in [0, 1] on the CPU."""

    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
