"""One calibrated abstraction table: arrays in an ``.npz`` (no pickle) + a JSON manifest.

A table is indexed by grid cell g (effective SNR, dB, sorted), calibration image i (the
first N images of a split) and channel-noise draw m: each array is (G, N, M, ...) of the
outcomes the neural receivers produced there (e.g. Bob's predicted class, each attacker's,
each inversion's PSNR). The manifest records what it was built from (checkpoint sha256,
grid, images, draws, seed, command) and the table file's own sha256, checked on load.

Run time draws, per receiver row, one cell between the two grid points around its
effective SNR (the upper with probability equal to the fractional position: linear
interpolation of every outcome distribution in dB) and one draw m, and reads every outcome
of that (cell, image, draw) jointly, so the attackers of one Eve stay as correlated as on
the neural path and the same hard image lowers every receiver's chances together.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semsim.models.common.provenance import atomic_write_bytes, atomic_write_text, sha256_file
from semsim.models.common.units import db_to_lin, lin_to_db
from semsim.models.manifests import CHECKPOINT_DIR, CheckpointError

__all__ = ["TABLE_DIR", "AbstractTable", "CalibrationError", "OutOfRangeError", "cell_and_draw",
           "effective_snr_db", "load_table", "save_table", "select_tprime_np", "table_name"]

#: where shipped abstraction tables live
TABLE_DIR = CHECKPOINT_DIR / "abstract"


class CalibrationError(ValueError):
    """Bad calibration input (grid, sizes, options): one clear message, no traceback."""


class OutOfRangeError(ValueError):
    """A receiver's effective SNR lies outside the calibrated grid (never extrapolated)."""


def table_name(codec: str, dataset: str, tstar: int, receiver: str) -> str:
    """File stem of a table, e.g. ``diffsem-mnist-t180-ediffsem``."""
    return f"{codec}-{dataset}-t{int(tstar)}-{receiver}"


@dataclass(frozen=True)
class AbstractTable:
    """arrays: name -> numpy array (``grid_db`` (G,) and outcome arrays (G, N, M, ...));
    manifest: the JSON manifest (``grid_db``, ``images``, ``draws``, ``seed``, ...)."""

    arrays: dict[str, np.ndarray]
    manifest: dict[str, Any]

    @property
    def grid_db(self) -> np.ndarray:
        return self.arrays["grid_db"]

    @property
    def num_images(self) -> int:
        return int(self.arrays["labels"].shape[0])

    @property
    def num_draws(self) -> int:
        return int(self.manifest["draws"])


def save_table(directory: str | os.PathLike[str], name: str, arrays: dict[str, np.ndarray],
               manifest: dict[str, Any]) -> Path:
    """Write ``<name>.npz`` (compressed, numeric arrays only) and ``<name>.json`` (the
    manifest plus ``file`` and the npz's ``sha256``); returns the manifest path."""
    directory = Path(directory)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    npz = atomic_write_bytes(directory / f"{name}.npz", buf.getvalue())
    full = {**manifest, "name": name, "file": npz.name, "sha256": sha256_file(npz),
            "size_bytes": npz.stat().st_size}
    return atomic_write_text(directory / f"{name}.json", json.dumps(full, indent=1) + "\n")


def load_table(directory: str | os.PathLike[str], name: str) -> AbstractTable:
    """Read table ``name`` from ``directory``; :class:`CheckpointError` when the manifest is
    missing or damaged or the npz's sha256 differs from the manifest's (a damaged or
    replaced table is refused, never half-used)."""
    directory = Path(directory)
    path = directory / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"abstraction table {path} not found: build it with `semsim "
                              "calibrate` (see docs/abstraction.md)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"abstraction manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise CheckpointError(f"abstraction manifest {path} has no sha256: damaged")
    npz = directory / f"{name}.npz"  # never a path from the manifest
    if not npz.is_file():
        raise CheckpointError(f"abstraction table {npz} not found (manifest {path})")
    got = sha256_file(npz)
    if got != manifest["sha256"]:
        raise CheckpointError(f"abstraction table {npz}: sha256 {got[:12]}... differs from "
                              f"its manifest's {manifest['sha256'][:12]}...: the file is "
                              "damaged or was replaced; rebuild it with `semsim calibrate`")
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return AbstractTable(arrays, manifest)


def select_tprime_np(abar: np.ndarray, tstar: int, snr_db: np.ndarray) -> np.ndarray:
    """Eq. 24 in numpy (:func:`models.diffusion.select_tprime` is its torch form, which the
    tests hold it to; this one keeps torch out of the abstraction's run time): the largest t' with
    ``abar[t'] >= abar[t*] + 1 / (1 + SNR)``, else 0. abar (T,) float64, strictly
    decreasing; snr_db (...)."""
    rhs = abar[int(tstar)] + 1.0 / (1.0 + db_to_lin(np.asarray(snr_db, np.float64)))
    count = np.searchsorted(-abar, -rhs, side="right")  # #steps with abar >= rhs
    return np.maximum(count - 1, 0).astype(np.int64)


def effective_snr_db(abar: np.ndarray, tstar: int, tprime: np.ndarray, power: np.ndarray,
                     snr_db: np.ndarray) -> np.ndarray:
    """Effective SNR (dB) of the rescaled features a receiver decodes: y = sqrt(abar_t*) x0
    + noise of variance v = (1 - abar_t') + P_s / SNR (self-noise plus channel), so
    10 log10(abar_t* / v). Matched t' gives ESNR(t*) = 10 log10(abar_t* / (1 - abar_t*))."""
    v = (1.0 - abar[np.asarray(tprime)]) + np.asarray(power) / db_to_lin(snr_db)
    return lin_to_db(abar[int(tstar)] / v)


def cell_and_draw(grid_db: np.ndarray, x_db: np.ndarray, u: np.ndarray, num_draws: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the grid cell (G,) index and the draw index for effective SNR ``x_db`` (n,)
    given uniforms ``u`` (n, 2). The upper neighbour is taken with probability equal to the
    fractional position between grid points (linear interpolation in dB). Raises
    :class:`OutOfRangeError` (its ``args[1]``: the offending rows) outside [grid[0], grid[-1]]."""
    x = np.asarray(x_db, dtype=np.float64)
    bad = ~((x >= grid_db[0]) & (x <= grid_db[-1]))
    if bad.any():
        raise OutOfRangeError("effective SNR outside the calibrated grid", np.flatnonzero(bad))
    k = np.clip(np.searchsorted(grid_db, x, side="right") - 1, 0, len(grid_db) - 2)
    w = (x - grid_db[k]) / (grid_db[k + 1] - grid_db[k])
    cell = k + (u[:, 0] < w)
    draw = np.minimum((u[:, 1] * num_draws).astype(np.int64), num_draws - 1)
    return cell, draw
