"""Figures of the model evaluations (matplotlib, Agg backend): the command layer draws
them from the data that ``models.*.evaluation.run_eval`` returns."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["diffsem_figures", "save_grid", "stego_sweep_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def diffsem_figures(df, ib, f8, snr_db: float, out: Path, dataset: str) -> list[Path]:
    """The PNGs of one ``semsim eval diffsem`` folder from its tables (DataFrames; ``ib``
    and ``f8`` may be None): accuracy vs t*, accuracy vs SSIM / PSNR (Fig. 5), and accuracy
    vs t* across SNRs (Fig. 8). Returns the paths written."""
    plt = _pyplot()
    figs = []
    d = df[df.snr_db == snr_db]
    style = {"classifier": ("k", "-", "o"), "diffsem": ("tab:red", "-", "s"),
             "ediffsem": ("darkred", "-", "^"), "attacker_mlp": ("tab:blue", "--", "o"),
             "attacker_conv": ("navy", "--", "x"), "direct": ("tab:green", ":", "."),
             "permutation": ("tab:olive", ":", "d")}
    if len(d):
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
        for m, (c, ls, mk) in style.items():
            s = d[d.method == m].sort_values("tstar")
            ax[0].plot(s.tstar, s.accuracy, color=c, ls=ls, marker=mk, label=m)
            if m.startswith("attacker") or m in ("direct", "permutation"):
                ax[1].plot(s.tstar, s.ssim, color=c, ls=ls, marker=mk, label=f"{m} SSIM")
        if ib is not None and len(ib):
            for meth, c in (("ibal", "tab:purple"), ("ibald", "m")):
                sub = ib[ib.method == meth]
                if not len(sub):
                    continue
                lam = sub["lambda"].max()
                sb = sub[sub["lambda"] == lam]
                for role, ls in (("bob", "-"), ("attacker", "--")):
                    v = sb[sb.role == role].sort_values("tstar_equiv")
                    ax[0].plot(v.tstar_equiv, v.accuracy, color=c, ls=ls, lw=1, marker="o",
                               ms=3, label=f"{meth} (lambda {lam:g}) {role}, SNR=ESNR(t*)")
        ax[0].set_xlabel("t*")
        ax[0].set_ylabel("accuracy (attackers: strong CNN judge)")
        ax[0].set_title(f"{dataset}: accuracy vs t* at {snr_db:g} dB")
        ax[0].legend(fontsize=7)
        ax[0].grid(alpha=0.3)
        ax[1].set_xlabel("t*")
        ax[1].set_ylabel("SSIM to the original")
        ax[1].legend(fontsize=7)
        ax[1].grid(alpha=0.3)
        p = out / f"diffsem-{dataset}-acc-vs-tstar.png"
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        figs.append(p)
        # Fig. 5
        fig, ax = plt.subplots(2, 1, figsize=(7, 8))
        for k, metric in enumerate(("ssim", "psnr")):
            for m in ("attacker_mlp", "attacker_conv", "direct", "permutation"):
                c, ls, mk = style[m]
                s = d[d.method == m].sort_values(metric)
                ax[k].plot(s[metric], s.accuracy, color=c, ls=ls, marker=mk,
                           label=f"DiffSem {m}" if m.startswith("att") else m)
            if ib is not None and len(ib):
                for j, (name, _, _) in enumerate(sorted({(r.model, r["lambda"], r.method)
                                                         for _, r in ib.iterrows()})):
                    s = ib[(ib.model == name) & (ib.role == "attacker")].sort_values(metric)
                    c = "m" if name.startswith("ibald") else "tab:purple"
                    ax[k].plot(s[metric], s.accuracy, color=c, ls="--",
                               marker="os^v<>"[j % 6], label=f"{name} attacker (SNR sweep)")
            ax[k].set_xlabel(metric.upper())
            ax[k].set_ylabel("attacker accuracy (CNN judge)")
            ax[k].grid(alpha=0.3)
        ax[0].legend(fontsize=7)
        ax[0].set_title(f"{dataset}: accuracy vs SSIM / PSNR (paper Fig. 5)")
        p = out / f"diffsem-{dataset}-acc-vs-ssim-psnr.png"
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        figs.append(p)
    if f8 is not None and len(f8):
        snrs = sorted(f8.snr_db.unique())
        fig, axs = plt.subplots(1, len(snrs), figsize=(4 * len(snrs), 4), sharey=True)
        axs = np.atleast_1d(axs)
        for a, snr in zip(axs, snrs, strict=True):
            s8 = f8[f8.snr_db == snr]
            for m in ("classifier", "diffsem", "ediffsem", "attacker_mlp", "attacker_conv"):
                c, ls, mk = style[m]
                s = s8[s8.method == m].sort_values("tstar")
                a.plot(s.tstar, s.accuracy, color=c, ls=ls, marker=mk, label=m)
            a.set_title(f"{snr:g} dB")
            a.set_xlabel("t*")
            a.grid(alpha=0.3)
        axs[0].set_ylabel("accuracy")
        axs[0].legend(fontsize=7)
        fig.suptitle(f"{dataset}: accuracy vs t* across channel SNRs (paper Fig. 8)")
        p = out / f"diffsem-{dataset}-fig8-snr.png"
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        figs.append(p)
    return figs


def save_grid(
    path: str | os.PathLike[str],
    columns: dict[str, Any],
    num: int = 8,
    title: str = "",
) -> Path:
    """PNG grid: one row per example, one column per entry of ``columns`` (torch tensors
    (N, C, H, W) in [0, 1]). Returns ``path``."""
    plt = _pyplot()
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


def stego_sweep_figure(report: dict, path: Path) -> Path:
    """Bob's private PSNR and Eve's naive SSIM vs SNR for every run of a stego report
    (the ``summary`` of :func:`models.stego.evaluation.run_eval`)."""
    plt = _pyplot()
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
    return path
