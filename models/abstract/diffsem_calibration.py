"""Calibrate DiffSem's abstraction table from the shipped networks (torch, CPU or GPU).

What a DiffSem receiver decodes depends on the channel only through the effective SNR of
its rescaled features (:func:`~semsim.models.abstract.table.effective_snr_db`): Bob and
every attacker rescale by the header's P_s and see y = sqrt(abar_t*) x0 + Gaussian noise
of variance (1 - abar_t') + P_s / SNR; t' enters nowhere else (receivers start the reverse
process at t*). So one grid over the effective SNR per t* covers every (t', SNR) pair.

For each grid point and draw m, every calibration image goes through the codec's own verbs
(``send`` with t' = 0, channel noise for the rest of the variance, ``decode_bob``,
``attack``): Bob and the attackers get independent channel noise. Each (grid point, draw)
is seeded by name (its value, not its index) and saved on its own, so an interrupted or
widened calibration resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from semsim.models.common.seeds import torch_seed
from semsim.models.common.units import db_to_lin, lin_to_db

__all__ = ["calibrate_diffsem", "max_grid_db"]


def max_grid_db(abar: np.ndarray, tstar: int) -> float:
    """Largest effective SNR (dB) any receiver can reach at ``tstar``: channel noise 0 and
    t' = 0 (the least self-noise), 10 log10(abar_t* / (1 - abar_0))."""
    return float(lin_to_db(abar[int(tstar)] / (1.0 - abar[0])))


def _key(g_db: float) -> str:
    """Name of a grid point's stream and file: by value, so adding grid points never
    changes the others (and a resumed calibration with a wider grid reuses them)."""
    return f"snr{g_db:+.3f}dB"


def _cell(loaded, x0, images, tstar: int, g_db: float, attackers: Sequence[str],
          receiver: str, seed: int, m: int, batch: int) -> dict[str, np.ndarray]:
    """Outcomes of every image at grid point ``g_db``, draw ``m``: arrays (N, ...)."""
    import torch

    from semsim.models.metrics import psnr, ssim

    system = loaded.system
    abar = system.schedule.abar.numpy()
    gen = torch.Generator().manual_seed(torch_seed(seed, "calibrate", _key(g_db), f"draw{m}"))
    n = x0.shape[0]
    p = abar[tstar] + 1.0 - abar[0]
    channel_var = abar[tstar] / db_to_lin(g_db) - (1.0 - abar[0])  # rescaled units
    std = float(np.sqrt(max(channel_var, 0.0) / p))  # at unit-power scaling
    inversions = list(dict.fromkeys(a.split("_")[0] for a in attackers if a != "direct"))
    out = {"bob_pred": np.zeros(n, np.uint8), "bob_passes": np.zeros(n, np.uint8),
           "eve_pred": np.zeros((n, len(attackers)), np.uint8),
           "eve_psnr_db": np.zeros((n, len(inversions)), np.float32),
           "eve_ssim": np.zeros((n, len(inversions)), np.float32)}
    for start in range(0, n, batch):
        sl = slice(start, min(n, start + batch))
        b = sl.stop - sl.start
        ts = torch.full((b,), tstar, dtype=torch.long)
        sym, hdr = system.send(x0[sl], torch.full((b,), -100.0), gen,
                                 tstar=ts)  # SNR estimate -100 dB: t' = 0
        hdr = {"tstar": ts, "tprime": torch.zeros(b, dtype=torch.long)}
        y_bob = sym + std * torch.randn(sym.shape, generator=gen)
        y_eve = sym + std * torch.randn(sym.shape, generator=gen)
        heard = system.decode_bob(y_bob, hdr, method=receiver)
        out["bob_pred"][sl] = heard["logits"].argmax(1).numpy()
        if "passes" in heard:
            out["bob_passes"][sl] = heard["passes"].numpy()
        att = system.attack(y_eve, hdr, tuple(attackers), direct=loaded.direct)
        for j, a in enumerate(attackers):
            out["eve_pred"][sl, j] = att[f"logits_{a}"].argmax(1).numpy()
        for j, inv in enumerate(inversions):
            out["eve_psnr_db"][sl, j] = psnr(att[f"images_{inv}"], images[sl]).numpy()
            out["eve_ssim"][sl, j] = ssim(att[f"images_{inv}"], images[sl]).numpy()
    return out


def calibrate_diffsem(loaded, images, labels, *, tstar: int, grid_db: Sequence[float],
                      draws: int, attackers: Sequence[str], receiver: str, seed: int,
                      work_dir: str | Path | None = None, batch: int = 256,
                      progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """The table arrays for images (N, C, H, W) with labels (N,): ``grid_db`` (G,),
    ``labels`` (N,), ``abar`` (T,), ``bob_pred`` / ``bob_passes`` (G, N, M) uint8,
    ``eve_pred`` (G, N, M, A) uint8 (A = len(attackers)), ``eve_psnr_db`` / ``eve_ssim``
    (G, N, M, I) float32 (I: the inversions the attackers use, in order). ``work_dir``:
    per-(grid point, draw) results kept there and reused (resume)."""
    import torch

    system = loaded.system
    abar = system.schedule.abar.numpy().astype(np.float64)
    grid = np.asarray(grid_db, dtype=np.float64)
    top = max_grid_db(abar, tstar)
    if grid.size < 2 or np.any(np.diff(grid) <= 0) or grid[-1] > top:
        raise ValueError(f"grid_db must hold >= 2 increasing values <= {top:.2f} dB (the "
                         f"largest effective SNR at t* = {tstar})")
    with torch.no_grad():
        x0 = system.prepare(images)
    cells = []
    work = Path(work_dir) if work_dir is not None else None
    for gi, g in enumerate(grid):
        per_draw = []
        for m in range(draws):
            part = None if work is None else work / f"{_key(float(g))}-draw{m}.npz"
            if part is not None and part.is_file():
                with np.load(part, allow_pickle=False) as d:
                    res = {k: d[k] for k in d.files}
            else:
                res = _cell(loaded, x0, images, tstar, float(g), attackers, receiver, seed,
                            m, batch)
                if part is not None:
                    part.parent.mkdir(parents=True, exist_ok=True)
                    tmp = part.with_suffix(".tmp.npz")
                    np.savez(tmp, **res)
                    tmp.replace(part)
            per_draw.append(res)
        cells.append({k: np.stack([d[k] for d in per_draw], axis=1) for k in per_draw[0]})
        if progress is not None:
            acc = float((cells[-1]["bob_pred"] == np.asarray(labels)[:, None]).mean())
            progress(f"grid point {gi + 1}/{len(grid)}: {g:+.2f} dB, Bob accuracy {acc:.3f}")
    out = {k: np.stack([c[k] for c in cells]) for k in cells[0]}
    return {"grid_db": grid, "labels": np.asarray(labels, dtype=np.int64), "abar": abar, **out}
