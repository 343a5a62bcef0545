"""The one training loop of the models: epochs, LR schedule, validation with best-epoch
selection and early stopping, resumable epoch checkpoints, progress.

Every trained network goes through :func:`fit`: the DiffSem stages, the IBAL baselines,
the judges and Eve's attackers (``models.diffsem``), DeepJSCC, the INN and Eve's
inversion net (``models.stego``) and the headroom probes of ``eval_headroom``. An epoch
is whatever ``train_epoch(epoch)`` does (usually :func:`minibatch_epoch`: one optimizer
step per minibatch of a seeded permutation); after it, ``validate()`` (optional) scores
the modules in eval mode, the scheduler steps (``ReduceLROnPlateau`` on the validation
value, any other once per epoch) and the whole state (modules, optimizer, scheduler, the
batch generator, torch's global RNG, best weights, history) is saved atomically to
``state_path``. Rerunning with the same ``state_path`` resumes after the last finished
epoch and ends where an uninterrupted run ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from semsim.models.checkpoint import load_training_state, save_training_state

__all__ = ["FitResult", "batched", "fit", "minibatch_epoch", "progress"]


def progress(iterable: Iterable, total: int | None = None, desc: str | None = None,
             enabled: bool = True, mininterval: float = 10.0) -> Iterable:
    """``iterable`` wrapped in a tqdm bar (the only progress wrapper); itself when
    ``enabled`` is False or tqdm is not installed."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, mininterval=mininterval)


@torch.no_grad()
def batched(fn: Callable[[Tensor], Any], n: int, batch: int = 512,
            desc: str | None = None) -> Any:
    """``fn(index tensor)`` over ``range(n)`` in chunks of ``batch``, outputs concatenated
    along dim 0 (a tuple of tensors when ``fn`` returns tuples); no gradients."""
    outs = [fn(torch.arange(i, min(i + batch, n)))
            for i in progress(range(0, n, batch), desc=desc, enabled=desc is not None)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(z) for z in zip(*outs, strict=True))
    return torch.cat(outs)


def _mean_stats(sums: dict[str, float], count: int) -> dict[str, float]:
    return {k: v / max(count, 1) for k, v in sums.items()}


