"""Evaluation of the stego link: the slides' table, Bob's quality, and an example grid.

For ``num_pairs`` reproducible (private, host) test pairs at one SNR:

- Bob: private-image PSNR / SSIM / MS-SSIM with steganography (reveal) and with plain
  DeepJSCC (the private image sent openly over the same channel);
- Eve, naive (public DeepJSCC decoder) and MIA (her inversion network), on what she hears
  of the stego container, scored against the private and against the host image; and on
  plain DeepJSCC, scored against the private image (the "no security" row).

SSIM: Gaussian window 7, sigma 1.5. MS-SSIM: 3 scales (28/14/7 or 32/16/8 pixels) with the
first three standard weights renormalised (``models.metrics``). LPIPS is not reported: its
backbone weights cannot be obtained offline here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from semsim.models.data import ImageSet, load_dataset
from semsim.models.evaluation import EvalResult
from semsim.models.metrics import ms_ssim, psnr, ssim
from semsim.models.stego.config import SETTINGS, StegoSetting, draw_pairs, stego_checkpoint_name
from semsim.models.stego.jscc import DeepJSCC, apply_channel, complex_to_real, real_to_complex
from semsim.models.stego.system import StegoSystem

__all__ = ["StegoEval", "collect", "evaluate_jscc", "evaluate_link", "run_eval", "score",
           "test_pairs"]

_MS_SCALES = 3


@torch.no_grad()
def evaluate_jscc(
    model: DeepJSCC, data: ImageSet, snr_db: float, seed: int = 1234, batch: int = 1000
) -> dict[str, float]:
    """Mean PSNR / SSIM of plain DeepJSCC on ``data`` over AWGN at ``snr_db``."""
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    p, s = [], []
    for i in range(0, len(data), batch):
        x = data.images[i : i + batch].to(dev)
        y = model(x, snr_db, "awgn", gen)
        p.append(psnr(y, x).cpu())
        s.append(ssim(y, x).cpu())
    return {"psnr_db": float(torch.cat(p).mean()), "ssim": float(torch.cat(s).mean())}


def test_pairs(
    s: StegoSetting, num_pairs: int, seed: int, data_dir: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reproducible (private, host) test images, each (num_pairs, C, H, W)."""
    priv = load_dataset(s.private, "test", data_dir).images
    host = priv if s.host == s.private else load_dataset(s.host, "test", data_dir).images
    gen = torch.Generator().manual_seed(seed)
    n = min(num_pairs, len(priv))
    pi, hi = draw_pairs(len(priv), len(host), n, gen, s.host == s.private)
    return priv[pi], host[hi]


