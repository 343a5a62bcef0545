"""Calibrate the stego abstraction table from the shipped networks (torch).

A stego receiver decodes the equalised container y = z_c + n with n of variance
(1/2) / SNR per real (unit-power complex symbols), with no side information: its outcome
depends on the private image, the host Alice drew and the true post-equalisation SNR. For
each of the first N private test images the table keeps H hosts (drawn by name from the
host split, the same for every grid point) and, per (SNR grid point, host), K channel
draws of Bob's, the naive attacker's and the MIA attacker's image-quality metrics; Bob and
the Eves get independent channel noise. Each (grid point, host draw) is seeded by name and
saved on its own (resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from semsim.models.abstract.table import TABLE_DIR, CalibrationError, save_table
from semsim.models.common.provenance import command_line, git_state, package_versions
from semsim.models.common.seeds import stream, torch_seed
from semsim.models.common.units import db_to_lin

__all__ = ["BOB_METRICS", "MIA_METRICS", "build_stego_table", "stego_table_name"]

#: per-row metrics of Bob and of Eve's naive attacker, and of her MIA attacker
BOB_METRICS = ("psnr_private_db", "ssim_private", "psnr_host_db", "ssim_host")
MIA_METRICS = ("mia_psnr_private_db", "mia_ssim_private", "mia_ssim_host")


def stego_table_name(checkpoint: str, host_split: str, l_hat: str) -> str:
    """File stem of a stego table, e.g. ``stego-mnist-in-fashion-lam3-2-test-zeros``."""
    return f"{checkpoint}-{host_split}-{l_hat}"


def _scores(out, private, host, metrics):
    from semsim.models.metrics import psnr, ssim

    fns = {"psnr_private_db": lambda: psnr(out, private),
           "ssim_private": lambda: ssim(out, private),
           "psnr_host_db": lambda: psnr(out, host), "ssim_host": lambda: ssim(out, host)}
    names = [m.removeprefix("mia_") for m in metrics]
    return np.stack([fns[m]().numpy() for m in names], -1).astype(np.float32)


def build_stego_table(*, setting: str, checkpoint: str | None, host_split: str, l_hat: str,
                      images: int, hosts: int, draws: int, grid_db: np.ndarray, seed: int,
                      out_dir=None, work_dir=None, checkpoint_dir: str | None = None,
                      data_dir: str | None = None, batch: int = 256,
                      progress: Callable[[str], None] | None = None) -> Path:
    """Calibrate and write ``<out_dir>/<stego_table_name>.npz/.json``; returns the manifest
    path. Arrays: ``grid_db`` (G,), ``labels`` (N,) private labels, ``host_index`` (N, H),
    ``bob`` / ``naive`` (G, N, H, K, 4) and ``mia`` (G, N, H, K, 3) float32 (columns
    :data:`BOB_METRICS` / :data:`MIA_METRICS`)."""
    import torch

    from semsim.models.data import dataset_sha256, load_dataset
    from semsim.models.manifests import CHECKPOINT_DIR, read_manifest
    from semsim.models.stego.loader import load_stego
    from semsim.models.stego.settings import SETTINGS, default_checkpoint

    if min(images, hosts, draws) < 1:
        raise CalibrationError("--images, --hosts and --draws must be >= 1")
    s = SETTINGS[setting]
    name = checkpoint or default_checkpoint(setting)
    system = load_stego(setting, checkpoint_dir, name=name)
    if system.inversion is None:
        raise CalibrationError(f"stego setting {setting!r}: the MIA checkpoint {s.mia!r} is "
                               "missing (the table calibrates both attackers)")
    system.l_hat_mode = l_hat
    priv = load_dataset(s.private, "test", data_dir)
    host_set = load_dataset(s.host, host_split, data_dir)
    if images > len(priv):
        raise CalibrationError(f"--images {images}: the {s.private} test split has {len(priv)}")
    x = priv.images[:images]
    host_index = stream(seed, 0, "calibrate", "hosts").integers(len(host_set), size=(images,
                                                                                     hosts))
    t0 = time.monotonic()
    with torch.no_grad():
        zc = [system.prepare(x, host_set.images[host_index[:, h]]) for h in range(hosts)]
    work = Path(work_dir) if work_dir is not None else None
    G, n = len(grid_db), images
    arr = {"bob": np.zeros((G, n, hosts, draws, 4), np.float32),
           "naive": np.zeros((G, n, hosts, draws, 4), np.float32),
           "mia": np.zeros((G, n, hosts, draws, 3), np.float32)}
    for gi, g in enumerate(grid_db):
        std = float(np.sqrt(0.5 / db_to_lin(g)))
        for h in range(hosts):
            key = f"snr{float(g):+.3f}dB"  # by value: adding grid points changes no other
            part = None if work is None else work / f"{key}-host{h}.npz"
            if part is not None and part.is_file():
                with np.load(part, allow_pickle=False) as d:
                    for k in arr:
                        arr[k][gi, :, h] = d[k]
                continue
            gen = torch.Generator().manual_seed(torch_seed(seed, "calibrate", key, f"host{h}"))
            host_img = host_set.images[host_index[:, h]]
            res = {k: np.zeros((n, draws, v.shape[-1]), np.float32) for k, v in arr.items()}
            for k in range(draws):
                for a in range(0, n, batch):
                    sl = slice(a, min(n, a + batch))
                    sym, _ = system.send(zc[h][sl])
                    yb = sym + std * torch.randn(sym.shape, generator=gen)
                    ye = sym + std * torch.randn(sym.shape, generator=gen)
                    bob = system.decode_bob(yb, generator=gen)["images"]
                    eve = system.decode_eve(ye)
                    p, hh = x[sl], host_img[sl]
                    res["bob"][sl, k] = _scores(bob, p, hh, BOB_METRICS)
                    res["naive"][sl, k] = _scores(eve["images"], p, hh, BOB_METRICS)
                    res["mia"][sl, k] = _scores(eve["mia"], p, hh, MIA_METRICS)
            for k in arr:
                arr[k][gi, :, h] = res[k]
            if part is not None:
                part.parent.mkdir(parents=True, exist_ok=True)
                tmp = part.with_suffix(".tmp.npz")
                np.savez(tmp, **res)
                tmp.replace(part)
        if progress is not None:
            ssim_of = {k: float(v[gi, ..., 1].mean()) for k, v in arr.items()}
            progress(f"grid point {gi + 1}/{G}: {g:+.2f} dB, SSIM to private: Bob "
                     f"{ssim_of['bob']:.3f}, naive {ssim_of['naive']:.3f}, MIA "
                     f"{ssim_of['mia']:.3f}")
    shas = {n_: read_manifest(checkpoint_dir or CHECKPOINT_DIR, n_)["sha256"]
            for n_ in (name, s.jscc, s.mia)}
    manifest = {
        "codec": "stego", "setting": setting, "checkpoint": name, "host_split": host_split,
        "l_hat": l_hat, "attackers": ["naive", "mia"], "axis": "true post-equalisation SNR "
        "(dB) of the container", "grid_db": [float(g) for g in grid_db], "hosts": int(hosts),
        "draws": int(draws), "seed": int(seed),
        "images": {"dataset": s.private, "split": "test", "first": int(images),
                   "data_sha256": dataset_sha256(s.private, data_dir)},
        "host_images": {"dataset": s.host, "split": host_split,
                        "data_sha256": dataset_sha256(s.host, data_dir)},
        "checkpoints_sha256": shas, "torch_threads": torch.get_num_threads(),
        "elapsed_s": round(time.monotonic() - t0, 1), "command": command_line(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": git_state(), "package_versions": package_versions()}
    arrays = {"grid_db": np.asarray(grid_db, np.float64),
              "labels": priv.labels[:images].numpy().astype(np.int64),
              "host_index": host_index.astype(np.int64), **arr}
    return save_table(Path(out_dir) if out_dir else TABLE_DIR,
                      stego_table_name(name, host_split, l_hat), arrays, manifest)
