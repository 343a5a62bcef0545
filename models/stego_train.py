"""Training loops: DeepJSCC codec, INN steganography, and Eve's model-inversion network.

All three are seeded (one ``torch.Generator`` drives shuffling, pair drawing, SNRs and
channel noise), show tqdm progress bars, and resume from an epoch checkpoint
(``<state_dir>/<name>.state.pt``, written atomically after every epoch). The shipped
weights + manifest go to ``out_dir`` (default ``models/checkpoints``) at the end.

Data: the Alice-Bob half of each training split (``models.data.split_pair_adversary``)
trains the codec and the INN; the adversary half is Eve's own data for the inversion
attack. Host/private pairs are redrawn every epoch from the generator (reproducible).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from semsim.models.checkpoint import (
    CHECKPOINT_DIR,
    load_training_state,
    read_manifest,
    save_checkpoint,
    save_training_state,
)
from semsim.models.data import ImageSet, dataset_sha256, iterate_minibatches, load_dataset
from semsim.models.data import split_pair_adversary as _split
from semsim.models.jscc import DeepJSCC, JSCCConfig, apply_channel, sample_snr_db
from semsim.models.metrics import psnr, ssim

__all__ = [
    "JSCC_PRESETS",
    "JSCCTrainConfig",
    "MIATrainConfig",
    "StegoTrainConfig",
    "load_split",
    "train_jscc",
    "train_mia",
    "train_stego",
]

#: DeepJSCC codecs: checkpoint name -> (codec shape, training datasets).
JSCC_PRESETS: dict[str, tuple[JSCCConfig, tuple[str, ...]]] = {
    "jscc-gray28": (
        JSCCConfig(channels=1, image_size=28, latent_channels=16),
        ("mnist", "fashion"),
    ),
    "jscc-cifar10": (
        JSCCConfig(channels=3, image_size=32, latent_channels=8),
        ("cifar10-partial",),
    ),
}

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


def _gen_state(gen: torch.Generator) -> torch.Tensor:
    return gen.get_state()


def _run_epochs(
    name: str,
    state_dir: Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    gen: torch.Generator,
    epochs: int,
    resume: bool,
    epoch_fn: Callable[[int], dict[str, float]],
    log: Callable[[str], None] = _log,
) -> list[dict[str, float]]:
    """Run ``epoch_fn(epoch)`` for the remaining epochs, saving resume state after each."""
    path = state_dir / f"{name}.state.pt"
    history: list[dict[str, float]] = []
    start = 0
    state = load_training_state(path) if resume else None
    if state is not None:
        for key, module in modules.items():
            module.load_state_dict(state["modules"][key])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["epoch"])
        history = json.loads(state["history"])
        log(f"[{name}] resumed from {path} at epoch {start}")
    for epoch in range(start, epochs):
        t0 = time.time()
        stats = epoch_fn(epoch)
        scheduler.step()
        stats = {"epoch": epoch + 1, "seconds": round(time.time() - t0, 1), **stats}
        history.append(stats)
        log(f"[{name}] " + json.dumps(stats))
        save_training_state(
            path,
            {
                "modules": {k: m.state_dict() for k, m in modules.items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": _gen_state(gen),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch + 1,
                "history": json.dumps(history),
            },
        )
    return history


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, mininterval=2.0)


# ----------------------------------------------------------------------------- DeepJSCC


@dataclass(frozen=True)
class JSCCTrainConfig:
    """DeepJSCC training: MSE over AWGN at SNRs uniform on ``snr_range_db`` (SNR not fed)."""

    name: str = "jscc-gray28"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    snr_range_db: tuple[float, float] = (5.0, 20.0)
    seed: int = 0
    eval_snrs_db: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    max_train: int | None = None  # cap per dataset (tests); None: the whole pair split
    max_test: int | None = None  # cap per dataset on the test metrics; None: all


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
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs, eta_min=cfg.lr / 50)
    n_batches = -(-len(x_all) // cfg.batch_size)

    def epoch_fn(epoch: int) -> dict[str, float]:
        model.train()
        total, count = 0.0, 0
        batches = iterate_minibatches(len(x_all), cfg.batch_size, gen)
        for idx in _progress(batches, n_batches, f"{cfg.name} ep{epoch + 1}", progress):
            x = x_all[idx].to(device)
            snr = sample_snr_db(len(idx), cfg.snr_range_db, gen)
            y = model.decoder(apply_channel(model.encoder(x), snr, "awgn", gen))
            loss = (y - x).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return {"train_mse": total / count, "lr": sched.get_last_lr()[0]}

    history = _run_epochs(
        cfg.name, Path(state_dir), {"model": model}, opt, sched, gen, cfg.epochs, resume, epoch_fn
    )
    model.eval()
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


# ----------------------------------------------------------------------------- stego


@dataclass(frozen=True)
class StegoTrainConfig:
    """INN steganography training over a frozen, shipped DeepJSCC codec."""

    setting: str = "mnist-in-fashion"
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    lambda1: float = 1.0
    lambda2: float = 1.0
    lambda3: float = 2.0
    lambda4: float = 1.0
    lambda5: float = 1.0
    l_hat_mode: str = "zeros"
    snr_range_db: tuple[float, float] = (10.0, 20.0)
    channel: str = "awgn"
    hidden: int = 256
    depth: int = 2
    blocks: int = 8
    clamp: float = 2.0
    finetune_decoder: bool = True  # Bob fine-tunes his own copy of the DeepJSCC decoder
    decoder_lr_scale: float = 0.5
    grad_clip: float = 10.0
    seed: int = 0
    name: str | None = None  # default: stego_checkpoint_name(setting, lambda3)
    eval_pairs: int = 2000
    eval_snr_db: float = 15.0
    max_train: int | None = None  # cap on each image set (tests); None: the whole pair split

    def checkpoint_name(self) -> str:
        from semsim.models.stego import stego_checkpoint_name

        return self.name or stego_checkpoint_name(self.setting, self.lambda3)


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
    import copy

    from semsim.models.stego import (
        INN,
        SETTINGS,
        INNConfig,
        StegoLambdas,
        StegoSystem,
        draw_pairs,
        load_jscc,
        stego_step,
    )
    from semsim.models.stego_eval import evaluate_link

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
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs, eta_min=cfg.lr / 50)
    lam = StegoLambdas(cfg.lambda1, cfg.lambda2, cfg.lambda3, cfg.lambda4, cfg.lambda5)
    n_batches = -(-len(priv) // cfg.batch_size)

    def epoch_fn(epoch: int) -> dict[str, float]:
        inn.train()
        bob.train(cfg.finetune_decoder)
        pi, hi = draw_pairs(len(priv), len(host), len(priv), gen, s.host == s.private)
        sums: dict[str, float] = {}
        count = 0
        for idx in _progress(
            iterate_minibatches(len(pi), cfg.batch_size, gen, shuffle=False),
            n_batches,
            f"{name} ep{epoch + 1}",
            progress,
        ):
            xp, xh = priv[pi[idx]].to(device), host[hi[idx]].to(device)
            snr = sample_snr_db(len(idx), cfg.snr_range_db, gen)
            out = stego_step(
                inn,
                jscc.encoder,
                bob,
                xp,
                xh,
                snr,
                lam,
                channel=cfg.channel,
                l_hat_mode=cfg.l_hat_mode,
                generator=gen,
            )
            opt.zero_grad(set_to_none=True)
            out["total"].backward()
            nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], cfg.grad_clip)
            opt.step()
            for key, val in out.items():
                if key != "xp_hat":
                    sums[key] = sums.get(key, 0.0) + float(val.detach()) * len(idx)
            count += len(idx)
        return {k: round(v / count, 5) for k, v in sums.items()} | {"lr": sched.get_last_lr()[0]}

    history = _run_epochs(
        name,
        Path(state_dir),
        {"inn": inn, "bob_decoder": bob},
        opt,
        sched,
        gen,
        cfg.epochs,
        resume,
        epoch_fn,
    )
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


# ----------------------------------------------------------------------------- Eve's MIA


@dataclass(frozen=True)
class MIATrainConfig:
    """Eve's inversion network: her own images -> plain encoder -> her channel -> image."""

    jscc: str = "jscc-gray28"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    hidden: int = 512
    snr_range_db: tuple[float, float] = (10.0, 20.0)
    channel: str = "awgn"
    seed: int = 0
    name: str | None = None  # default: stego-mia-<jscc suffix>
    max_train: int | None = None  # cap per dataset (tests); None: the whole adversary split
    eval_images: int = 2000  # test images per dataset for the manifest's metrics

    def checkpoint_name(self) -> str:
        return self.name or "stego-mia-" + self.jscc.removeprefix("jscc-")


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
    from semsim.models.stego import InversionNet, load_jscc

    name = cfg.checkpoint_name()
    datasets = JSCC_PRESETS[cfg.jscc][1]
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    jscc = load_jscc(cfg.jscc, checkpoint_dir, device)
    x_all = torch.cat([load_split(n, "adversary", data_dir, cfg.seed, cfg.max_train).images
                       for n in datasets])
    c = jscc.cfg
    net_cfg = {
        "dim": 2 * c.k,
        "channels": c.channels,
        "image_size": c.image_size,
        "hidden": cfg.hidden,
    }
    net = InversionNet(**net_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs, eta_min=cfg.lr / 50)
    n_batches = -(-len(x_all) // cfg.batch_size)

    def epoch_fn(epoch: int) -> dict[str, float]:
        net.train()
        total, count = 0.0, 0
        batches = iterate_minibatches(len(x_all), cfg.batch_size, gen)
        for idx in _progress(batches, n_batches, f"{name} ep{epoch + 1}", progress):
            x = x_all[idx].to(device)
            with torch.no_grad():
                snr = sample_snr_db(len(idx), cfg.snr_range_db, gen)
                y = apply_channel(jscc.encoder(x), snr, cfg.channel, gen)
            loss = (net(y) - x).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return {"train_mse": total / count, "lr": sched.get_last_lr()[0]}

    history = _run_epochs(
        name, Path(state_dir), {"inversion": net}, opt, sched, gen, cfg.epochs, resume, epoch_fn
    )
    net.eval()
    metrics: dict[str, float] = {}
    with torch.no_grad():
        for n in datasets:
            test = load_split(n, "test", data_dir, limit=cfg.eval_images).images.to(device)
            g = torch.Generator().manual_seed(1234)
            y = apply_channel(jscc.encoder(test), 15.0, "awgn", g)
            rec = net(y)
            metrics[f"{n}/awgn15dB/psnr_db"] = round(float(psnr(rec, test).mean()), 4)
            metrics[f"{n}/awgn15dB/ssim"] = round(float(ssim(rec, test).mean()), 4)
    _log(f"[{name}] test metrics (plain DeepJSCC signal): {json.dumps(metrics)}")
    return save_checkpoint(
        out_dir,
        name,
        {"inversion": net},
        config={
            "net": net_cfg,
            "datasets": list(datasets),
            "eve_data": "adversary split",
            **asdict(cfg),
        },
        metrics=metrics,
        seed=cfg.seed,
        data_sha256=_data_sha(datasets, data_dir),
        extra={"history": history},
    )
