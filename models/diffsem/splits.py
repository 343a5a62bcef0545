"""The DiffSem data splits: pair train / pair validation / adversary / test (seeded)."""

from __future__ import annotations

import torch

from semsim.models.data import dataset_sha256, load_dataset, split_pair_adversary

from .config import DiffSemConfig

__all__ = ["DataSplits", "load_splits"]


class DataSplits:
    """Pair train / pair val / adversary / test sets for one dataset (seeded)."""

    def __init__(self, cfg: DiffSemConfig, data_dir=None):
        train = load_dataset(cfg.dataset, "train", data_dir)
        test = load_dataset(cfg.dataset, "test", data_dir)
        pair_idx, adv_idx = split_pair_adversary(cfg.dataset, len(train), cfg.seed)
        g = torch.Generator().manual_seed(cfg.seed + 17)
        perm = torch.randperm(len(pair_idx), generator=g).numpy()
        pair_idx = pair_idx[perm]
        if cfg.max_train:
            pair_idx = pair_idx[: cfg.max_train]
            adv_idx = adv_idx[: max(cfg.max_train // 2, 2)]
        n_val = max(1, int(len(pair_idx) * cfg.val_fraction))
        self.pair = train.subset(pair_idx[n_val:])
        self.val = train.subset(pair_idx[:n_val])
        self.adv = train.subset(adv_idx)
        self.test = test if not cfg.max_train else test.subset(torch.arange(min(len(test), 200)))
        self.sha256 = dataset_sha256(cfg.dataset, data_dir)

    def to(self, device) -> DataSplits:
        for k in ("pair", "val", "adv", "test"):
            s = getattr(self, k)
            setattr(self, k, type(s)(s.images.to(device), s.labels.to(device), s.name,
                                     s.num_classes))
        return self


def load_splits(cfg: DiffSemConfig, data_dir=None) -> DataSplits:
    """The :class:`DataSplits` of ``cfg.dataset`` (``cfg.seed``, ``cfg.max_train``)."""
    return DataSplits(cfg, data_dir)
