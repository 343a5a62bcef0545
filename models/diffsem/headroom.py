"""Headroom probes: receivers trained on y alone (how far is classifier-only from the best
classifier of y?), and the same probes as Eve's direct attack on her own split."""

from __future__ import annotations

import time

import torch

from semsim.models.common.seeds import torch_generator, torch_seed
from semsim.models.loop import fit, minibatch_epoch

from .evaluation import acc, test_packets
from .loader import LoadedDiffSem
from .networks import YClassifier
from .splits import load_splits

__all__ = ["eval_headroom"]

_acc = acc


def eval_headroom(b: LoadedDiffSem, x, lab, snr_db: float, tstars, epochs: int = 40,
                  kinds=("small", "mlp", "conv"), seed: int = 0, data_dir=None,
                  split: str = "pair", log=print) -> list[dict]:
    """How much could ANY receiver that sees only y gain over classifier-only?

    Probes are trained on the pair split (the data the classifier-only receiver had),
    specialised to this SNR and to the listed t* (drawn uniformly), with fresh self-noise
    and channel noise every batch; the best epoch on the pair validation split (fixed
    packets) is kept. They are scored on the same test packets as ``eval_tstar`` (same
    seeds), next to classifier-only. x0_hat is a deterministic function of y, so no
    DiffSem-style receiver can beat the Bayes classifier of y; the probes estimate how far
    classifier-only is from it (a lower bound on the headroom).

    ``split="adversary"``: the same probes as a *direct* attack. Eve trains them on her own
    split (chosen plaintext: her images through Alice's encoder, her own 10 % held out for
    model selection) and they are scored on Eve's packets of ``eval_tstar`` (receiver
    names ``eve_direct_<kind>``). This bounds the leakage an attacker reaches without the
    image bottleneck of model inversion."""
    if split not in ("pair", "adversary"):
        raise ValueError(f"split must be 'pair' or 'adversary', got {split!r}")
    sys_ = b.system
    dev = x.device
    d = load_splits(b.config, data_dir).to(dev)
    if split == "pair":
        tr_img, tr_lab, va_img, va_lab = d.pair.images, d.pair.labels, d.val.images, d.val.labels
    else:
        n_val = max(1, len(d.adv) // 10)
        tr_img, tr_lab = d.adv.images[n_val:], d.adv.labels[n_val:]
        va_img, va_lab = d.adv.images[:n_val], d.adv.labels[:n_val]
    with torch.no_grad():
        X0 = sys_.features(tr_img)
        V0 = sys_.features(va_img)
        x0 = sys_.encoder(x)
    Y, VY = tr_lab, va_lab
    prefix = "probe" if split == "pair" else "eve_direct"
    ts_all = torch.tensor([int(v) for v in tstars], dtype=torch.long)
    gv = torch.Generator().manual_seed(seed + 4242)
    vt = ts_all[torch.randint(0, len(ts_all), (len(V0),), generator=gv)]
    with torch.no_grad():
        vy = sys_.link(V0, vt, torch.full((len(V0),), float(snr_db)), generator=gv)
    # the test packets of eval_tstar
    test = {}
    with torch.no_grad():
        for ts in tstars:
            yb, ye, t, s, _ = test_packets(sys_, x0, ts, snr_db, seed)
            test[int(ts)] = (yb if split == "pair" else ye, t,
                             _acc(sys_.receive(yb, t, s, method="classifier", rescaled=True),
                                  lab))
    rows = [{"snr_db": snr_db, "tstar": ts, "n": len(x), "receiver": "classifier_only",
             "accuracy": acc, "train_s": None, "epochs": None, "best_val_acc": None}
            for ts, (_, _, acc) in test.items()]
    bs = 256
    for kind in kinds:
        torch.manual_seed(torch_seed(seed, "headroom", kind, "init"))
        probe = YClassifier(kind, b.config.feat_ch, b.config.T).to(dev)
        opt = torch.optim.Adam(probe.parameters(), lr=1e-3)
        steps = epochs * ((len(X0) + bs - 1) // bs)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        g = torch_generator(seed, "headroom", kind)
        t0 = time.time()

        def step(idx, g, probe=probe):
            t = ts_all[torch.randint(0, len(ts_all), (len(idx),), generator=g)]
            with torch.no_grad():
                y = sys_.link(X0[idx], t, torch.full((len(idx),), float(snr_db)), generator=g)
            return torch.nn.functional.cross_entropy(probe(y, t), Y[idx])

        epoch = minibatch_epoch(step, len(X0), bs, opt, g, batch_scheduler=sched,
                                show_progress=False)
        best = fit(f"{prefix}_{kind}", {"probe": probe}, opt, epoch, epochs=epochs, generator=g,
                   validate=lambda probe=probe: _acc(probe(vy, vt), VY),
                   higher_is_better=True, log=lambda _: None).best
        dt = time.time() - t0
        with torch.no_grad():
            for ts, (yb, t, _) in test.items():
                rows.append({"snr_db": snr_db, "tstar": ts, "n": len(x),
                             "receiver": f"{prefix}_{kind}",
                             "accuracy": _acc(probe(yb, t), lab),
                             "train_s": round(dt, 1), "epochs": epochs,
                             "best_val_acc": round(best, 4)})
        log(f"headroom {prefix} {kind}: " + ", ".join(
            f"t*={r['tstar']} {r['accuracy']:.4f}" for r in rows
            if r["receiver"] == f"{prefix}_{kind}") + f" (val {best:.4f}, {dt:.0f}s)")
    log("classifier-only: " + ", ".join(f"t*={r['tstar']} {r['accuracy']:.4f}" for r in rows
                                        if r["receiver"] == "classifier_only"))
    return rows
