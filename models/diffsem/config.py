"""DiffSem configuration and presets (paper values vs what this CPU can train)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

__all__ = ["ATTACKERS", "ConfigError", "DiffSemConfig", "PRESETS", "ibal_names", "make_config"]

#: Eve's attackers, strongest measured first: ``direct`` classifies the received features
#: (her own classifier of y, trained with chosen plaintext through the public encoder);
#: ``<inversion>_<judge>`` inverts y to an image (conv | mlp inversion net) that a strong
#: third-party classifier (cnn | mlp judge) labels
ATTACKERS = ("direct", "conv_cnn", "conv_mlp", "mlp_cnn", "mlp_mlp")


class ConfigError(ValueError):
    """A DiffSem config value out of range (the message names the key and the value)."""


@dataclass(frozen=True)
class DiffSemConfig:
    dataset: str = "mnist"
    preset: str = "cpu"
    seed: int = 0
    # diffusion
    T: int = 500
    beta_start: float = 1e-4
    beta_end: float = 0.02
    ddim_stride: int = 10
    # features: (feat_ch, latent_size, latent_size) per image (the encoders make 8 x 8)
    latent_size: int = 8
    # U-Net
    n_feat: int = 64
    context_drop: float = 0.2
    guidance_w: float = 0.0
    edf_max_iters: int = 5
    receiver_start: str = "tstar"  # or "matched"
    # training
    batch_size: int = 256
    lr: float = 1e-3
    lr_min: float = 1e-5
    snr_train_db: tuple[float, float] = (0.0, 25.0)
    tstar_train_max: int = 490  # largest t* drawn in training (pair, adversaries, Eve)
    pair_tstar_max: int | None = None  # the pair's own (None: tstar_train_max); a lever
    pair_high_frac: float = 0.0  # share of the pair's t* drawn from [pair_high_min, max]
    pair_high_min: int = 250
    pair_epochs: int = 30
    unet_epochs: int = 10
    ft_samples: int = 8000
    ft_epochs: int = 40
    ft_tstar_max: int = 400
    ft_high_frac: float = 0.0  # share of Alg. 2 samples with t* drawn from [ft_high_min, max]
    ft_high_min: int = 200
    ft_init: str = "preserve"  # Alg. 2 start: clf0 exactly (x0_hat folded onto y) | "copy" clf0
    adv_epochs: int = 6
    direct_epochs: int = 20     # Eve's direct attacker (classifies y, no image)
    direct_kind: str = "mlp"    # its YClassifier shape: small | mlp | conv
    judge_clean_epochs: int = 4  # judges first learn clean images (pair + adversary splits)
    judge_epochs: int = 8        # then clean + Eq. 11-noised + adversary outputs
    judge_batch_size: int = 64   # 4 mixed-only epochs of 256 left the CNN at 92 % clean
    judge_lr: float = 5e-4       # mixed phase
    ibal_epochs: int = 10
    ibal_lambdas: tuple[float, ...] = (0.0, 0.5, 2.0)
    val_fraction: float = 0.1
    threads: int = 1
    max_train: int | None = None  # cap on the training set (tests)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("tstar_train_max", "pair_tstar_max"):
            v = getattr(self, key)
            if v is not None and not 0 <= v < self.T:
                raise ConfigError(f"{key} = {v!r}: must be in 0..{self.T - 1} (T = {self.T})")
        for key, hi_key, top in (("pair_high_frac", "pair_high_min", self.pair_tmax),
                                 ("ft_high_frac", "ft_high_min", self.ft_tstar_max)):
            frac, lo = getattr(self, key), getattr(self, hi_key)
            if not 0.0 <= frac <= 1.0:  # also NaN
                raise ConfigError(f"{key} = {frac!r}: must be in [0, 1]")
            if frac > 0 and not 0 <= lo <= top:
                raise ConfigError(f"{hi_key} = {lo!r}: must be in 0..{top} (its t* range)")
        if self.ft_init not in ("copy", "preserve"):
            raise ConfigError(f"ft_init = {self.ft_init!r}: choose copy or preserve")

    @property
    def pair_tmax(self) -> int:
        """Largest t* the Alice-Bob pair trains on (the classifier-only reference)."""
        return self.tstar_train_max if self.pair_tstar_max is None else self.pair_tstar_max

    @property
    def feat_ch(self) -> int:
        return 3 if self.dataset.startswith("cifar") else 1

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one packet's features, the channel symbols."""
        return (self.feat_ch, self.latent_size, self.latent_size)

    @property
    def img_ch(self) -> int:
        return 3 if self.dataset.startswith("cifar") else 1

    @property
    def img_size(self) -> int:
        return 32 if self.dataset.startswith("cifar") else 28

    def to_dict(self) -> dict:
        d = asdict(self)
        d["snr_train_db"] = list(self.snr_train_db)
        d["ibal_lambdas"] = list(self.ibal_lambdas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DiffSemConfig:
        d = dict(d)
        d["snr_train_db"] = tuple(d.get("snr_train_db", (0.0, 25.0)))
        d["ibal_lambdas"] = tuple(d.get("ibal_lambdas", ()))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def ibal_names(cfg: DiffSemConfig) -> list[tuple[str, float, bool]]:
    """(name, lambda, dynamic) for every IBAL model trained; lambda 0 is shared."""
    out = []
    for lam in cfg.ibal_lambdas:
        if lam == 0:
            out.append(("ibal_l0", 0.0, False))
        else:
            tag = f"{lam:g}".replace(".", "p")
            out.append((f"ibal_l{tag}", lam, False))
            out.append((f"ibald_l{tag}", lam, True))
    return out


#: presets: ``paper`` is the paper's size (GPU); ``cpu`` what was shipped from a 2-core CPU;
#: ``tiny`` for tests.
PRESETS: dict[str, dict] = {
    "paper": dict(n_feat=128, unet_epochs=100, pair_epochs=50, adv_epochs=50, ft_samples=40000,
                  judge_epochs=20, ibal_epochs=30, threads=0),
    "cpu": dict(),
    "tiny": dict(n_feat=16, pair_epochs=1, unet_epochs=1, ft_samples=64, ft_epochs=1,
                 adv_epochs=1, judge_epochs=1, judge_clean_epochs=1, judge_batch_size=32,
                 direct_epochs=1,
                 ibal_epochs=1,
                 ibal_lambdas=(0.0, 1.0),
                 batch_size=32, max_train=300, ft_tstar_max=100),
}


def make_config(dataset: str, preset: str = "cpu", **overrides) -> DiffSemConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    base = DiffSemConfig(dataset=dataset, preset=preset)
    kw = dict(PRESETS[preset])
    if dataset.startswith("cifar") and preset == "cpu":
        kw.update(n_feat=64, unet_epochs=30, pair_epochs=40, adv_epochs=30, ft_samples=3000)
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return replace(base, **kw)
