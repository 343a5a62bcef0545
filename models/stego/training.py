"""Training of the stego family: the DeepJSCC codec, the INN (+ Bob's decoder) and Eve's
model-inversion network, each through the one loop (:func:`models.loop.fit`).

All three are seeded (one ``torch.Generator`` drives shuffling, pair drawing, SNRs and
channel noise) and resume from an epoch checkpoint (``<state_dir>/<name>.state.pt``,
written atomically after every epoch). The shipped weights + manifest go to ``out_dir``
(default ``models/checkpoints``) at the end.

Data: the Alice-Bob half of each training split (``models.data.split_pair_adversary``)
trains the codec and the INN; the adversary half is Eve's own data for the inversion
attack. Host/private pairs are redrawn every epoch from the generator (reproducible).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from semsim.models.checkpoint import CHECKPOINT_DIR, read_manifest, save_checkpoint
from semsim.models.data import ImageSet, dataset_sha256, load_dataset
from semsim.models.data import split_pair_adversary as _split
from semsim.models.loop import fit, minibatch_epoch
from semsim.models.metrics import psnr, ssim
from semsim.models.stego.config import (
    JSCC_PRESETS,
    SETTINGS,
    JSCCTrainConfig,
    MIATrainConfig,
    StegoTrainConfig,
    draw_pairs,
)
from semsim.models.stego.evaluation import evaluate_jscc, evaluate_link
from semsim.models.stego.jscc import DeepJSCC, apply_channel, sample_snr_db
from semsim.models.stego.loader import load_jscc
from semsim.models.stego.networks import INN, INNConfig, InversionNet
from semsim.models.stego.objective import StegoLambdas, stego_step
from semsim.models.stego.system import StegoSystem

__all__ = ["DEFAULT_STATE_DIR", "load_split", "train_jscc", "train_mia", "train_stego"]

DEFAULT_STATE_DIR = Path("runs") / "stego-state"


def load_split(
    name: str, part: str, data_dir: str | None = None, seed: int = 0, limit: int | None = None
) -> ImageSet:
    """``part``: "pair" / "adversary" (disjoint halves of the train split) or "test";
    ``limit``: only its first rows (tiny runs in tests), None for all of it."""
    if part == "test":
        data = load_dataset(name, "test", data_dir)
        return data if limit is None else data.subset(np.arange(min(limit, len(data))))
    train = load_dataset(name, "train", data_dir)
    pair, adv = _split(name, len(train), seed)
    return train.subset((pair if part == "pair" else adv)[:limit])


def _data_sha(names: Sequence[str], data_dir: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for n in dict.fromkeys(names):
        out.update({f"{n}/{k}": v for k, v in dataset_sha256(n, data_dir).items()})
    return out


def _log(msg: str) -> None:
    print(msg, flush=True)


def _cosine(opt: torch.optim.Optimizer, epochs: int, lr: float):
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs, eta_min=lr / 50)


def _run(name: str, modules: dict[str, nn.Module], opt: torch.optim.Optimizer,
         epoch: Callable[[int], dict[str, float]], cfg, gen: torch.Generator,
         state_dir: str | Path, resume: bool) -> list[dict[str, float]]:
    """The stego family's use of :func:`fit`: cosine LR per epoch, no validation."""
    return fit(name, modules, opt, epoch, epochs=cfg.epochs, generator=gen,
               scheduler=_cosine(opt, cfg.epochs, cfg.lr),
               state_path=Path(state_dir) / f"{name}.state.pt", resume=resume,
               log=_log).history


