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

import json
import os
from pathlib import Path

import torch

from semsim.models.data import load_dataset
from semsim.models.jscc import apply_channel, complex_to_real, real_to_complex
from semsim.models.metrics import ms_ssim, psnr, ssim
from semsim.models.stego import (
    SETTINGS,
    StegoSetting,
    StegoSystem,
    draw_pairs,
    load_stego,
    stego_checkpoint_name,
)

__all__ = ["collect", "evaluate_link", "format_table", "run_eval", "save_grid", "score"]

_MS_SCALES = 3


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


_TABLE_ROWS = (
    ("DeepJSCC, no security (private image)", "plain", "private"),
    ("Stego (private image)", "stego", "private"),
    ("Stego (host image)", "stego", "host"),
)


def format_table(metrics: dict[str, float], label: str = "") -> str:
    """Markdown table in the slides' layout (Eve: naive and MIA, MS-SSIM / SSIM / PSNR)."""
    head = (
        "| Eve sees | naive MS-SSIM | naive SSIM | naive PSNR | "
        "MIA MS-SSIM | MIA SSIM | MIA PSNR |\n|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for title, kind, ref in _TABLE_ROWS:
        cells = []
        for attack in ("naive", "mia"):
            for m in ("ms_ssim", "ssim", "psnr_db"):
                v = metrics.get(f"eve_{attack}_{kind}/{ref}/{m}")
                cells.append("n/a" if v is None else f"{v:.3f}" if m != "psnr_db" else f"{v:.2f}")
        lines.append(f"| {title}{label} | " + " | ".join(cells) + " |")
    bob = (
        "\n\n| Bob, private image | PSNR (dB) | SSIM | MS-SSIM |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {t} | {metrics[f'bob_{k}/private/psnr_db']:.2f} | "
            f"{metrics[f'bob_{k}/private/ssim']:.3f} | {metrics[f'bob_{k}/private/ms_ssim']:.3f} |"
            for t, k in (("plain DeepJSCC", "plain"), (f"stego{label}", "stego"))
        )
    )
    return head + "\n".join(lines) + bob + "\n"


def save_grid(
    path: str | os.PathLike[str],
    columns: dict[str, torch.Tensor],
    num: int = 8,
    title: str = "",
) -> Path:
    """PNG grid: one row per example, one column per entry of ``columns`` (N, C, H, W)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(columns)
    fig, axes = plt.subplots(num, len(names), figsize=(1.4 * len(names), 1.4 * num + 0.4))
    for j, name in enumerate(names):
        for i in range(num):
            ax = axes[i, j]
            img = columns[name][i].clamp(0, 1).permute(1, 2, 0).numpy()
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_eval(
    setting: str = "mnist-in-fashion",
    lambda3s: tuple[float, ...] = (2.0,),
    snr_db: float = 15.0,
    num_pairs: int = 2000,
    eve_snr_db: float | None = None,
    channel: str = "awgn",
    sweep_snrs_db: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0),
    out_dir: str | os.PathLike[str] = "results/eval/stego",
    figure_dir: str | os.PathLike[str] | None = None,
    checkpoint_dir: str | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    seed: int = 0,
    names: tuple[str, ...] | None = None,
) -> dict:
    """Evaluate shipped checkpoints; writes metrics JSON, a Markdown table and figures.

    ``names``: explicit stego checkpoint names (override ``lambda3s``); each is reported
    under its name less the ``stego-<setting>-`` prefix. Returns the report.
    """
    s = SETTINGS[setting]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = Path(figure_dir) if figure_dir is not None else out
    report: dict = {"setting": setting, "snr_db": snr_db, "channel": channel, "runs": {}}
    tables = []
    sfx = "" if channel == "awgn" else f"-{channel}"
    ckpts = names or tuple(stego_checkpoint_name(setting, v) for v in lambda3s)
    for name in ckpts:
        key = name.removeprefix(f"stego-{setting}-")
        system = load_stego(setting, checkpoint_dir, device, name=name)
        metrics = evaluate_link(system, s, snr_db, num_pairs, eve_snr_db, channel, data_dir, seed)
        sweep = {}
        for snr in sweep_snrs_db:
            m = evaluate_link(system, s, snr, min(num_pairs, 1000), None, channel, data_dir, seed)
            sweep[f"{snr:g}"] = {
                k: v for k, v in m.items() if k.startswith(("bob_", "eve_naive_stego"))
            }
        report["runs"][key] = {"metrics": metrics, "snr_sweep": sweep}
        tables.append(f"### {setting}, {key}, {channel} {snr_db:g} dB\n\n" + format_table(metrics))
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
        grid = save_grid(
            figs / f"stego-{setting}-{key}{sfx}-grid.png",
            cols,
            title=f"{setting}, {key}, {channel} {snr_db:g} dB",
        )
        report["runs"][key]["grid"] = str(grid)
    _plot_sweep(report, figs / f"stego-{setting}-bob-vs-snr{sfx}.png")
    (out / f"stego-{setting}{sfx}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"stego-{setting}{sfx}.md").write_text("\n".join(tables))
    print("\n".join(tables))
    return report


def _plot_sweep(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    plain_done = False
    for key, run in report["runs"].items():
        snrs = [float(v) for v in run["snr_sweep"]]
        sweep = list(run["snr_sweep"].values())
        ax[0].plot(
            snrs, [m["bob_stego/private/psnr_db"] for m in sweep], "o-", label=f"stego {key}"
        )
        ax[1].plot(
            snrs, [m["eve_naive_stego/host/ssim"] for m in sweep], "o-", label=f"vs host {key}"
        )
        ax[1].plot(
            snrs,
            [m["eve_naive_stego/private/ssim"] for m in sweep],
            "x--",
            label=f"vs private {key}",
        )
        if not plain_done:
            ax[0].plot(
                snrs, [m["bob_plain/private/psnr_db"] for m in sweep], "s-k", label="plain DeepJSCC"
            )
            plain_done = True
    ax[0].set(xlabel="SNR (dB)", ylabel="Bob private PSNR (dB)", title="Bob")
    ax[1].set(xlabel="SNR (dB)", ylabel="SSIM", title="Eve, naive decoding", ylim=(0, 1))
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle(f"{report['setting']}, {report['channel']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
