"""Run folders: what one run leaves on disk besides its trace parts, and its identity.

``config.yaml`` (the resolved scenario) and ``run.json`` (run id, seed, command, git state,
package versions, content hash) describe the run; ``replicas/rNNN.json`` marks replica NNN
complete (written last, after its trace parts and event log) and records each part's size,
so a truncated part is seen as unfinished; :class:`RunResult` is what a replica returns.

A run is identified by its content (:func:`run_identity`: the resolved scenario without
its speed-only keys, the seed, the codec checkpoints' sha256), hashed by
:func:`content_sha256`: a folder holding a run of other content is refused with an error
naming what changed (:func:`describe_change`), so a reused folder never mixes two runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import yaml

from semsim.models.common.provenance import (
    atomic_write_text,
    command_line,
    git_state,
    package_versions,
)
from semsim.simulator.codecs import CODECS
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import Scenario, scenario_to_dict

__all__ = ["SPEED_ONLY_KEYS", "RunResult", "check_identity", "content_sha256",
           "describe_change", "finished_parts", "new_run_id", "pending_replicas",
           "read_finished", "read_parts", "remove_stale_temps",
           "run_identity",
           "write_replica_marker", "write_run_metadata"]

#: scenario keys that change only how fast (or where) a run goes, never its trace rows:
#: left out of a run's identity, so a run may resume with another batch size or device
SPEED_ONLY_KEYS = ("description", "codec.device", "codec.decode_batch_packets",
                   "codec.encode_batch_packets", "codec.batch_replicas", "codec.decode_behind",
                   "codec.options.threads",
                   "run.lookahead_packets", "trace.part_rows")


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


def run_identity(scenario: Scenario, seed: int) -> dict:
    """What makes two runs the same experiment: the resolved scenario (seed set, speed-only
    keys dropped) and the sha256 of every checkpoint the codec loads (codec modules may
    define ``checkpoints(options) -> {name: sha256}``)."""
    data = scenario_to_dict(replace(scenario, run=replace(scenario.run, seed=int(seed))))
    for key in SPEED_ONLY_KEYS:
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    module = CODECS.module(scenario.codec.name)
    fingerprint = getattr(module, "checkpoints", None)
    checkpoints = fingerprint(scenario.codec.options) if fingerprint else {}
    return {"scenario": data, "checkpoints": checkpoints}


def content_sha256(identity: object) -> str:
    """sha256 of an identity's canonical JSON (sorted keys)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def describe_change(old: object, new: object, path: str = "", limit: int = 4) -> list[str]:
    """Up to ``limit`` lines ``path: old -> new`` where two identities differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(f"{sub}: {'added' if key not in old else 'removed'}")
            elif old[key] != new[key]:
                out += describe_change(old[key], new[key], sub, limit)
            if len(out) >= limit:
                return out[:limit]
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                out += describe_change(a, b, f"{path}[{i}]", limit)
        return out[:limit]

    def short(v: object) -> str:
        text = json.dumps(v, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    return [f"{path or '(root)'}: {short(old)} -> {short(new)}"]


def check_identity(meta_path: Path, identity: dict, what: str) -> None:
    """Refuse to reuse ``meta_path``'s folder (its JSON records ``content`` and
    ``content_sha256``) for other content; a missing file is a new folder."""
    if not meta_path.is_file():
        return
    try:
        old = json.loads(meta_path.read_text())
        old_sha, old_content = old["content_sha256"], old.get("content")
    except (OSError, ValueError, KeyError, TypeError):
        raise ScenarioError(str(meta_path), f"this {what} folder's metadata is damaged or "
                            "from an older semsim (no content hash); choose another folder"
                            ) from None
    if old_sha != content_sha256(identity):
        changes = describe_change(old_content, identity) if old_content else []
        raise ScenarioError(str(meta_path.parent), f"a different {what} already lives in this "
                            f"folder (changed: {'; '.join(changes) or 'content hash'}); "
                            "choose another id or folder")


def new_run_id(scenario: Scenario, seed: int) -> str:
    """``<scenario>-<first 10 hex of the run's content hash>``: rerunning the same command
    lands in the same folder and resumes it."""
    return f"{scenario.name}-{content_sha256(run_identity(scenario, seed))[:10]}"


def finished_parts(run_dir: Path, replica: int) -> list[Path] | None:
    """The trace parts of a finished replica (its marker exists and every part it lists
    exists with the recorded size), else None: a replica still running, cut off mid-write
    or with a truncated part is not finished (a rerun redoes it)."""
    marker = run_dir / "replicas" / f"r{replica:03d}.json"
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
        names = list(info["parts"])
        sizes = info.get("part_bytes", {})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    parts = [run_dir / "traces" / name for name in names]
    for f in parts:
        if not f.is_file() or (f.name in sizes and f.stat().st_size != sizes[f.name]):
            return None
    return parts


def pending_replicas(run_dir: Path, scenario: Scenario, seed: int) -> list[int]:
    """Replicas of ``scenario`` not finished in ``run_dir`` (all for a new folder), after
    refusing a folder that holds a run of other content."""
    check_identity(run_dir / "run.json", run_identity(scenario, seed), "run")
    return [r for r in range(scenario.run.replicas) if finished_parts(run_dir, r) is None]


def read_finished(run_dir: Path):
    """(trace rows of the finished replicas, their indices, replicas planned) of a run
    folder; unfinished replicas (a killed run) are left out. The plan is ``run.json``'s
    ``replicas``. Raises FileNotFoundError when nothing is finished and ScenarioError
    naming a damaged file."""

    meta_path = run_dir / "run.json"
    try:
        planned = int(json.loads(meta_path.read_text())["replicas"])
    except FileNotFoundError:
        raise FileNotFoundError(f"no run.json in {run_dir} (not a run folder)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(str(meta_path), f"damaged run.json ({exc})") from None
    finished = {r: parts for r in range(planned)
                if (parts := finished_parts(run_dir, r)) is not None}
    if not finished:
        raise FileNotFoundError(f"no finished replica in {run_dir} (0 of {planned})")
    return (read_parts([f for parts in finished.values() for f in parts]), sorted(finished),
            planned)


def read_parts(parts: Sequence[Path]):
    """The trace parts ``parts`` in one DataFrame; a damaged part is a ScenarioError naming
    it (rerunning the command that wrote it redoes its replica)."""
    import pandas as pd
    import pyarrow as pa

    frames = []
    for f in parts:
        try:
            frames.append(pd.read_parquet(f))
        except (OSError, pa.ArrowException) as exc:
            raise ScenarioError(str(f), f"damaged trace part ({exc}); rerun the same "
                                "command to redo its replica") from None
    return pd.concat(frames, ignore_index=True)


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete the hidden temp files (``.name.XXXX.tmp``) that writes cut short by a kill
    left in ``run_dir`` itself (``run.json``, ``config.yaml``; a sweep's ``sweep.json``) and
    its ``traces/``, ``replicas/`` and ``events/``; call only when no other process writes
    this folder. Returns what was removed."""
    gone = [f for sub in (".", "traces", "replicas", "events")
            for f in (run_dir / sub).glob(".*.tmp") if f.is_file()]
    for f in gone:
        f.unlink(missing_ok=True)
    return gone


