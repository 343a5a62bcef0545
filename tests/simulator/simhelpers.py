"""Plain helpers shared by the simulator tests (imported by name: no package here)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

TRACES_DOC = Path(__file__).resolve().parents[2] / "docs" / "traces.md"

BASE = {
    "name": "t",
    "run": {"num_packets": 50, "seed": 7},
    "link": {"carrier_hz": 2.4e9, "bandwidth_hz": 10.0e6, "tx_power_dbm": 10.0,
             "noise_figure_db": 7.0},
    "propagation": {"exponent": 3.0, "shadowing_std_db": 0.0},
    "alice": {"mobility": {"kind": "static", "position_m": [0.0, 0.0]},
              "traffic": {"kind": "periodic", "interval_s": 1.0e-3}},
    "bob": {"mobility": {"kind": "static", "position_m": [40.0, 0.0]},
            "channel": {"fading": "rayleigh", "coherence_s": 5.0e-3,
                        "environment_doppler_hz": 10.0},
            "estimator": {"kind": "pilot_ls", "num_pilots": 8, "feedback_delay_s": 2.5e-3}},
    "eves": [
        {"name": "eve0", "mobility": {"kind": "static", "position_m": [50.0, 20.0]}},
        {"name": "eve1", "mobility": {"kind": "constant_velocity", "position_m": [0.0, 30.0],
                                      "speed_mps": 1.5, "heading_deg": 0.0}},
    ],
    "codec": {"name": "reference", "device": "cpu"},
    "source": {"kind": "synthetic", "options": {"image_size": 8}},
}


def merge(base: dict, patch: dict) -> dict:
    """Deep-merge ``patch`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_scenario(path: Path, patch: dict) -> Path:
    """``BASE`` deep-merged with ``patch``, written as YAML to ``path``; returns ``path``."""
    import yaml

    path.write_text(yaml.safe_dump(merge(BASE, patch)))
    return path


def diffsem_data(patch: dict | None = None) -> dict:
    """``BASE`` with the DiffSem codec on CPU and 200 MNIST test images, 10 packets, then
    ``patch`` (deep-merged)."""
    data = merge(BASE, {"run": {"num_packets": 10},
                        "codec": {"name": "diffsem", "device": "cpu"}})
    data["source"] = {"kind": "dataset", "options": {"name": "mnist", "limit": 200}}
    return merge(data, patch or {})


def documented_types(codec: str = "Reference codec") -> dict[str, str]:
    """column -> type from docs/traces.md: the fixed columns plus the table of ``codec``
    (the table that follows the paragraph starting with that text)."""
    out, keep = {}, False
    for line in TRACES_DOC.read_text().splitlines():
        if line.startswith("## "):
            keep = line.startswith("## Fixed columns")
        elif line and not line.startswith("|"):
            keep = line.startswith(codec)
        m = re.match(r"\| `([a-z_0-9]+)` \| (string|int32|int64|float64|bool) \|", line)
        if m and keep:
            out[m.group(1)] = m.group(2)
    return out


def assert_same_trace(one, many, tmp_path: Path, exact: bool = False) -> None:
    """Run every replica of two scenarios under the same run id (into ``tmp_path`` / "one"
    and "many") and assert their Parquet traces are equal (to float32 precision unless
    ``exact``: every value equal): for options that may only change speed, not results."""
    import pandas as pd

    from semsim.simulator.engine import run_replicas

    for sc, d in ((one, "one"), (many, "many")):
        run_replicas(sc, tmp_path / d, run_id="x")
    a, b = (pd.read_parquet(tmp_path / d / "traces") for d in ("one", "many"))
    if exact:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-4, atol=1e-4)
