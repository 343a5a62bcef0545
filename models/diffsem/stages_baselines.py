"""DiffSem stages for the comparison and the referees: the IBAL / IBAL-D baselines with
their fresh adversaries, and the strong classifiers (judges) that score leakage."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsim.models.diffsem.baselines import IBAL, direct_noise, ibal_lambda, ibal_receive
from semsim.models.diffsem.config import ibal_names
from semsim.models.diffsem.splits import DataSplits
from semsim.models.diffsem.stages import adv_link, fit_stage, sample_snr
from semsim.models.diffsem.system import DiffSemSystem

__all__ = ["stage_ibal", "stage_judge"]


def stage_ibal(mods: dict[str, nn.Module], d: DataSplits, cfg, work_dir, log) -> dict:
    infos = {}
    X, Y = d.pair.images, d.pair.labels
    XA = d.adv.images
    for name, lam, dyn in ibal_names(cfg):
        m: IBAL = mods[name]
        dec_opt = torch.optim.Adam(m.aux.parameters(), lr=cfg.lr)

        def loss_fn(idx, g, m=m, lam=lam, dyn=dyn, dec_opt=dec_opt):
            x = X[idx]
            s = sample_snr(len(idx), cfg.snr_train_db, g)
            y = ibal_receive(m, x, s, g, cfg)
            # auxiliary decoder step (training only)
            dl = F.mse_loss(m.decode_aux(y.detach()), x)
            dec_opt.zero_grad(set_to_none=True)
            dl.backward()
            dec_opt.step()
            rec = (m.decode_aux(y) - x).pow(2).flatten(1).mean(1)
            ce = F.cross_entropy(m.classify(y, s), Y[idx], reduction="none")
            lam_s = ibal_lambda(lam, s, dyn, cfg.snr_train_db).to(rec.device)
            return (ce - lam_s * rec).mean()

        def val_fn(m=m):
            g = torch.Generator().manual_seed(cfg.seed + 23)
            s = sample_snr(len(d.val), cfg.snr_train_db, g)
            y = ibal_receive(m, d.val.images, s, g, cfg)
            return F.cross_entropy(m.classify(y, s), d.val.labels).item()

        tx_params = {"tx": m.tx, "clf": m.clf}
        infos[name] = fit_stage(name, tx_params, loss_fn, val_fn, len(X), cfg.ibal_epochs, cfg,
                           work_dir, log)
        # fresh adversaries on the adversary split
        am = mods[name + "_advmlp"]

        def adv_loss(idx, g, m=m, am=am):
            x = XA[idx]
            with torch.no_grad():
                y = ibal_receive(m, x, sample_snr(len(idx), cfg.snr_train_db, g), g,
                                 cfg)
            return F.mse_loss(am(y), x)

        def adv_val(m=m, am=am):
            g = torch.Generator().manual_seed(cfg.seed + 29)
            vx = d.val.images[:2000]
            y = ibal_receive(m, vx, sample_snr(len(vx), cfg.snr_train_db, g), g, cfg)
            return F.mse_loss(am(y), vx).item()

        infos[name + "_adv"] = fit_stage(name + "_adv", {"am": am}, adv_loss, adv_val,
                                    len(XA), cfg.adv_epochs, cfg, work_dir, log)
    return infos


def stage_judge(sys_: DiffSemSystem, mods: dict[str, nn.Module], d: DataSplits, cfg,
                work_dir, log) -> dict:
    """Strong classifiers (third party, evaluation only), in two phases: clean images of
    the whole training set (pair train + adversary split; ``judge_clean_epochs``), then a
    balanced mix of clean, Eq. 11-noised and adversary-reconstructed images of the
    adversary split (all attackers: DiffSem MLP/conv and every IBAL adversary)."""
    judges = {"judge_mlp": sys_.judge_mlp, "judge_cnn": sys_.judge_cnn}
    vclean = d.val.images[:3000]
    vl = d.val.labels[:3000]

    def clean_acc() -> dict[str, float]:
        return {k: round((m(vclean).argmax(1) == vl).float().mean().item(), 4)
                for k, m in (("mlp", sys_.judge_mlp), ("cnn", sys_.judge_cnn))}

    infos: dict = {}
    if cfg.judge_clean_epochs:
        XC = torch.cat([d.pair.images, d.adv.images])
        YC = torch.cat([d.pair.labels, d.adv.labels])

        def clean_loss(idx, g):
            return (F.cross_entropy(sys_.judge_mlp(XC[idx]), YC[idx])
                    + F.cross_entropy(sys_.judge_cnn(XC[idx]), YC[idx]))

        def clean_val():
            log(f"[judge_clean] clean val accuracy {clean_acc()}")
            return (F.cross_entropy(sys_.judge_mlp(vclean), vl)
                    + F.cross_entropy(sys_.judge_cnn(vclean), vl)).item()

        infos["clean_phase"] = fit_stage("judge_clean", judges, clean_loss, clean_val, len(XC),
                                    cfg.judge_clean_epochs, cfg, work_dir, log,
                                    batch_size=cfg.judge_batch_size)
        infos["clean_phase"].update({f"clean_val_acc_{k}": v for k, v in clean_acc().items()})
    X, Y = d.adv.images, d.adv.labels
    names = [n for n, _, _ in ibal_names(cfg)]
    sch = sys_.schedule

    def mixed(x: Tensor, g: torch.Generator) -> Tensor:
        n = len(x)
        kind = torch.randint(0, 4, (n,), generator=g)
        out = x.clone()
        with torch.no_grad():
            i1 = (kind == 1).nonzero().flatten()
            if len(i1):
                t = torch.randint(0, cfg.T, (len(i1),), generator=g)
                out[i1] = direct_noise(x[i1], t, sch, g)
            i2 = (kind == 2).nonzero().flatten()
            if len(i2):
                y, t = adv_link(sys_, x[i2], cfg, g)
                half = len(i2) // 2
                out[i2[:half]] = sys_.adv_mlp(y[:half], t[:half])
                out[i2[half:]] = sys_.adv_conv(y[half:], t[half:])
            i3 = (kind == 3).nonzero().flatten()
            if len(i3) and names:
                j = int(torch.randint(0, len(names), (1,), generator=g))
                m = mods[names[j]]
                y = ibal_receive(m, x[i3], sample_snr(len(i3), cfg.snr_train_db, g), g,
                                 cfg)
                adv = mods[names[j] + "_advmlp"]
                out[i3] = adv(y)
        return out

    gv = torch.Generator().manual_seed(cfg.seed + 31)
    vx = mixed(vclean, gv)

    def loss_fn(idx, g):
        xm = mixed(X[idx], g)
        return (F.cross_entropy(sys_.judge_mlp(xm), Y[idx])
                + F.cross_entropy(sys_.judge_cnn(xm), Y[idx]))

    def val_fn():
        log(f"[judge] clean val accuracy {clean_acc()}")
        return (F.cross_entropy(sys_.judge_mlp(vx), vl)
                + F.cross_entropy(sys_.judge_cnn(vx), vl)).item()

    info = fit_stage("judge", judges, loss_fn, val_fn, len(X), cfg.judge_epochs, cfg, work_dir,
                log, lr=cfg.judge_lr, batch_size=cfg.judge_batch_size)
    with torch.no_grad():
        info.update({f"clean_val_acc_{k}": v for k, v in clean_acc().items()})
    info.update(infos)
    log(f"[judge] best weights: clean val accuracy mlp {info['clean_val_acc_mlp']} "
        f"cnn {info['clean_val_acc_cnn']}")
    return info
