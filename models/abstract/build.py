"""Build and write one abstraction table with its manifest (what ``semsim calibrate`` runs).

The manifest names everything the table came from: the codec configuration, the sha256 of
every checkpoint whose networks produced it, the dataset files' sha256, the calibration
images (the first N of the split), the grid, the draws, the seed and the exact command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from semsim.models.abstract.table import TABLE_DIR, CalibrationError, save_table, table_name
from semsim.models.common.provenance import command_line, git_state, package_versions

__all__ = ["DEFAULT_GRID", "build_diffsem_table", "parse_grid"]

#: default effective-SNR grid (dB): 1 dB where DiffSem's outcomes change, coarser where they
#: saturate, down to -100 dB (deep fades of long runs); ``max`` is the largest effective
#: SNR reachable at the t* (nothing beyond it)
DEFAULT_GRID = "-100,-80,-60,-50,-40:-30:5,-27,-24:6:1,8:14:2,17,20,24,28,32,max"


def parse_grid(spec: str, top_db: float) -> np.ndarray:
    """``a:b:step`` ranges (b included), single values and ``max`` (``top_db``), comma
    separated -> sorted unique grid (G,) in dB; CalibrationError for malformed text, fewer than
    two points, or points above ``top_db``."""
    pts: list[float] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        try:
            if item == "max":
                pts.append(top_db)
            elif ":" in item:
                a, b, step = (float(x) for x in item.split(":"))
                if step <= 0 or b < a:
                    raise ValueError
                pts.extend(np.arange(a, b + step / 2, step).tolist())
            else:
                pts.append(float(item))
        except ValueError:
            raise CalibrationError(f"--grid-db: bad item {item!r} (use a:b:step, a number or "
                             "max)") from None
    grid = np.unique(np.asarray(pts, dtype=np.float64))
    grid = grid[np.concatenate([[True], np.diff(grid) > 1e-9])]  # float steps of a:b:step
    if grid.size < 2 or not np.all(np.isfinite(grid)):
        raise CalibrationError(f"--grid-db {spec!r}: need at least two finite points")
    if grid[-1] > top_db + 1e-6:
        raise CalibrationError(f"--grid-db {spec!r}: {grid[-1]:g} dB is above {top_db:.2f} dB, "
                         "the largest effective SNR any receiver can reach at this t*")
    return np.minimum(grid, top_db)


def build_diffsem_table(*, dataset: str, tstar: int, receiver: str, images: int, draws: int,
                        grid: str, seed: int, attackers: Sequence[str] | None = None,
                        out_dir: str | os.PathLike[str] | None = None,
                        work_dir: str | os.PathLike[str] | None = None,
                        checkpoint_dir: str | None = None, data_dir: str | None = None,
                        device: str = "cpu", batch: int = 256,
                        progress: Callable[[str], None] | None = None) -> Path:
    """Calibrate DiffSem (``diffsem-<dataset>`` at ``tstar`` with ``receiver``) on the first
    ``images`` test images, ``draws`` noise draws per grid point; returns the manifest path
    (``<out_dir>/diffsem-<dataset>-t<tstar>-<receiver>.json``)."""
    import torch

    from semsim.models.abstract.diffsem_calibration import calibrate_diffsem, max_grid_db
    from semsim.models.data import dataset_sha256, load_dataset
    from semsim.models.diffsem import load_diffsem
    from semsim.models.diffsem.checkpoints import checkpoint_names, direct_attacker_name
    from semsim.models.diffsem.config import ATTACKERS

    if images < 1 or draws < 1:
        raise CalibrationError("--images and --draws must be >= 1")
    loaded = load_diffsem(dataset, checkpoint_dir, device=device, with_baselines=False)
    cfg = loaded.config
    if not 0 <= tstar < cfg.T:
        raise CalibrationError(f"--tstar {tstar}: must be in 0..{cfg.T - 1}")
    abar = loaded.system.schedule.abar.numpy()
    grid_db = parse_grid(grid, max_grid_db(abar, tstar))
    names = tuple(attackers) if attackers else tuple(
        a for a in ATTACKERS if a != "direct" or loaded.direct is not None)
    data = load_dataset(dataset, "test", data_dir)
    if images > len(data):
        raise CalibrationError(f"--images {images}: the test split has {len(data)}")
    x = data.images[:images].to(device)
    labels = data.labels[:images].numpy()
    t0 = time.monotonic()
    arrays = calibrate_diffsem(loaded, x, labels, tstar=tstar, grid_db=grid_db, draws=draws,
                               attackers=names, receiver=receiver, seed=seed,
                               work_dir=work_dir, batch=batch, progress=progress)
    shas = {checkpoint_names(dataset)[0]: loaded.manifest["sha256"]}
    if "direct" in names:
        from semsim.models.manifests import CHECKPOINT_DIR, read_manifest

        dname = direct_attacker_name(dataset)
        shas[dname] = read_manifest(checkpoint_dir or CHECKPOINT_DIR, dname)["sha256"]
    manifest = {
        "codec": "diffsem", "dataset": dataset, "tstar": int(tstar), "receiver": receiver,
        "attackers": list(names),
        "inversions": list(dict.fromkeys(a.split("_")[0] for a in names if a != "direct")),
        "axis": "effective SNR (dB) of the rescaled features: 10 log10(abar_t* / "
                "(1 - abar_t' + P_s / SNR))",
        "grid_db": grid_db.tolist(), "grid_spec": grid, "draws": int(draws), "seed": int(seed),
        "images": {"dataset": dataset, "split": "test", "first": int(images),
                   "data_sha256": dataset_sha256(dataset, data_dir)},
        "checkpoints_sha256": shas, "T": int(cfg.T), "snr_train_db": list(cfg.snr_train_db),
        "device": str(device), "torch_threads": torch.get_num_threads(),
        "elapsed_s": round(time.monotonic() - t0, 1), "command": command_line(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": git_state(), "package_versions": package_versions(),
    }
    out = Path(out_dir) if out_dir else TABLE_DIR
    return save_table(out, table_name("diffsem", dataset, tstar, receiver), arrays, manifest)
