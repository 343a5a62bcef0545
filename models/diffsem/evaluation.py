"""DiffSem evaluation (``semsim eval diffsem``): accuracy vs t*, accuracy vs SSIM / PSNR
(paper Fig. 5), accuracy vs t* across channel SNRs (paper Fig. 8), E-DiffSem levers, the
judges and the headroom probes, as rows of data (:class:`models.evaluation.EvalResult`).

Leakage is scored by the third-party strong classifiers (a CNN judge and the paper's MLP
judge); the adversaries are the paper's MLP inversion net and a stronger conv net that
also sees t*. Eve listens at the same SNR as Bob, with independent noise.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from semsim.models.channel import awgn
from semsim.models.common.snr import REAL_UNIT_POWER
from semsim.models.data import load_dataset
from semsim.models.evaluation import EvalResult
from semsim.models.metrics import ms_ssim, psnr, ssim

from .baselines import direct_noise, permute_quadrants
from .config import ibal_names
from .loader import LoadedDiffSem, load_diffsem, load_work_dir
from .summary import gap_row, summarize

__all__ = ["DEFAULT_TSTARS", "PARTS", "DiffSemEval", "acc", "eval_fig8", "eval_ibal", "eval_judges",
           "eval_levers", "eval_tstar", "link_pair", "run_eval", "test_packets"]

#: the parts ``run_eval`` computes (``report`` computes nothing: the command layer
#: re-renders the tables of an existing folder)
PARTS = ("tstar", "fig5", "fig8", "levers", "headroom", "judges", "report")
DEFAULT_TSTARS = (0, 20, 40, 60, 90, 120, 150, 180, 210, 240, 270, 300, 350, 400)


def acc(logits: torch.Tensor, lab: torch.Tensor) -> float:
    """Accuracy of ``logits`` (N, classes) against labels (N,)."""
    return float((logits.argmax(1) == lab).float().mean())


_acc = acc


def link_pair(system, x0, tstar, snr_bob, snr_eve, g):
    """One self-noised transmission heard by Bob and Eve (independent AWGN), both at the
    header-rescaled (Bob) scaling."""
    from semsim.models.diffusion import select_tprime, self_noise, transmit_power

    sch = system.schedule
    tp = select_tprime(tstar, snr_bob, sch)
    s = self_noise(x0, tstar, tp, sch, g)
    p = transmit_power(tstar, tp, sch)
    return awgn(s, snr_bob, p, g), awgn(s, snr_eve, p, g), tp


def test_packets(system, x0, tstar: int, snr_db: float, seed: int):
    """The test packets every evaluation part scores at step ``tstar``: features x0
    (N, C, 8, 8) sent once, heard by Bob and Eve at ``snr_db``, noise seeded by
    ``seed + tstar`` (so all parts see the same y). Returns (y_bob, y_eve, t, snr, t')."""
    n = len(x0)
    g = torch.Generator().manual_seed(seed + int(tstar))
    t = torch.full((n,), int(tstar), dtype=torch.long)
    s = torch.full((n,), float(snr_db))
    yb, ye, tp = link_pair(system, x0, t, s, s, g)
    return yb, ye, t, s, tp


def _img_metrics(rec: torch.Tensor, x: torch.Tensor) -> dict:
    return {"psnr": float(psnr(rec, x).mean()), "ssim": float(ssim(rec, x).mean()),
            "ms_ssim": float(ms_ssim(rec, x).mean())}


def _judge(system, rec, lab) -> dict:
    return {"accuracy": _acc(system.strong_classify(rec, "cnn"), lab),
            "accuracy_judge_mlp": _acc(system.strong_classify(rec, "mlp"), lab)}


@torch.no_grad()
def eval_tstar(b: LoadedDiffSem, x, lab, snr_db: float, tstars, seed: int = 0,
               log=print) -> list[dict]:
    sys_ = b.system
    rows = []
    x0 = sys_.encoder(x)
    n = len(x)
    for ts in tstars:
        t0 = time.time()
        yb, ye, t, s, tp = test_packets(sys_, x0, ts, snr_db, seed)
        base = {"snr_db": snr_db, "tstar": int(ts), "tprime": int(tp[0]), "n": n}
        bob_hits, att_hits = {}, {}
        for m in ("classifier", "diffsem"):
            bob_hits[m] = sys_.receive(yb, t, s, method=m, rescaled=True).argmax(1) == lab
        r = sys_.receive_ediffsem(yb, t, s, rescaled=True)
        bob_hits["ediffsem"] = r.logits.argmax(1) == lab
        for m, h in bob_hits.items():
            rows.append({**base, "role": "bob", "method": m, "accuracy": float(h.float().mean()),
                         **({"iterations": float(r.iterations.float().mean())}
                            if m == "ediffsem" else {})})
        for kind in ("mlp", "conv"):
            rec = sys_.invert(ye, t, s, kind=kind, rescaled=True)
            for jk in ("cnn", "mlp"):
                att_hits[f"attacker_{kind}/{jk}"] = sys_.strong_classify(rec, jk).argmax(1) == lab
            rows.append({**base, "role": "attacker", "method": f"attacker_{kind}",
                         "accuracy": float(att_hits[f"attacker_{kind}/cnn"].float().mean()),
                         "accuracy_judge_mlp": float(
                             att_hits[f"attacker_{kind}/mlp"].float().mean()),
                         **_img_metrics(rec, x)})
        rows.append({**base, **gap_row(bob_hits, att_hits)})
        gd = torch.Generator().manual_seed(seed + 7919 + int(ts))
        for name, imgs in (("direct", x), ("permutation", permute_quadrants(x))):
            noisy = direct_noise(imgs, t, sys_.schedule, gd)
            rows.append({**base, "role": "baseline", "method": name, **_judge(sys_, noisy, lab),
                         **_img_metrics(noisy, x)})
        by = {r["method"]: r for r in rows if r["tstar"] == int(ts) and r["snr_db"] == snr_db}
        log(f"t*={ts:3d} t'={int(tp[0]):3d} clf {by['classifier']['accuracy']:.4f} "
            f"diff {by['diffsem']['accuracy']:.4f} ediff {by['ediffsem']['accuracy']:.4f} "
            f"(it {by['ediffsem']['iterations']:.2f}) att-mlp "
            f"{by['attacker_mlp']['accuracy']:.4f} att-conv {by['attacker_conv']['accuracy']:.4f}"
            f" ssim {by['attacker_conv']['ssim']:.3f} direct {by['direct']['accuracy']:.3f} "
            f"[{time.time() - t0:.0f}s]")
    return rows


@torch.no_grad()
def eval_levers(b: LoadedDiffSem, x, lab, snr_db: float, tstars, ws, seed: int = 0,
                log=print) -> list[dict]:
    """E-DiffSem levers on the same received packets: Eq. 18 guidance weight ``w`` and the
    relabelling classifier (Alg. 2 on guided outputs ``clf_e`` vs on DiffSem outputs)."""
    sys_ = b.system
    rows = []
    x0 = sys_.encoder(x)
    n = len(x)
    for ts in tstars:
        yb, _, t, s, _ = test_packets(sys_, x0, ts, snr_db, seed)
        base = {"snr_db": snr_db, "tstar": int(ts), "n": n}
        for m in ("classifier", "diffsem"):
            rows.append({**base, "variant": m, "w": None,
                         "accuracy": _acc(sys_.receive(yb, t, s, method=m, rescaled=True), lab)})
        clf_e = sys_.clf_e
        for relabel in ("clf_e", "clf_diff"):
            sys_.clf_e = clf_e if relabel == "clf_e" else sys_.clf_diff
            for w in ws:
                r = sys_.receive_ediffsem(yb, t, s, rescaled=True, w=float(w))
                rows.append({**base, "variant": f"ediffsem[{relabel}]", "w": float(w),
                             "accuracy": _acc(r.logits, lab),
                             "iterations": float(r.iterations.float().mean())})
        sys_.clf_e = clf_e
        log(" | ".join(f"{r['variant']} w={r['w']}: {r['accuracy']:.4f}" for r in rows
                       if r["tstar"] == int(ts)))
    return rows


@torch.no_grad()
def eval_judges(b: LoadedDiffSem, x, lab, snr_db: float, tstars, seed: int = 0,
                log=print) -> list[dict]:
    """The attackers of ``eval_tstar`` (same packets, same seeds) scored by two judge sets:
    ``adapted`` (the shipped judges, whose second phase trained on attacker
    reconstructions, as the paper's strong classifier) and ``independent`` (the same
    judges after their clean phase only, which never saw a reconstruction); plus, when
    shipped, Eve's direct attacker (``attacker_direct``: classifies y, no judge)."""
    if b.clean_judges is None:
        raise FileNotFoundError(
            f"no diffsem-{b.config.dataset}-judges-clean checkpoint next to the shipped "
            "weights: rerun the ship stage (`semsim train diffsem ... --stage ship`)")
    sys_ = b.system
    x0 = sys_.encoder(x)
    n = len(x)
    sets = {"adapted": {"cnn": sys_.judge_cnn, "mlp": sys_.judge_mlp},
            "independent": {"cnn": b.clean_judges["judge_cnn"],
                            "mlp": b.clean_judges["judge_mlp"]}}
    rows = []
    for js, judges in sets.items():
        for k, m in judges.items():
            rows.append({"snr_db": snr_db, "tstar": None, "n": n, "judge_set": js,
                         "judge": k, "attacker": "clean_images",
                         "accuracy": _acc(m(x), lab)})
    for ts in tstars:
        _, ye, t, s, _ = test_packets(sys_, x0, ts, snr_db, seed)
        for kind in ("mlp", "conv"):
            rec = sys_.invert(ye, t, s, kind=kind, rescaled=True)
            for js, judges in sets.items():
                for k, m in judges.items():
                    rows.append({"snr_db": snr_db, "tstar": int(ts), "n": n, "judge_set": js,
                                 "judge": k, "attacker": f"attacker_{kind}",
                                 "accuracy": _acc(m(rec), lab)})
        if b.direct is not None:
            rows.append({"snr_db": snr_db, "tstar": int(ts), "n": n, "judge_set": "none",
                         "judge": "none", "attacker": "attacker_direct",
                         "accuracy": _acc(b.direct(ye, t.to(ye.device)), lab)})
        log(f"t*={ts}: " + ", ".join(f"{r['attacker']}/{r['judge_set']}/{r['judge']} "
                                     f"{r['accuracy']:.4f}" for r in rows
                                     if r["tstar"] == int(ts)))
    return rows


@torch.no_grad()
def eval_ibal(b: LoadedDiffSem, x, lab, snrs, seed: int = 0, log=print,
              tstar_equiv=None) -> list[dict]:
    """IBAL / IBAL-D Bob and (fresh MLP) attacker at each SNR. ``tstar_equiv`` labels each
    SNR with the t* whose ESNR it equals (the paper's Eq. 13 re-plotting of Fig. 4)."""
    if b.baselines is None:
        log("no IBAL baselines shipped; skipping")
        return []
    rows = []
    sys_ = b.system
    for name, lam, dyn in ibal_names(b.config):
        m = b.baselines[name]
        adv = b.baselines[name + "_advmlp"]
        for k, snr in enumerate(snrs):
            g = torch.Generator().manual_seed(seed + k)
            s = torch.full((len(x),), float(snr))
            z = m.encode(x)
            yb = awgn(z, s, REAL_UNIT_POWER, g).view(-1, *b.config.latent_shape)
            ye = awgn(z, s, REAL_UNIT_POWER, g).view(-1, *b.config.latent_shape)
            base = {"snr_db": float(snr), "method": "ibald" if dyn else "ibal", "lambda": lam,
                    "model": name, "n": len(x),
                    "tstar_equiv": None if tstar_equiv is None else int(tstar_equiv[k])}
            rows.append({**base, "role": "bob", "accuracy": _acc(m.classify(yb, s), lab)})
            rec = adv(ye)
            rows.append({**base, "role": "attacker", **_judge(sys_, rec, lab),
                         **_img_metrics(rec, x)})
        log(f"{name}: bob {rows[-2]['accuracy']:.4f} attacker {rows[-1]['accuracy']:.4f} "
            f"ssim {rows[-1]['ssim']:.3f} (at {snrs[-1]} dB)")
    return rows


@torch.no_grad()
def eval_fig8(b: LoadedDiffSem, x, lab, snrs, tstars, seed: int = 0, log=print) -> list[dict]:
    rows = []
    for snr in snrs:
        rows += eval_tstar(b, x, lab, float(snr), tstars, seed=seed + 100_000, log=log)
    return rows


def _rows(dataset: str, rows: list[dict]) -> list[dict]:
    return [{"dataset": dataset, **r} for r in rows]


@dataclass(frozen=True)
class DiffSemEval:
    """What one ``semsim eval diffsem`` computes (the argument of :func:`run_eval`).

    ``parts``: of :data:`PARTS`; ``tstars``: steps of the t* sweep; ``fig8_*``: the Fig. 8
    grid; ``levers_w``: Eq. 18 weights of the levers part; ``work_dir``: evaluate an
    unshipped training work dir instead of the shipped checkpoint; ``headroom_*``: probe
    epochs, kinds and training split (pair | adversary); ``device``: a resolved torch
    device string."""

    dataset: str = "mnist"
    parts: tuple[str, ...] = ("tstar", "fig5", "fig8")
    snr_db: float = 15.0
    n_test: int = 2000
    tstars: tuple[int, ...] = DEFAULT_TSTARS
    fig8_snrs: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0)
    fig8_tstars: tuple[int, ...] = (0, 60, 120, 180, 240, 300, 400)
    guidance_w: float | None = None
    levers_w: tuple[float, ...] = (0.0, 1.0, 3.0)
    work_dir: str | None = None
    headroom_epochs: int = 40
    headroom_probes: tuple[str, ...] = ("small", "mlp", "conv")
    headroom_split: str = "pair"
    checkpoint_dir: str | None = None
    data_dir: str | None = None
    device: str = "cpu"
    seed: int = 1234


