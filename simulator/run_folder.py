"""Run folders: what one run leaves on disk besides its trace parts.

``config.yaml`` (the resolved scenario) and ``run.json`` (run id, seed, command, git state,
package versions) describe the run; ``replicas/rNNN.json`` marks replica NNN complete
(written last, after its trace parts and event log); :class:`RunResult` is what a replica
returns to its caller.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from semsim.models.common.provenance import (
    atomic_write_text,
    command_line,
    git_state,
    package_versions,
)
from semsim.simulator.scenario import Scenario, scenario_to_dict

__all__ = ["RunResult", "new_run_id", "write_replica_marker", "write_run_metadata"]


@dataclass
class RunResult:
    """Outcome of one replica of a scenario."""

    run_dir: Path
    run_id: str
    replica: int
    seed: int
    num_packets: int
    num_rows: int
    parts: list[Path]
    sim_time_s: float
    wall_s: float
    received: dict[str, int]
    events: list[tuple[float, str, str, int]] | None = field(default=None, repr=False)

    @property
    def receiver_packets_per_s(self) -> float:
        """Trace rows (receiver-packets) per wall-clock second."""
        return self.num_rows / self.wall_s if self.wall_s > 0 else math.inf


def new_run_id(scenario: Scenario, seed: int) -> str:
    """``<scenario>-<UTC yyyymmdd-HHMMSS>-s<seed>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{scenario.name}-{stamp}-s{seed}"


def write_run_metadata(run_dir: Path, scenario: Scenario, run_id: str, seed: int) -> None:
    """Write ``config.yaml`` (the resolved scenario) and ``run.json`` (id, seed, command,
    git state, package versions) into ``run_dir``."""
    atomic_write_text(run_dir / "config.yaml",
                      yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False))
    meta = {
        "run_id": run_id,
        "scenario": scenario.name,
        "seed": seed,
        "replicas": scenario.run.replicas,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "git": git_state(),
        "versions": package_versions(),
        "trace_dtypes_doc": "docs/traces.md",
    }
    atomic_write_text(run_dir / "run.json", json.dumps(meta, indent=2))


def write_replica_marker(run_dir: Path, replica: int, info: dict,
                         events: list | None = None) -> None:
    """Write replica ``replica``'s event log (when kept) and then its marker
    ``replicas/rNNN.json``: a marker means the replica's trace parts are complete."""
    if events is not None:
        atomic_write_text(run_dir / "events" / f"r{replica:03d}.jsonl",
                          "".join(json.dumps(list(e)) + "\n" for e in events))
    atomic_write_text(run_dir / "replicas" / f"r{replica:03d}.json",
                      json.dumps(info, indent=2))