def minibatch_epoch(
    step: Callable[[Tensor, torch.Generator], Tensor | Mapping[str, Tensor]],
    n: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    *,
    shuffle: bool = True,
    grad_clip: float | None = None,
    batch_scheduler: Any = None,
    desc: str = "",
    show_progress: bool = True,
) -> Callable[[int], dict[str, float]]:
    """An epoch function for :func:`fit`: a permutation of ``range(n)`` drawn from
    ``generator`` (``shuffle``) cut into minibatches; per batch ``step(idx (b,), generator)``
    returns the loss, or a mapping of scalar terms whose ``"total"`` is the loss; then
    zero_grad, backward, optional grad-norm clipping, ``optimizer.step()`` and
    ``batch_scheduler.step()`` (a per-step LR schedule). The epoch returns the terms
    averaged over samples (``train_loss`` for a plain loss)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]

    def run(epoch: int) -> dict[str, float]:
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        sums: dict[str, float] = {}
        count = 0
        batches = range(0, n, batch_size)
        for i in progress(batches, len(batches), f"{desc} ep{epoch + 1}", show_progress):
            idx = order[i:i + batch_size]
            out = step(idx, generator)
            terms = {"train_loss": out} if isinstance(out, Tensor) else dict(out)
            loss = terms.get("train_loss", terms.get("total"))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            if batch_scheduler is not None:
                batch_scheduler.step()
            for k, v in terms.items():
                if isinstance(v, Tensor) and v.numel() == 1:
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
            count += len(idx)
        return _mean_stats(sums, count)

    return run


@dataclass
class FitResult:
    """What :func:`fit` returns. ``best`` is the best validation value (None without
    validation) reached at ``best_epoch`` (0: the starting weights, with ``keep_init``);
    ``history`` has one dict per epoch (epoch, seconds, lr, the epoch's stats, val);
    ``stopped_early``: patience ran out before ``epochs``."""

    best: float | None
    best_epoch: int | None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def epoch_seconds(self) -> list[float]:
        return [h["seconds"] for h in self.history]

    def info(self, epochs: int) -> dict[str, Any]:
        """Summary recorded in stage infos and manifests."""
        secs = self.epoch_seconds
        return {"best_val": self.best, "best_epoch": self.best_epoch,
                "epoch_s": sum(secs) / len(secs) if secs else None, "epochs": epochs}


def _snapshot(modules: Mapping[str, nn.Module]) -> dict[str, dict[str, Tensor]]:
    return {k: {n: t.detach().clone() for n, t in m.state_dict().items()}
            for k, m in modules.items()}


def _set_mode(modules: Mapping[str, nn.Module], train: bool) -> None:
    for m in modules.values():
        m.train(train)


def fit(
    name: str,
    modules: Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    train_epoch: Callable[[int], Mapping[str, float]],
    *,
    epochs: int,
    generator: torch.Generator,
    scheduler: Any = None,
    validate: Callable[[], float] | None = None,
    higher_is_better: bool = False,
    patience: int | None = None,
    keep_init: bool = False,
    state_path: str | Path | None = None,
    resume: bool = True,
    log: Callable[[str], None] = print,
) -> FitResult:
    """Train ``modules`` for ``epochs`` epochs of ``train_epoch`` and return a
    :class:`FitResult`; with ``validate`` the best epoch's weights are loaded at the end.

    ``scheduler``: stepped once per epoch after validation (``ReduceLROnPlateau`` with the
    validation value); per-step schedules go to :func:`minibatch_epoch` instead.
    ``patience``: stop after that many epochs without a better validation value (None:
    run every epoch). ``keep_init``: the starting weights compete as epoch 0.
    ``state_path``: epoch checkpoint (resume state), None for none; ``resume=False``
    ignores (and overwrites) an existing one. The modules are left in
    eval mode; ``generator`` (the batch order and noise) is saved and restored with them.
    """
    sign = -1.0 if higher_is_better else 1.0
    path = Path(state_path) if state_path is not None else None
    state = load_training_state(path) if path is not None and resume else None
    start, best, best_epoch, best_state, history = 0, None, None, None, []
    if state is not None:
        for k, m in modules.items():
            m.load_state_dict(state["modules"][k])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start, best, best_epoch = int(state["epoch"]), state["best"], state["best_epoch"]
        best_state, history = state["best_state"], json.loads(state["history"])
        log(f"[{name}] resumed from {path} at epoch {start}")
    elif keep_init and validate is not None:
        _set_mode(modules, False)
        with torch.no_grad():
            best, best_epoch, best_state = float(validate()), 0, _snapshot(modules)
        log(f"[{name}] start val {best:.4f}")
    stopped = False
    for epoch in range(start, epochs):
        if (patience is not None and best_epoch is not None
                and epoch - best_epoch >= patience):
            stopped = True
            log(f"[{name}] early stop after epoch {epoch}: best epoch {best_epoch}")
            break
        t0 = time.time()
        lr = optimizer.param_groups[0]["lr"]
        _set_mode(modules, True)
        stats = dict(train_epoch(epoch))
        row: dict[str, float] = {"epoch": epoch + 1, **stats, "lr": lr}
        if validate is not None:
            _set_mode(modules, False)
            with torch.no_grad():
                v = float(validate())
            row["val"] = v
            if best is None or sign * v < sign * best:
                best, best_epoch, best_state = v, epoch + 1, _snapshot(modules)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(row["val"])
        elif scheduler is not None:
            scheduler.step()
        row["seconds"] = round(time.time() - t0, 1)
        history.append(row)
        log(f"[{name}] " + json.dumps({k: (round(v, 5) if isinstance(v, float) else v)
                                       for k, v in row.items()}))
        if path is not None:
            save_training_state(path, {
                "modules": {k: m.state_dict() for k, m in modules.items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else {},
                "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                "epoch": epoch + 1, "best": best, "best_epoch": best_epoch,
                "best_state": best_state, "history": json.dumps(history)})
    if best_state is not None:
        for k, m in modules.items():
            m.load_state_dict(best_state[k])
    _set_mode(modules, False)
    return FitResult(best, best_epoch, history, stopped)
