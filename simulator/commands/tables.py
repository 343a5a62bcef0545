"""Markdown tables of the model evaluations (the command layer's rendering).

``render_tables(out_dir)`` reads whatever ``semsim eval diffsem`` wrote there
(``acc_vs_tstar``, ``ibal``, ``fig8_snr``, ``headroom``, ``judges``, ``levers`` CSVs) and
returns the tables that ``docs/reproduction.md`` quotes, so the report is pasted from
generated text and each table comes from the file it names; ``semsim eval diffsem`` saves
it as ``tables.md``. Accuracies are printed in %, gaps in points. ``stego_table`` is the
slides' layout of one ``semsim eval stego`` run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from semsim.models.diffsem.summary import ATTACKER_METHODS, BOB_METHODS, worst_attacker

__all__ = ["render_tables", "stego_table"]


def _pct(v, nd: int = 1) -> str:
    return "-" if v is None or pd.isna(v) else f"{100 * float(v):.{nd}f}"


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _head(cols) -> list[str]:
    return [_row(cols), "|" + "---|" * len(cols)]


def _tstar_table(df: pd.DataFrame) -> list[str]:
    lines: list[str] = []
    worst = worst_attacker(df)
    for snr, d in df.groupby("snr_db"):
        p = d.pivot_table(index="tstar", columns="method", values="accuracy")
        pm = d.pivot_table(index="tstar", columns="method", values="accuracy_judge_mlp")
        ss = d.pivot_table(index="tstar", columns="method", values="ssim")
        ps = d.pivot_table(index="tstar", columns="method", values="psnr")
        it = d[d.method == "ediffsem"].set_index("tstar").iterations
        tp = d[d.method == "classifier"].set_index("tstar").tprime
        n = int(d.n.iloc[0])
        lines += [f"#### Accuracy vs t* at {snr:g} dB ({n} test images)", ""]
        lines += _head(["t*", "t'", "classifier-only", "DiffSem", "E-DiffSem (passes)",
                        "E-DiffSem - clf", "attacker MLP (CNN / MLP judge)",
                        "attacker conv (CNN / MLP judge)",
                        "attacker SSIM / PSNR (MLP, conv)",
                        "Bob - worst attacker [paired 95 % CI]",
                        "Direct (CNN judge, SSIM)", "Permutation (CNN judge, SSIM)"])
        ci = (d[d.method == "bob_minus_worst_attacker"].set_index("tstar")
              if "ci95_lo" in d else None)
        for t in p.index:
            bob = max(p.loc[t, m] for m in BOB_METHODS)
            gap = f"{100 * (bob - worst.loc[(snr, t)]):+.1f}"
            if ci is not None and t in ci.index and not pd.isna(ci.loc[t, "ci95_lo"]):
                gap += f" [{100 * ci.loc[t, 'ci95_lo']:+.1f}, {100 * ci.loc[t, 'ci95_hi']:+.1f}]"
            img = ", ".join(f"{ss.loc[t, m]:.3f} / {ps.loc[t, m]:.1f} dB"
                            for m in ATTACKER_METHODS)
            lines.append(_row([
                t, int(tp[t]), _pct(p.loc[t, "classifier"], 2), _pct(p.loc[t, "diffsem"], 2),
                f"{_pct(p.loc[t, 'ediffsem'], 2)} ({it[t]:.2f})",
                f"{100 * (p.loc[t, 'ediffsem'] - p.loc[t, 'classifier']):+.2f}",
                f"{_pct(p.loc[t, 'attacker_mlp'])} / {_pct(pm.loc[t, 'attacker_mlp'])}",
                f"{_pct(p.loc[t, 'attacker_conv'])} / {_pct(pm.loc[t, 'attacker_conv'])}",
                img, gap,
                f"{_pct(p.loc[t, 'direct'])}, {ss.loc[t, 'direct']:.3f}",
                f"{_pct(p.loc[t, 'permutation'])}, {ss.loc[t, 'permutation']:.3f}"]))
        lines.append("")
    return lines


def _ibal_table(ib: pd.DataFrame) -> list[str]:
    lines = ["#### IBAL / IBAL-D, channel SNR = ESNR(t*)", ""]
    lines += _head(["model", "t* equiv", "SNR dB", "Bob", "attacker (CNN / MLP judge)",
                    "attacker SSIM", "PSNR"])
    for (m, te), g in ib.groupby(["model", "tstar_equiv"], sort=False):
        b = g[g.role == "bob"].iloc[0]
        a = g[g.role == "attacker"].iloc[0]
        lines.append(_row([m, te, f"{b.snr_db:.1f}", _pct(b.accuracy),
                           f"{_pct(a.accuracy)} / {_pct(a.accuracy_judge_mlp)}",
                           f"{a.ssim:.3f}", f"{a.psnr:.1f}"]))
    return lines + [""]


def _fig8_table(f8: pd.DataFrame) -> list[str]:
    n = int(f8.n.iloc[0])
    worst = worst_attacker(f8)
    lines = [f"#### Fig. 8: accuracy vs t* across channel SNRs ({n} test images)", ""]
    lines += _head(["SNR dB", "t*", "t'", "classifier-only", "DiffSem", "E-DiffSem",
                    "attacker MLP (CNN judge)", "attacker conv (CNN judge)",
                    "Bob - worst attacker (both judges)"])
    p = f8.pivot_table(index=["snr_db", "tstar"], columns="method", values="accuracy")
    tp = f8[f8.method == "classifier"].set_index(["snr_db", "tstar"]).tprime
    for (snr, t), r in p.iterrows():
        bob = max(r[m] for m in BOB_METHODS)
        lines.append(_row([f"{snr:g}", t, int(tp[(snr, t)]), _pct(r.classifier),
                           _pct(r.diffsem), _pct(r.ediffsem), _pct(r.attacker_mlp),
                           _pct(r.attacker_conv), f"{100 * (bob - worst[(snr, t)]):+.1f}"]))
    return lines + [""]


def _headroom_table(hr: pd.DataFrame, df: pd.DataFrame | None) -> list[str]:
    n = int(hr.n.iloc[0])
    ph = hr.pivot_table(index="tstar", columns="receiver", values="accuracy")
    cols = ["classifier_only"] + sorted(c for c in ph.columns if c != "classifier_only")
    extra: dict[str, pd.Series] = {}
    if df is not None:
        d = df[df.snr_db == hr.snr_db.iloc[0]]
        p = d.pivot_table(index="tstar", columns="method", values="accuracy")
        extra = {"DiffSem": p.get("diffsem"), "E-DiffSem": p.get("ediffsem")}
        w = worst_attacker(d)
        extra["worst inversion attacker"] = w.droplevel(0)
    probes = [c for c in cols if c != "classifier_only"]
    lines = [f"#### Receivers trained on y alone ({n} test images)", ""]
    lines += _head(["t*", *cols, *extra, "best probe - classifier-only"])
    for t in ph.index:
        ex = [_pct(s.get(t), 2) if s is not None else "-" for s in extra.values()]
        best = max(ph.loc[t, c] for c in probes) if probes else float("nan")
        lines.append(_row([t, *(_pct(ph.loc[t, c], 2) for c in cols), *ex,
                           f"{100 * (best - ph.loc[t, 'classifier_only']):+.2f}"]))
    tr = hr[hr.receiver != "classifier_only"].groupby("receiver")[
        ["train_s", "best_val_acc"]].first()
    lines += ["", "probe training: " + "; ".join(
        f"{k} {r.train_s:.0f} s, best val {r.best_val_acc:.4f}" for k, r in tr.iterrows()), ""]
    return lines


def _judges_table(jd: pd.DataFrame, df: pd.DataFrame | None) -> list[str]:
    n = int(jd.n.iloc[0])
    clean = jd[jd.attacker == "clean_images"].set_index(["judge_set", "judge"]).accuracy
    a = jd[~jd.attacker.isin(["clean_images", "attacker_direct"])]
    direct = jd[jd.attacker == "attacker_direct"].set_index("tstar").accuracy
    bob = None
    if df is not None:
        d = df[df.snr_db == jd.snr_db.iloc[0]]
        bob = d[d.method.isin(BOB_METHODS)].groupby("tstar").accuracy.max()
    cols = ["t*", "Bob (best receiver)", "attacker MLP: adapted CNN / MLP judge",
            "attacker conv: adapted CNN / MLP judge",
            "attacker MLP: independent CNN / MLP judge",
            "attacker conv: independent CNN / MLP judge",
            "Bob - worst attacker, adapted", "Bob - worst attacker, independent"]
    if len(direct):
        cols += ["direct attack (Eve classifies y)", "Bob - direct attack"]
    lines = [f"#### Leakage under adapted vs independent judges ({n} test images)", "",
             "clean test accuracy of the judges: " + ", ".join(
                 f"{js} {k.upper()} {_pct(v, 2)}" for (js, k), v in clean.items()), ""]
    lines += _head(cols)
    p = a.pivot_table(index="tstar", columns=["attacker", "judge_set", "judge"],
                      values="accuracy")
    for t, r in p.iterrows():
        b = bob.get(t) if bob is not None else None
        cells = [int(t), _pct(b, 2)]
        for js in ("adapted", "independent"):
            for att in ATTACKER_METHODS:
                cells.append(f"{_pct(r[(att, js, 'cnn')])} / {_pct(r[(att, js, 'mlp')])}")
        for js in ("adapted", "independent"):
            worst = max(r[(att, js, k)] for att in ATTACKER_METHODS for k in ("cnn", "mlp"))
            cells.append("-" if b is None else f"{100 * (b - worst):+.1f}")
        if len(direct):
            dv = direct.get(t)
            cells += [_pct(dv, 2),
                      "-" if b is None or dv is None else f"{100 * (b - dv):+.1f}"]
        lines.append(_row(cells))
    return lines + [""]


def _levers_table(lv: pd.DataFrame) -> list[str]:
    lv = lv.assign(col=[v if pd.isna(w) else f"{v} w={w:g}"
                        for v, w in zip(lv.variant, lv.w, strict=True)])
    p = lv.pivot_table(index="tstar", columns="col", values="accuracy", sort=False)
    lines = [f"#### E-DiffSem levers ({int(lv.n.iloc[0])} test images)", ""]
    lines += _head(["t*", *p.columns])
    for t, r in p.iterrows():
        lines.append(_row([t, *(_pct(v, 2) for v in r)]))
    return lines + [""]


def render_tables(out_dir: str | Path) -> str:
    """Markdown for every table the evaluation folder ``out_dir`` holds (missing parts are
    skipped; an empty folder gives an empty string)."""
    out = Path(out_dir)

    def read(name: str) -> pd.DataFrame | None:
        f = out / f"{name}.csv"
        return pd.read_csv(f) if f.is_file() else None

    df, ib, f8, hr, lv, jd = (read(k) for k in ("acc_vs_tstar", "ibal", "fig8_snr",
                                                 "headroom", "levers", "judges"))
    lines: list[str] = []
    if df is not None and len(df):
        lines += _tstar_table(df)
    if ib is not None and len(ib):
        lines += _ibal_table(ib)
    if f8 is not None and len(f8):
        lines += _fig8_table(f8)
    if hr is not None and len(hr):
        lines += _headroom_table(hr, df)
    if jd is not None and len(jd):
        lines += _judges_table(jd, df)
    if lv is not None and len(lv):
        lines += _levers_table(lv)
    return "\n".join(lines)


_STEGO_ROWS = (
    ("DeepJSCC, no security (private image)", "plain", "private"),
    ("Stego (private image)", "stego", "private"),
    ("Stego (host image)", "stego", "host"),
)


def stego_table(metrics: dict[str, float], label: str = "") -> str:
    """Markdown table in the slides' layout (Eve: naive and MIA, MS-SSIM / SSIM / PSNR)
    and Bob's private-image quality, from :func:`models.stego.evaluation.evaluate_link`."""
    head = (
        "| Eve sees | naive MS-SSIM | naive SSIM | naive PSNR | "
        "MIA MS-SSIM | MIA SSIM | MIA PSNR |\n|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for title, kind, ref in _STEGO_ROWS:
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