def write_run_metadata(run_dir: Path, scenario: Scenario, run_id: str, seed: int) -> None:
    """Write ``config.yaml`` (the resolved scenario) and ``run.json`` (id, seed, command,
    git state, package versions, content and its hash) into ``run_dir``, after refusing a
    folder that holds a run of other content; a stale ``report/`` is removed."""
    identity = run_identity(scenario, seed)
    check_identity(run_dir / "run.json", identity, "run")
    shutil.rmtree(run_dir / "report", ignore_errors=True)
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
        "content_sha256": content_sha256(identity),
        "content": identity,
    }
    atomic_write_text(run_dir / "run.json", json.dumps(meta, indent=2))


def write_replica_marker(run_dir: Path, replica: int, info: dict,
                         events: list | None = None) -> None:
    """Write replica ``replica``'s event log (when kept) and then its marker
    ``replicas/rNNN.json`` (``info`` plus ``part_bytes``: the size of every part it lists):
    a marker means the replica's trace parts are complete."""
    traces = run_dir / "traces"
    info = {**info, "part_bytes": {n: (traces / n).stat().st_size for n in info["parts"]}}
    if events is not None:
        atomic_write_text(run_dir / "events" / f"r{replica:03d}.jsonl",
                          "".join(json.dumps(list(e)) + "\n" for e in events))
    atomic_write_text(run_dir / "replicas" / f"r{replica:03d}.json",
                      json.dumps(info, indent=2))