def train_jscc(
    cfg: JSCCTrainConfig,
    out_dir: str | Path = CHECKPOINT_DIR,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    data_dir: str | None = None,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
) -> Path:
    """Train a DeepJSCC preset (``cfg.name`` in :data:`JSCC_PRESETS`); returns the manifest."""
    codec_cfg, datasets = JSCC_PRESETS[cfg.name]
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train = [load_split(n, "pair", data_dir, cfg.seed, cfg.max_train) for n in datasets]
    x_all = torch.cat([d.images for d in train])
    model = DeepJSCC(codec_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step(idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        x = x_all[idx].to(device)
        snr = sample_snr_db(len(idx), cfg.snr_range_db, g)
        return (model.decoder(apply_channel(model.encoder(x), snr, "awgn", g)) - x).pow(2).mean()

    epoch = minibatch_epoch(step, len(x_all), cfg.batch_size, opt, gen, desc=cfg.name,
                            show_progress=progress)
    history = _run(cfg.name, {"model": model}, opt, epoch, cfg, gen, state_dir, resume)
    metrics: dict[str, float] = {}
    for n in datasets:
        test = load_split(n, "test", data_dir, limit=cfg.max_test)
        for snr in cfg.eval_snrs_db:
            for key, val in evaluate_jscc(model, test, snr).items():
                metrics[f"{n}/awgn{snr:g}dB/{key}"] = round(val, 4)
    _log(f"[{cfg.name}] test metrics: {json.dumps(metrics)}")
    return save_checkpoint(
        out_dir,
        cfg.name,
        {"encoder": model.encoder, "decoder": model.decoder},
        config={
            "codec": codec_cfg.to_dict(),
            "k": codec_cfg.k,
            "datasets": list(datasets),
            "snr_fed_to_network": False,
            **asdict(cfg),
        },
        metrics=metrics,
        seed=cfg.seed,
        data_sha256=_data_sha(datasets, data_dir),
        extra={"history": history},
    )


def _round_fp16_(module: nn.Module) -> dict[str, torch.Tensor]:
    """Round a module's weights to float16 in place; returns the float16 state dict."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    return {k: v.half() for k, v in module.state_dict().items()}


def train_stego(
    cfg: StegoTrainConfig,
    out_dir: str | Path = CHECKPOINT_DIR,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    checkpoint_dir: str | Path | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
) -> Path:
    """Train the INN (+ Bob's decoder) for ``cfg.setting``; returns the manifest path.

    ``checkpoint_dir``: where the shared DeepJSCC codec is read (default: shipped ones).
    """
    s = SETTINGS[cfg.setting]
    name = cfg.checkpoint_name()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    jscc = load_jscc(s.jscc, checkpoint_dir, device)
    for p in jscc.parameters():
        p.requires_grad_(False)
    priv = load_split(s.private, "pair", data_dir, cfg.seed, cfg.max_train).images
    host = (priv if s.host == s.private
            else load_split(s.host, "pair", data_dir, cfg.seed, cfg.max_train).images)
    inn_cfg = INNConfig(2 * jscc.cfg.k, cfg.blocks, cfg.hidden, cfg.depth, cfg.clamp)
    inn = INN(inn_cfg).to(device)
    bob = copy.deepcopy(jscc.decoder)
    for p in bob.parameters():
        p.requires_grad_(cfg.finetune_decoder)
    groups = [{"params": list(inn.parameters()), "lr": cfg.lr}]
    if cfg.finetune_decoder:
        groups.append({"params": list(bob.parameters()), "lr": cfg.lr * cfg.decoder_lr_scale})
    opt = torch.optim.Adam(groups)
    lam = StegoLambdas(cfg.lambda1, cfg.lambda2, cfg.lambda3, cfg.lambda4, cfg.lambda5)
    pairs: dict[str, torch.Tensor] = {}

    def step(idx: torch.Tensor, g: torch.Generator) -> dict[str, torch.Tensor]:
        xp, xh = priv[pairs["p"][idx]].to(device), host[pairs["h"][idx]].to(device)
        snr = sample_snr_db(len(idx), cfg.snr_range_db, g)
        out = stego_step(inn, jscc.encoder, bob, xp, xh, snr, lam, channel=cfg.channel,
                         l_hat_mode=cfg.l_hat_mode, generator=g)
        out.pop("xp_hat")
        return out

    batches = minibatch_epoch(step, len(priv), cfg.batch_size, opt, gen, shuffle=False,
                              grad_clip=cfg.grad_clip, desc=name, show_progress=progress)

    def epoch(ep: int) -> dict[str, float]:
        bob.train(cfg.finetune_decoder)
        pairs["p"], pairs["h"] = draw_pairs(len(priv), len(host), len(priv), gen,
                                            s.host == s.private)
        return batches(ep)

    history = _run(name, {"inn": inn, "bob_decoder": bob}, opt, epoch, cfg, gen, state_dir,
                   resume)
    inn_sd, bob_sd = _round_fp16_(inn), _round_fp16_(bob)
    system = StegoSystem(jscc, inn.eval(), bob.eval(), None, cfg.l_hat_mode).eval()
    metrics = evaluate_link(
        system, s, cfg.eval_snr_db, cfg.eval_pairs, data_dir=data_dir, seed=cfg.seed
    )
    _log(f"[{name}] test metrics: {json.dumps(metrics)}")
    return save_checkpoint(
        out_dir,
        name,
        {"inn": inn_sd, "bob_decoder": bob_sd},
        config={
            "inn": inn_cfg.to_dict(),
            "lambdas": lam.to_dict(),
            "jscc": s.jscc,
            "jscc_sha256": read_manifest(checkpoint_dir or CHECKPOINT_DIR, s.jscc)["sha256"],
            "weights_dtype": "float16",
            **asdict(cfg),
        },
        metrics=metrics,
        seed=cfg.seed,
        data_sha256=_data_sha((s.private, s.host), data_dir),
        extra={"history": history},
    )


def train_mia(
    cfg: MIATrainConfig,
    out_dir: str | Path = CHECKPOINT_DIR,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    checkpoint_dir: str | Path | None = None,
    data_dir: str | None = None,
    device: str = "cpu",
    resume: bool = True,
    progress: bool = True,
) -> Path:
    """Train Eve's inversion network on the adversary halves of the codec's datasets.

    Eve only queries the plain DeepJSCC encoder (a black box: no gradients through it) and
    observes its output through her own channel; the decoder is never used.
    """
    name = cfg.checkpoint_name()
    datasets = JSCC_PRESETS[cfg.jscc][1]
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    jscc = load_jscc(cfg.jscc, checkpoint_dir, device)
    x_all = torch.cat([load_split(n, "adversary", data_dir, cfg.seed, cfg.max_train).images
                       for n in datasets])
    c = jscc.cfg
    net_cfg = {"dim": 2 * c.k, "channels": c.channels, "image_size": c.image_size,
               "hidden": cfg.hidden}
    net = InversionNet(**net_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)

    def step(idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        x = x_all[idx].to(device)
        with torch.no_grad():
            snr = sample_snr_db(len(idx), cfg.snr_range_db, g)
            y = apply_channel(jscc.encoder(x), snr, cfg.channel, g)
        return (net(y) - x).pow(2).mean()

    epoch = minibatch_epoch(step, len(x_all), cfg.batch_size, opt, gen, desc=name,
                            show_progress=progress)
    history = _run(name, {"inversion": net}, opt, epoch, cfg, gen, state_dir, resume)
    metrics: dict[str, float] = {}
    with torch.no_grad():
        for n in datasets:
            test = load_split(n, "test", data_dir, limit=cfg.eval_images).images.to(device)
            g = torch.Generator().manual_seed(1234)
            rec = net(apply_channel(jscc.encoder(test), 15.0, "awgn", g))
            metrics[f"{n}/awgn15dB/psnr_db"] = round(float(psnr(rec, test).mean()), 4)
            metrics[f"{n}/awgn15dB/ssim"] = round(float(ssim(rec, test).mean()), 4)
    _log(f"[{name}] test metrics (plain DeepJSCC signal): {json.dumps(metrics)}")
    return save_checkpoint(
        out_dir,
        name,
        {"inversion": net},
        config={"net": net_cfg, "datasets": list(datasets), "eve_data": "adversary split",
                **asdict(cfg)},
        metrics=metrics,
        seed=cfg.seed,
        data_sha256=_data_sha(datasets, data_dir),
        extra={"history": history},
    )