@torch.no_grad()
def collect(
    system: StegoSystem,
    private: torch.Tensor,
    host: torch.Tensor,
    snr_db: float,
    eve_snr_db: float | None = None,
    channel: str = "awgn",
    seed: int = 0,
    batch: int = 500,
) -> dict[str, torch.Tensor]:
    """All reconstructions for (private, host) pairs; each value (N, C, H, W) on the CPU.

    Bob and Eve hear the same transmission through independent channels (Eve at
    ``eve_snr_db``, default ``snr_db``). Keys: bob, plain_bob, eve_naive, eve_mia (if the
    system has an inversion net), plain_eve_naive, plain_eve_mia.
    """
    eve_snr = snr_db if eve_snr_db is None else eve_snr_db
    g_bob = torch.Generator().manual_seed(seed)
    g_eve = torch.Generator().manual_seed(seed + 1)
    dev = next(system.parameters()).device
    out: dict[str, list[torch.Tensor]] = {}

    def hear(symbols: torch.Tensor, snr: float, gen: torch.Generator) -> torch.Tensor:
        return real_to_complex(apply_channel(complex_to_real(symbols), snr, channel, gen))

    for i in range(0, len(private), batch):
        xp, xh = private[i : i + batch].to(dev), host[i : i + batch].to(dev)
        tx = system.hide(xp, xh)
        plain = system.encode(xp)
        rec = {
            "bob": system.reveal(hear(tx, snr_db, g_bob)),
            "plain_bob": system.decode(hear(plain, snr_db, g_bob)),
        }
        y_eve, y_eve_plain = hear(tx, eve_snr, g_eve), hear(plain, eve_snr, g_eve)
        rec["eve_naive"] = system.naive(y_eve)
        rec["plain_eve_naive"] = system.naive(y_eve_plain)
        if system.inversion is not None:
            rec["eve_mia"] = system.mia(y_eve)
            rec["plain_eve_mia"] = system.mia(y_eve_plain)
        for key, val in rec.items():
            out.setdefault(key, []).append(val.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def score(x: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB), SSIM and MS-SSIM (3 scales) of images ``x`` against ``ref``."""
    return {
        "psnr_db": round(float(psnr(x, ref).mean()), 4),
        "ssim": round(float(ssim(x, ref).mean()), 4),
        "ms_ssim": round(float(ms_ssim(x, ref, num_scales=_MS_SCALES).mean()), 4),
    }


def evaluate_link(
    system: StegoSystem,
    s: StegoSetting,
    snr_db: float = 15.0,
    num_pairs: int = 2000,
    eve_snr_db: float | None = None,
    channel: str = "awgn",
    data_dir: str | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Flat metric dict ``<who>/<against>/<metric>`` on reproducible test pairs."""
    xp, xh = test_pairs(s, num_pairs, seed, data_dir)
    rec = collect(system, xp, xh, snr_db, eve_snr_db, channel, seed)
    rows = {
        "bob_stego/private": (rec["bob"], xp),
        "bob_plain/private": (rec["plain_bob"], xp),
        "eve_naive_stego/private": (rec["eve_naive"], xp),
        "eve_naive_stego/host": (rec["eve_naive"], xh),
        "eve_naive_plain/private": (rec["plain_eve_naive"], xp),
    }
    if "eve_mia" in rec:
        rows |= {
            "eve_mia_stego/private": (rec["eve_mia"], xp),
            "eve_mia_stego/host": (rec["eve_mia"], xh),
            "eve_mia_plain/private": (rec["plain_eve_mia"], xp),
        }
    metrics: dict[str, float] = {"snr_db": snr_db, "num_pairs": len(xp)}
    for key, (x, ref) in rows.items():
        for m, v in score(x, ref).items():
            metrics[f"{key}/{m}"] = v
    return metrics


@dataclass(frozen=True)
class StegoEval:
    """What one ``semsim eval stego`` computes (the argument of :func:`run_eval`).

    ``names``: explicit stego checkpoint names (override ``lambda3s``); Bob and Eve hear
    ``channel`` at ``snr_db`` (Eve at ``eve_snr_db`` when given) on ``num_pairs`` test
    pairs; ``sweep_snrs_db``: the SNR sweep (1000 pairs at most); ``device``: a resolved
    torch device string."""

    setting: str = "mnist-in-fashion"
    lambda3s: tuple[float, ...] = (2.0,)
    names: tuple[str, ...] | None = None
    snr_db: float = 15.0
    num_pairs: int = 2000
    eve_snr_db: float | None = None
    channel: str = "awgn"
    sweep_snrs_db: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    checkpoint_dir: str | None = None
    data_dir: str | None = None
    device: str = "cpu"
    seed: int = 0


def run_eval(spec: StegoEval, log: Callable[[str], None] = print) -> EvalResult:
    """Evaluate shipped stego checkpoints; returns the data, writes nothing.

    Each checkpoint is reported under its name less the ``stego-<setting>-`` prefix.
    ``summary`` is the report (setting, snr_db, channel, and per run its ``metrics`` and
    ``snr_sweep``); ``images`` holds 8 example reconstructions per run (figure
    ``<run key>``).
    """
    from semsim.models.stego.loader import load_stego

    setting, snr_db, channel, seed = spec.setting, spec.snr_db, spec.channel, spec.seed
    num_pairs, eve_snr_db, data_dir = spec.num_pairs, spec.eve_snr_db, spec.data_dir
    s = SETTINGS[setting]
    result = EvalResult(summary={"setting": setting, "snr_db": snr_db, "channel": channel,
                                 "runs": {}})
    ckpts = spec.names or tuple(stego_checkpoint_name(setting, v) for v in spec.lambda3s)
    for name in ckpts:
        key = name.removeprefix(f"stego-{setting}-")
        system = load_stego(setting, spec.checkpoint_dir, spec.device, name=name)
        metrics = evaluate_link(system, s, snr_db, num_pairs, eve_snr_db, channel, data_dir, seed)
        sweep = {}
        for snr in spec.sweep_snrs_db:
            m = evaluate_link(system, s, snr, min(num_pairs, 1000), None, channel, data_dir, seed)
            sweep[f"{snr:g}"] = {
                k: v for k, v in m.items() if k.startswith(("bob_", "eve_naive_stego"))
            }
        result.summary["runs"][key] = {"metrics": metrics, "snr_sweep": sweep}
        log(f"[{key}] {channel} {snr_db:g} dB: Bob stego PSNR "
            f"{metrics['bob_stego/private/psnr_db']:.2f} dB")
        xp, xh = test_pairs(s, 8, seed, data_dir)
        rec = collect(system, xp, xh, snr_db, eve_snr_db, channel, seed)
        cols = {
            "private": xp,
            "host": xh,
            "Bob (stego)": rec["bob"],
            "Bob (plain)": rec["plain_bob"],
            "Eve naive": rec["eve_naive"],
        }
        if "eve_mia" in rec:
            cols["Eve MIA"] = rec["eve_mia"]
        cols["Eve naive, plain"] = rec["plain_eve_naive"]
        result.images[key] = cols
    return result