def run_eval(spec: DiffSemEval, log: Callable[[str], None] = print) -> EvalResult:
    """Evaluate the shipped DiffSem checkpoint of ``spec.dataset`` (or the finished stages
    of ``spec.work_dir``) on the first ``n_test`` test images; returns the data, writes
    nothing.

    Tables (one row dict each, ``dataset`` first): ``acc_vs_tstar`` and ``ibal`` (parts
    tstar / fig5), ``levers``, ``headroom``, ``judges``, ``fig8_snr`` (500 images at most).
    ``summary``: dataset, n_test, guidance_w, the wall time and, with ``acc_vs_tstar``,
    :func:`models.diffsem.summary.summarize`. ``parts == ("report",)`` computes nothing.
    """
    dataset, snr_db, seed, device = spec.dataset, spec.snr_db, spec.seed, spec.device
    parts = set(spec.parts)
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    result = EvalResult()
    if parts <= {"report"}:
        return result
    import pandas as pd

    from .headroom import eval_headroom

    if spec.work_dir:
        b = load_work_dir(spec.work_dir, dataset, device=device)
    else:
        b = load_diffsem(dataset, spec.checkpoint_dir, device=device)
    if spec.guidance_w is not None:
        b.system.cfg = dataclasses.replace(b.system.cfg, guidance_w=spec.guidance_w)
    test = load_dataset(dataset, "test", spec.data_dir)
    n = min(spec.n_test, len(test))
    x, lab = test.images[:n].to(device), test.labels[:n].to(device)
    tstars = [int(v) for v in spec.tstars]
    log(f"eval {dataset}: {n} test images, SNR {snr_db} dB, guidance w "
        f"{b.system.cfg.guidance_w}, n_feat {b.config.n_feat}")
    t0 = time.time()
    tables = result.tables
    if parts & {"tstar", "fig5"}:
        tables["acc_vs_tstar"] = _rows(dataset, eval_tstar(b, x, lab, snr_db, tstars,
                                                           seed=seed, log=log))
        from semsim.models.diffusion import esnr_db

        eq = [float(esnr_db(max(t, 1)).clamp(-15.0, 40.0)) for t in tstars]
        tables["ibal"] = _rows(dataset, eval_ibal(b, x, lab, eq, seed=seed, log=log,
                                                  tstar_equiv=tstars))
    if "levers" in parts:
        tables["levers"] = _rows(dataset, eval_levers(b, x, lab, snr_db, tstars,
                                                      [float(v) for v in spec.levers_w],
                                                      seed=seed, log=log))
    if "headroom" in parts:
        tables["headroom"] = _rows(dataset, eval_headroom(
            b, x, lab, snr_db, tstars, epochs=spec.headroom_epochs,
            kinds=tuple(spec.headroom_probes), seed=seed, data_dir=spec.data_dir,
            split=spec.headroom_split, log=log))
    if "judges" in parts:
        tables["judges"] = _rows(dataset, eval_judges(b, x, lab, snr_db, tstars, seed=seed,
                                                      log=log))
    if "fig8" in parts:
        n8 = min(n, 500)
        tables["fig8_snr"] = _rows(dataset, eval_fig8(
            b, x[:n8], lab[:n8], [float(v) for v in spec.fig8_snrs],
            [int(v) for v in spec.fig8_tstars], seed=seed, log=log))
    wall_key = ("eval_wall_s" if "acc_vs_tstar" in tables
                else "eval_wall_s_" + "+".join(sorted(parts)))
    result.summary = {"dataset": dataset, "n_test": n, "guidance_w": b.system.cfg.guidance_w,
                      wall_key: round(time.time() - t0, 1)}
    if "acc_vs_tstar" in tables:
        ib = pd.DataFrame(tables["ibal"]) if tables["ibal"] else None
        result.summary.update(summarize(pd.DataFrame(tables["acc_vs_tstar"]), ib, snr_db))
    return result
