"""DiffSem training stages (Algorithm 1, Algorithm 2 receiver fine-tuning, Eve's
attackers), each one call of :func:`fit_stage` (the one loop, resumable per epoch).

``pair`` (encoder + classifier-only receiver), ``unet`` (context U-Net on frozen features,
context dropout so one net serves DiffSem unguided and E-DiffSem guided), ``finetune``
(Alg. 2: receiver classifiers on DiffSem and guided outputs), ``adversary``
(chosen-plaintext model inversion on the adversary split: paper MLP and a conv net) and
``direct`` (Eve's classifier of y). The IBAL baselines and the judges are in
:mod:`.stages_baselines`; the driver is :mod:`.training`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsim.models.checkpoint import load_training_state, save_training_state
from semsim.models.common.seeds import torch_generator
from semsim.models.loop import batched, fit, minibatch_epoch

from .config import DiffSemConfig
from .networks import fold_x0_onto_y
from .splits import DataSplits
from .system import DiffSemSystem

__all__ = ["adv_link", "fit_stage", "sample_snr", "sample_tstar", "stage_adversary",
           "stage_direct", "stage_finetune", "stage_pair", "stage_unet"]


def sample_tstar(n: int, tmax: int, stride: int, g: torch.Generator,
                 high_frac: float = 0.0, high_min: int = 0) -> Tensor:
    """(n,) t* on the grid 0, stride, ..., tmax (uniform); with high_frac > 0 that share
    of the draws (each independently) comes from the grid's part >= high_min instead."""
    t = torch.randint(0, tmax // stride + 1, (n,), generator=g) * stride
    if high_frac > 0:
        hi = torch.rand(n, generator=g) < high_frac
        lo_k = -(-high_min // stride)
        t[hi] = torch.randint(lo_k, tmax // stride + 1, (int(hi.sum()),), generator=g) * stride
    return t


def sample_snr(n: int, rng: tuple[float, float], g: torch.Generator) -> Tensor:
    lo, hi = rng
    return lo + (hi - lo) * torch.rand(n, generator=g)


def fit_stage(name: str, modules: dict[str, nn.Module],
              loss_fn: Callable[[Tensor, torch.Generator], Tensor], val_fn: Callable[[], float],
              n_train: int, epochs: int, cfg: DiffSemConfig, work_dir: Path,
              log: Callable[[str], None], lr: float | None = None,
              batch_size: int | None = None, keep_init: bool = False) -> dict:
    """A DiffSem stage through the one loop (:func:`models.loop.fit`): Adam, minibatches
    of a seeded permutation of ``range(n_train)`` (``loss_fn(idx, generator)``),
    ReduceLROnPlateau on ``val_fn`` (lower is better), the best epoch's weights kept,
    resumable from ``<work_dir>/<name>_resume.pt``. ``keep_init``: the starting weights
    compete too. The batch generator is ``torch_generator(cfg.seed, "diffsem", name)``."""
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr or cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2,
                                                       min_lr=cfg.lr_min)
    g = torch_generator(cfg.seed, "diffsem", name)
    epoch = minibatch_epoch(loss_fn, n_train, batch_size or cfg.batch_size, opt, g, desc=name)
    res = fit(name, modules, opt, epoch, epochs=epochs, generator=g, scheduler=sched,
              validate=val_fn, keep_init=keep_init,
              state_path=Path(work_dir) / f"{name}_resume.pt", log=log)
    return res.info(epochs)


def stage_pair(sys_: DiffSemSystem, d: DataSplits, cfg, work_dir, log) -> dict:
    enc, clf = sys_.encoder, sys_.clf0
    X, Y = d.pair.images, d.pair.labels
    gv = torch.Generator().manual_seed(cfg.seed + 5)
    nv = len(d.val)
    vt = sample_tstar(nv, cfg.pair_tmax, cfg.ddim_stride, gv, cfg.pair_high_frac,
                      cfg.pair_high_min)
    vs = sample_snr(nv, cfg.snr_train_db, gv)
    vnoise_seed = cfg.seed + 6

    def loss_fn(idx, g):
        x0 = enc(X[idx])
        t = sample_tstar(len(idx), cfg.pair_tmax, cfg.ddim_stride, g, cfg.pair_high_frac,
                         cfg.pair_high_min)
        s = sample_snr(len(idx), cfg.snr_train_db, g)
        y = sys_.link(x0, t, s, generator=g)
        return F.cross_entropy(clf(y, y, t), Y[idx])

    def val_fn():
        g = torch.Generator().manual_seed(vnoise_seed)
        x0 = enc(d.val.images)
        y = sys_.link(x0, vt, vs, generator=g)
        return F.cross_entropy(clf(y, y, vt), d.val.labels).item()

    info = fit_stage("pair", {"encoder": enc, "clf0": clf}, loss_fn, val_fn, len(X),
                cfg.pair_epochs, cfg, work_dir, log)
    sys_.clf_diff.load_state_dict(clf.state_dict())
    sys_.clf_e.load_state_dict(clf.state_dict())
    return info


def stage_unet(sys_: DiffSemSystem, d: DataSplits, cfg, work_dir, log) -> dict:
    unet, sch = sys_.unet, sys_.schedule
    X0 = sys_.features(d.pair.images)
    V0 = sys_.features(d.val.images)
    Y, VY = d.pair.labels, d.val.labels
    gv = torch.Generator().manual_seed(cfg.seed + 7)
    vt = torch.randint(0, cfg.T, (len(V0),), generator=gv)
    veps = torch.randn(V0.shape, generator=gv).to(V0.device)
    vmask = torch.rand(len(V0), generator=gv) < cfg.context_drop

    def ctx(labels, mask):
        c = F.one_hot(labels, 10).float()
        return c * (~mask).float().unsqueeze(1).to(c.device)

    def loss_fn(idx, g):
        x0 = X0[idx]
        t = torch.randint(0, cfg.T, (len(idx),), generator=g)
        eps = torch.randn(x0.shape, generator=g).to(x0.device)
        mask = torch.rand(len(idx), generator=g) < cfg.context_drop
        return F.mse_loss(unet(sch.q_sample(x0, t, eps), t, ctx(Y[idx], mask)), eps)

    def val_fn():
        out = batched(lambda i: unet(sch.q_sample(V0[i], vt[i], veps[i]), vt[i],
                                      ctx(VY[i], vmask[i])), len(V0), 1024)
        return F.mse_loss(out, veps).item()

    return fit_stage("unet", {"unet": unet}, loss_fn, val_fn, len(X0), cfg.unet_epochs, cfg,
                work_dir, log)


def stage_finetune(sys_: DiffSemSystem, d: DataSplits, cfg, work_dir, log) -> dict:
    """Alg. 2: fine-tune the receiver classifiers with encoder and U-Net fixed, on
    DiffSem outputs (clf_diff) and on soft-label-guided outputs (clf_e)."""
    cache = work_dir / "finetune_data.pt"
    key = {"n": cfg.ft_samples, "tmax": cfg.ft_tstar_max, "high_frac": cfg.ft_high_frac,
           "high_min": cfg.ft_high_min, "seed": cfg.seed}
    data = load_training_state(cache)
    if data is not None and data.get("key", key) != key:
        log(f"[finetune] cached DDIM data was made for {data.get('key')}; regenerating")
        data = None
    if data is None:
        g = torch.Generator().manual_seed(cfg.seed + 11)
        n = cfg.ft_samples
        # more samples than pair images: the same image again, with fresh noise
        idx = torch.cat([torch.randperm(len(d.pair), generator=g)
                         for _ in range(-(-n // len(d.pair)))])[:n]
        X0 = sys_.features(d.pair.images[idx])
        t = sample_tstar(n, cfg.ft_tstar_max, cfg.ddim_stride, g, cfg.ft_high_frac,
                         cfg.ft_high_min)
        s = sample_snr(n, cfg.snr_train_db, g)
        y = sys_.link(X0, t, s, generator=g)
        t0 = time.time()

        def gen(i):
            soft = F.softmax(sys_.clf0(y[i], y[i], t[i]), 1)
            xu = sys_.denoise(y[i], t[i], None)
            xg = sys_.denoise(y[i], t[i], soft)
            return xu, xg

        xu, xg = batched(gen, n, 512, desc="finetune data")
        data = {"y": y, "t": t, "xu": xu, "xg": xg, "labels": d.pair.labels[idx],
                "gen_s": time.time() - t0, "key": key}
        save_training_state(cache, data)
        log(f"[finetune] generated {n} DDIM samples in {data['gen_s']:.0f}s")
    dev = next(sys_.parameters()).device
    data = {k: (v.to(dev) if torch.is_tensor(v) and k != "t" else v) for k, v in data.items()}
    y, t, lab = data["y"], data["t"], data["labels"]
    n = len(y)
    nv = max(1, n // 10)
    infos = {"gen_s": data["gen_s"], "ft_init": cfg.ft_init}
    for name, clf, xh in (("ft_diff", sys_.clf_diff, data["xu"]), ("ft_e", sys_.clf_e,
                                                                    data["xg"])):
        if cfg.ft_init == "preserve" and not (work_dir / f"{name}_resume.pt").is_file():
            clf.load_state_dict(sys_.clf0.state_dict())
            fold_x0_onto_y(clf)
        tr = torch.arange(nv, n)

        def loss_fn(idx, g, xh=xh, clf=clf, tr=tr):
            j = tr[idx]
            return F.cross_entropy(clf(xh[j], y[j], t[j]), lab[j])

        def val_fn(xh=xh, clf=clf):
            return F.cross_entropy(clf(xh[:nv], y[:nv], t[:nv]), lab[:nv]).item()

        infos[name] = fit_stage(name, {name: clf}, loss_fn, val_fn, len(tr), cfg.ft_epochs, cfg,
                           work_dir, log, lr=3e-4, keep_init=cfg.ft_init == "preserve")
    return infos


def adv_link(sys_: DiffSemSystem, x, cfg, g):
    with torch.no_grad():
        x0 = sys_.encoder(x)
        t = sample_tstar(len(x), cfg.tstar_train_max, cfg.ddim_stride, g)
        s = sample_snr(len(x), cfg.snr_train_db, g)
        return sys_.link(x0, t, s, generator=g), t


def stage_adversary(sys_: DiffSemSystem, d: DataSplits, cfg, work_dir, log) -> dict:
    """Chosen-plaintext model inversion on the adversary's own split and channel."""
    X = d.adv.images
    gv = torch.Generator().manual_seed(cfg.seed + 13)
    nv = min(2000, len(d.val))
    vx = d.val.images[:nv]
    vy, vt = adv_link(sys_, vx, cfg, gv)

    def loss_fn(idx, g):
        y, t = adv_link(sys_, X[idx], cfg, g)
        x = X[idx]
        return F.mse_loss(sys_.adv_mlp(y, t), x) + F.mse_loss(sys_.adv_conv(y, t), x)

    def val_fn():
        m = F.mse_loss(sys_.adv_mlp(vy, vt), vx).item()
        c = F.mse_loss(sys_.adv_conv(vy, vt), vx).item()
        log(f"[adversary] val mse mlp {m:.4f} conv {c:.4f}")
        return m + c

    return fit_stage("adversary", {"adv_mlp": sys_.adv_mlp, "adv_conv": sys_.adv_conv}, loss_fn,
                val_fn, len(X), cfg.adv_epochs, cfg, work_dir, log)


def stage_direct(sys_: DiffSemSystem, direct: nn.Module, d: DataSplits, cfg, work_dir,
                 log) -> dict:
    """Eve's direct attacker: a classifier of y (and the public t*) trained with her own
    labelled split through Alice's encoder (chosen plaintext) and her own channel (t* on
    the grid 0..tstar_train_max, SNR in snr_train_db); model selection on 10 % of her split
    held out. It never reconstructs an image, so no judge is involved."""
    n_val = max(1, len(d.adv) // 10)
    X, Y = d.adv.images[n_val:], d.adv.labels[n_val:]
    gv = torch.Generator().manual_seed(cfg.seed + 41)
    vy, vt = adv_link(sys_, d.adv.images[:n_val], cfg, gv)
    vl = d.adv.labels[:n_val]

    def loss_fn(idx, g):
        y, t = adv_link(sys_, X[idx], cfg, g)
        return F.cross_entropy(direct(y, t), Y[idx])

    def val_fn():
        logits = direct(vy, vt)
        log(f"[direct] val accuracy {(logits.argmax(1) == vl).float().mean().item():.4f}")
        return F.cross_entropy(logits, vl).item()

    info = fit_stage("direct", {"direct": direct}, loss_fn, val_fn, len(X), cfg.direct_epochs,
                cfg, work_dir, log)
    with torch.no_grad():
        info["val_acc"] = round((direct(vy, vt).argmax(1) == vl).float().mean().item(), 4)
    return info
