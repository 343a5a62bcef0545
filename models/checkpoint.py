"""Checkpoints: safetensors weights + a JSON manifest, and resumable training state.

Shipped weights are ``<dir>/<name>.safetensors`` next to ``<dir>/<name>.json`` (config,
metrics, seed, data sha256, git commit, package versions, file sha256). The loader checks
the file's sha256 against the manifest *before* reading it and never unpickles anything.
Epoch-resume state (optimizers, schedulers, RNG) uses ``torch.save`` written atomically
with a ``<file>.sha256`` beside it, and is read back with ``torch.load(weights_only=True)``
only after that sha256 matches.

Provenance: each manifest records the exact command line that wrote it (``command``), the
commit (``git_state``), whether tracked files differed from it (``git_dirty``) and, for a
dirty tree, the sha256 of that uncommitted diff (``git_diff_sha256``, see
:func:`models.common.provenance.git_state`), so a checkpoint shipped from a dirty tree
still names the exact source it came from.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from semsim.models.common.provenance import (
    atomic_write,
    atomic_write_text,
    command_line,
    git_state,
    package_versions,
    sha256_file,
)
from semsim.models.manifests import (
    CHECKPOINT_DIR,
    CheckpointError,
    check_checkpoint_name,
    read_manifest,
)

__all__ = [
    "CHECKPOINT_DIR",
    "CheckpointError",
    "load_checkpoint",
    "load_training_state",
    "read_manifest",
    "save_checkpoint",
    "save_training_state",
]

def _state(module: torch.nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    sd = module.state_dict() if isinstance(module, torch.nn.Module) else dict(module)
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save_checkpoint(
    directory: str | os.PathLike[str],
    name: str,
    modules: Mapping[str, torch.nn.Module | Mapping[str, torch.Tensor]],
    *,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    seed: int,
    data_sha256: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``<name>.safetensors`` (tensors keyed ``<module>.<param>``) and ``<name>.json``.

    Returns the manifest path. Both files are written atomically (temp name, then rename).
    """
    check_checkpoint_name(name)
    directory = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    for mod_name, module in modules.items():
        if "." in mod_name:
            raise ValueError(f"module name {mod_name!r} must not contain '.'")
        for key, value in _state(module).items():
            tensors[f"{mod_name}.{key}"] = value
    weights = directory / f"{name}.safetensors"
    git = git_state()
    atomic_write(weights, lambda tmp: save_file(tensors, tmp))
    manifest = {
        "name": name,
        "file": weights.name,
        "sha256": sha256_file(weights),
        "size_bytes": weights.stat().st_size,
        "modules": sorted(modules),
        "config": dict(config),
        "metrics": dict(metrics),
        "seed": int(seed),
        "data_sha256": dict(data_sha256),
        "git_state": git["commit"],
        "git_dirty": git["dirty"],
        "git_diff_sha256": git["diff_sha256"],
        "command": command_line(),
        "package_versions": package_versions(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **({"extra": dict(extra)} if extra else {}),
    }
    man_path = directory / f"{name}.json"
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(man_path, lambda tmp: Path(tmp).write_text(text))
    return man_path


def load_checkpoint(
    directory: str | os.PathLike[str],
    name: str,
    modules: Mapping[str, torch.nn.Module],
    *,
    expect_config: Mapping[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Verify and load checkpoint ``name`` into ``modules`` (strict); returns the manifest.

    Order: manifest exists -> config matches ``expect_config`` -> weights file exists ->
    sha256 matches the manifest -> safetensors load -> ``load_state_dict(strict=True)``.
    """
    directory = Path(directory)
    manifest = read_manifest(directory, name)
    for key, want in (expect_config or {}).items():
        got = manifest["config"].get(key, "<absent>")
        if got != want:
            raise CheckpointError(
                f"checkpoint {name!r} was trained with config {key}={got!r}, "
                f"but {want!r} was requested; retrain or pick another checkpoint"
            )
    weights = directory / manifest["file"]
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights {weights} missing (manifest present)")
    digest = sha256_file(weights)
    if digest != manifest["sha256"]:
        raise CheckpointError(
            f"checkpoint weights {weights} have sha256 {digest}, manifest says "
            f"{manifest['sha256']}: refusing to load a modified file"
        )
    tensors = load_file(str(weights), device=str(map_location))
    missing = set(modules) - set(manifest["modules"])
    if missing:
        raise CheckpointError(f"checkpoint {name!r} has no module(s) {sorted(missing)}")
    for mod_name, module in modules.items():
        prefix = f"{mod_name}."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"checkpoint {name!r} module {mod_name!r} does not fit the network: {exc}"
            ) from exc
    return manifest


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_training_state(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Atomically save epoch-resume state (state dicts, epoch, RNG tensors) with torch.save,
    then its sha256 in ``<path>.sha256``."""
    path = Path(path)
    atomic_write(path, lambda tmp: torch.save(dict(state), tmp))
    atomic_write_text(_sidecar(path), sha256_file(path) + "\n")


def load_training_state(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Resume state saved by :func:`save_training_state`, or None if there is none.

    Raises :class:`CheckpointError` when ``<path>.sha256`` is missing or does not match
    (the file is never unpickled; ``weights_only`` loading only after the check)."""
    path = Path(path)
    if not path.is_file():
        return None
    side = _sidecar(path)
    want = side.read_text().strip() if side.is_file() else None
    if want != sha256_file(path):
        raise CheckpointError(
            f"training state {path} does not match its sha256 file {side.name} "
            f"({'missing' if want is None else 'differs'}): delete it to start that step "
            "over (or rerun with --no-resume)")
    return torch.load(path, map_location="cpu", weights_only=True)
