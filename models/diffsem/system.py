"""The DiffSem system: transmitter, receivers (classifier-only / DiffSem / E-DiffSem),
adversary inversion and the strong classifier, as batched calls over packets.

Every receiver call takes a batch of packets, each with its own t* and SNR estimate, and
loops only over diffusion steps and E-DiffSem iterations, never over packets.

Scaling: ``encode`` returns symbols at unit mean power per real (what the radio sends;
``models.common.snr.REAL_UNIT_POWER``). Bob and Eve read t* and t' from the packet header
and undo the power scaling (multiply by sqrt(P_s)), so the noise on the rescaled features
has variance ``P_s / SNR``.

The adapter verbs (:meth:`DiffSemSystem.prepare`, :meth:`~DiffSemSystem.send`,
:meth:`~DiffSemSystem.decode_bob`, :meth:`~DiffSemSystem.decode_eve`) are the same as
:class:`models.stego.system.StegoSystem`'s: batches of real channel vectors (B, F), F =
C * h * w of the checkpoint's ``latent_shape``, and per-packet header tensors (B,).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsim.models.channel import awgn
from semsim.models.common.snr import REAL_UNIT_POWER, noise_variance
from semsim.models.diffusion import (
    DDIMSampler,
    NoiseSchedule,
    select_tprime,
    self_noise,
    transmit_power,
)

from .config import ATTACKERS, DiffSemConfig
from .networks import (
    ContextUNet,
    ConvAdversary,
    MLPAdversary,
    YClassifier,
    build_encoder,
    build_judges,
    build_receiver_classifier,
)

__all__ = ["ATTACKERS", "DiffSemSystem", "EDiffSemResult", "MODULE_NAMES",
           "build_direct_attacker"]

MODULE_NAMES = ("encoder", "clf0", "clf_diff", "clf_e", "unet", "adv_mlp", "adv_conv",
                "judge_mlp", "judge_cnn")


def build_direct_attacker(cfg: DiffSemConfig) -> YClassifier:
    """Eve's direct attacker (a classifier of (y, t*)), untrained."""
    return YClassifier(cfg.direct_kind, cfg.feat_ch, cfg.T)


@dataclass
class EDiffSemResult:
    logits: Tensor      # (B, n_classes) final logits
    iterations: Tensor  # (B,) number of guided passes each packet ran
    history: list[Tensor]  # argmax labels after bypass and after each pass (B,) each


class DiffSemSystem(nn.Module):
    """All DiffSem pieces for one dataset. Build with :meth:`from_config`."""

    #: mean power per real dimension of what :meth:`send` returns
    power_per_real = REAL_UNIT_POWER

    def __init__(self, cfg: DiffSemConfig):
        super().__init__()
        self.cfg = cfg
        self.schedule = NoiseSchedule(cfg.T, cfg.beta_start, cfg.beta_end)
        self.sampler = DDIMSampler(self.schedule, stride=cfg.ddim_stride)
        ds = cfg.dataset
        self.encoder = build_encoder(ds)
        self.clf0 = build_receiver_classifier(ds, cfg.T)       # classifier-only (stage 1)
        self.clf_diff = build_receiver_classifier(ds, cfg.T)   # Alg. 2 on DiffSem outputs
        self.clf_e = build_receiver_classifier(ds, cfg.T)      # Alg. 2 on guided outputs
        self.unet = ContextUNet(cfg.feat_ch, cfg.n_feat, 10, cfg.T, conditional=True)
        self.adv_mlp = MLPAdversary(cfg.feat_ch, cfg.img_ch, cfg.img_size)
        self.adv_conv = ConvAdversary(cfg.feat_ch, cfg.img_ch, cfg.img_size,
                                      width=64 if ds.startswith("cifar") else 32, T=cfg.T)
        judges = build_judges(ds)
        self.judge_mlp, self.judge_cnn = judges["judge_mlp"], judges["judge_cnn"]

    @classmethod
    def from_config(cls, cfg: DiffSemConfig) -> DiffSemSystem:
        return cls(cfg)

    # ------------------------------------------------------------------ transmitter
    def header(self, tstar: Tensor, snr_est_db: Tensor) -> dict[str, Tensor]:
        tstar = torch.as_tensor(tstar, dtype=torch.long)
        tprime = select_tprime(tstar, snr_est_db, self.schedule)
        return {"tstar": tstar, "tprime": tprime,
                "power": transmit_power(tstar, tprime, self.schedule)}

    @torch.no_grad()
    def encode(self, images: Tensor, tstar: Tensor, snr_est_db: Tensor,
               generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Alice: images (B, C, H, W) -> unit-power symbols (B, C, 8, 8) and the header.

        ``tstar``/``snr_est_db`` are per packet (B,); the header carries t*, t' (Eq. 24 with
        Bob's fed-back SNR estimate) and P_s.
        """
        return self.transmit(self.encoder(images), tstar, snr_est_db, generator)

    @torch.no_grad()
    def transmit(self, x0: Tensor, tstar: Tensor, snr_est_db: Tensor,
                 generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Alice after the encoder: features x0 (B, C, 8, 8) -> self-noised unit-power
        symbols (B, C, 8, 8) and the header (the part of :meth:`encode` that depends on
        Bob's SNR estimate)."""
        hdr = self.header(tstar.cpu(), snr_est_db.cpu())
        s = self_noise(x0, hdr["tstar"], hdr["tprime"], self.schedule, generator)
        p = hdr["power"].to(x0.device, x0.dtype).view(-1, 1, 1, 1)
        return s / p.sqrt(), hdr

    def rescale(self, received: Tensor, tstar: Tensor, tprime: Tensor | None,
                snr_est_db: Tensor | None) -> Tensor:
        """Undo the unit-power scaling using the header's t', else t' by Eq. 24 from the
        receiver's own SNR estimate (Bob's or an Eve's)."""
        if tprime is None:
            if snr_est_db is None:
                raise ValueError("need tprime (header) or snr_est_db")
            tprime = select_tprime(tstar, snr_est_db, self.schedule)
        p = transmit_power(tstar, tprime, self.schedule).to(received.device, received.dtype)
        return received * p.sqrt().view(-1, *([1] * (received.dim() - 1)))

    def link(self, x0: Tensor, tstar: Tensor, snr_db: Tensor, snr_est_db: Tensor | None = None,
             generator: torch.Generator | None = None) -> Tensor:
        """Training/eval shortcut: self-noise + AWGN, returned at Bob's scaling (noise var
        ``P_s/SNR``). ``snr_est_db`` (default: the true SNR) drives Alice's t'."""
        est = snr_db if snr_est_db is None else snr_est_db
        tstar = torch.as_tensor(tstar).cpu()
        tprime = select_tprime(tstar, torch.as_tensor(est).cpu(), self.schedule)
        s = self_noise(x0, tstar, tprime, self.schedule, generator)
        p = transmit_power(tstar, tprime, self.schedule).to(x0.device, x0.dtype)
        return awgn(s, snr_db, signal_power=p, generator=generator)

    # ------------------------------------------------------------------ diffusion
    def _start(self, y: Tensor, tstar: Tensor, tprime: Tensor | None,
               snr_est_db: Tensor | None) -> tuple[Tensor, Tensor]:
        """Start state and step of the reverse process (``receiver_start`` choice)."""
        start = self.sampler.snap(tstar)
        if self.cfg.receiver_start != "matched" or snr_est_db is None:
            return y, start
        sch = self.schedule
        tp = select_tprime(tstar, snr_est_db, sch) if tprime is None else tprime
        p = transmit_power(tstar, tp, sch)
        nv = (1.0 - sch.abar_at(tp)) + noise_variance(snr_est_db.float().cpu(), p)
        a_s = sch.abar_at(tstar)
        target = a_s / (a_s + nv)
        grid = self.sampler.timesteps.flip(0)
        ag = sch.abar_at(grid)
        tm = grid[(ag.view(1, -1) - target.view(-1, 1)).abs().argmin(1)]
        tm = torch.maximum(tm, start)
        scale = (sch.abar_at(tm) / a_s).sqrt().to(y.device, y.dtype).view(-1, 1, 1, 1)
        return y * scale, tm

    def denoise(self, y: Tensor, tstar: Tensor, context: Tensor | None = None,
                w: float | None = None, tprime: Tensor | None = None,
                snr_est_db: Tensor | None = None) -> Tensor:
        """DDIM from (snapped) t* to x0_hat, unguided (context None) or soft-label guided
        with Eq. 18 weight ``w``: eps = (1 + w) eps(x, t, c) - w eps(x, t, none)."""
        w = self.cfg.guidance_w if w is None else w
        x, start = self._start(y, tstar.cpu(), tprime, snr_est_db)
        unet = self.unet

        def eps_fn(xa: Tensor, t: Tensor, idx: Tensor) -> Tensor:
            t = t.to(xa.device)
            if context is None:
                return unet(xa, t, None)
            c = context[idx]
            if w == 0:
                return unet(xa, t, c)
            both = unet(torch.cat([xa, xa]), torch.cat([t, t]),
                        torch.cat([c, torch.zeros_like(c)]))
            ec, eu = both.chunk(2)
            return (1.0 + w) * ec - w * eu

        return self.sampler.sample(eps_fn, x, start.to(y.device))

    # ------------------------------------------------------------------ receivers
    def _prep(self, received, tstar, snr_est_db, tprime, rescaled):
        tstar = torch.as_tensor(tstar, dtype=torch.long).cpu()
        if snr_est_db is not None:
            snr_est_db = torch.as_tensor(snr_est_db, dtype=torch.float32).cpu()
        y = received if rescaled else self.rescale(received, tstar, tprime, snr_est_db)
        return y, tstar, snr_est_db

    @torch.no_grad()
    def receive(self, received: Tensor, tstar: Tensor, snr_est_db: Tensor | None = None,
                method: str = "ediffsem", tprime: Tensor | None = None,
                rescaled: bool = False) -> Tensor:
        """Bob: logits (B, n_classes) for packets ``received`` (B, C, 8, 8).

        ``method``: ``classifier`` (x0_hat := y), ``diffsem`` (one unguided pass) or
        ``ediffsem`` (soft self-label loop). ``received`` is at unit-power scaling unless
        ``rescaled``; ``tprime`` from the header (else recomputed from ``snr_est_db``).
        """
        y, tstar, snr_est_db = self._prep(received, tstar, snr_est_db, tprime, rescaled)
        tdev = tstar.to(y.device)
        if method == "classifier":
            return self.clf0(y, y, tdev)
        if method == "diffsem":
            x0h = self.denoise(y, tstar, None, tprime=tprime, snr_est_db=snr_est_db)
            return self.clf_diff(x0h, y, tdev)
        if method == "ediffsem":
            return self.receive_ediffsem(y, tstar, snr_est_db, tprime=tprime,
                                         rescaled=True).logits
        raise ValueError(f"unknown receiver method {method!r}")

    @torch.no_grad()
    def receive_ediffsem(self, received: Tensor, tstar: Tensor,
                         snr_est_db: Tensor | None = None, tprime: Tensor | None = None,
                         rescaled: bool = False, max_iters: int | None = None,
                         w: float | None = None) -> EDiffSemResult:
        """E-DiffSem: soft label from the bypass classifier guides the U-Net; the fine-tuned
        classifier relabels; repeat for packets whose argmax changed, up to ``max_iters``.
        Only the still-changing packets are recomputed (as one sub-batch)."""
        y, tstar, snr_est_db = self._prep(received, tstar, snr_est_db, tprime, rescaled)
        cap = self.cfg.edf_max_iters if max_iters is None else max_iters
        tdev = tstar.to(y.device)
        logits = self.clf0(y, y, tdev)
        labels = logits.argmax(1)
        history = [labels.clone()]
        iters = torch.zeros(y.shape[0], dtype=torch.long)
        active = torch.arange(y.shape[0], device=y.device)
        for _ in range(cap):
            if active.numel() == 0:
                break
            soft = F.softmax(logits[active], 1)
            tp = None if tprime is None else tprime[active.cpu()]
            se = None if snr_est_db is None else snr_est_db[active.cpu()]
            x0h = self.denoise(y[active], tstar[active.cpu()], soft, w=w, tprime=tp,
                               snr_est_db=se)
            new_logits = self.clf_e(x0h, y[active], tdev[active])
            new_labels = new_logits.argmax(1)
            logits[active] = new_logits
            iters[active.cpu()] += 1
            changed = new_labels != labels[active]
            labels[active] = new_labels
            history.append(labels.clone())
            active = active[changed]
        return EDiffSemResult(logits, iters, history)

    # ------------------------------------------------------------------ eavesdropper
    @torch.no_grad()
    def invert(self, received: Tensor, tstar: Tensor, snr_est_db: Tensor | None = None,
               tprime: Tensor | None = None, kind: str = "conv",
               rescaled: bool = False) -> Tensor:
        """Eve's model inversion: images (B, C, H, W) in [0, 1] from received features."""
        y, tstar, _ = self._prep(received, tstar, snr_est_db, tprime, rescaled)
        adv = self.adv_conv if kind == "conv" else self.adv_mlp
        return adv(y, tstar.to(y.device))

    @torch.no_grad()
    def strong_classify(self, images: Tensor, kind: str = "cnn") -> Tensor:
        """Third-party strong classifier logits (evaluation only)."""
        return (self.judge_cnn if kind == "cnn" else self.judge_mlp)(images)

    # ------------------------------------------------------------------ adapter verbs
    @torch.no_grad()
    def features(self, images: Tensor, batch: int = 1024) -> Tensor:
        """Encoder features (N, *latent_shape) of many images, in chunks of ``batch``."""
        from semsim.models.loop import batched

        return batched(lambda i: self.encoder(images[i]), len(images), batch)

    @torch.no_grad()
    def prepare(self, images: Tensor) -> Tensor:
        """Alice's batched, SNR-independent part: images (B, C, H, W) -> features x0
        (B, *latent_shape)."""
        return self.encoder(images)

    @torch.no_grad()
    def send(self, prepared: Tensor, snr_est_db: Tensor,
             generator: torch.Generator | None = None, *, tstar: Tensor
             ) -> tuple[Tensor, dict[str, Tensor]]:
        """Alice's channel input: features (B, ...) self-noised to ``tstar`` (B,) with t'
        from Bob's fed-back ``snr_est_db`` (B,) -> real symbols (B, F) of power
        :attr:`power_per_real` and the header (``tstar``, ``tprime``, ``power``; (B,))."""
        symbols, header = self.transmit(prepared, tstar, snr_est_db, generator)
        return symbols.flatten(1), header

    def _packets(self, received: Tensor) -> Tensor:
        return received.reshape(-1, *self.cfg.latent_shape)

    @torch.no_grad()
    def decode_bob(self, received: Tensor, header: Mapping[str, Tensor],
                   method: str = "ediffsem", snr_est_db: Tensor | None = None
                   ) -> dict[str, Tensor]:
        """Bob over a batch: received reals (B, F) with the header's ``tstar`` and
        ``tprime`` (absent: t' by Eq. 24 from his ``snr_est_db`` (B,)) -> ``{"logits": (B,
        n_classes)}`` (E-DiffSem adds ``"passes"`` (B,))."""
        y, tprime = self._packets(received), header.get("tprime")
        est = None if tprime is not None else snr_est_db  # rescale needs one of the two
        if method == "ediffsem":
            res = self.receive_ediffsem(y, header["tstar"], snr_est_db=est, tprime=tprime)
            return {"logits": res.logits, "passes": res.iterations}
        return {"logits": self.receive(y, header["tstar"], snr_est_db=est, method=method,
                                       tprime=tprime)}

    @torch.no_grad()
    def decode_eve(self, received: Tensor, header: Mapping[str, Tensor],
                   attacker: str = "conv", judge: str = "cnn",
                   direct: nn.Module | None = None) -> dict[str, Tensor]:
        """Eve over a batch: ``attacker`` conv | mlp inverts to ``"images"`` (B, C, H, W)
        that the ``judge`` classifies into ``"logits"``; ``direct`` classifies the rescaled
        y itself (``"logits"`` only; pass the direct-attacker module)."""
        y, tstar, tprime = self._packets(received), header["tstar"], header["tprime"]
        if attacker == "direct":
            if direct is None:
                raise ValueError("attacker 'direct' needs the direct-attacker module")
            ye = self.rescale(y, tstar, tprime, None)
            return {"logits": direct(ye, tstar.to(y.device))}
        images = self.invert(y, tstar, tprime=tprime, kind=attacker)
        return {"images": images, "logits": self.strong_classify(images, kind=judge)}

    @torch.no_grad()
    def attack(self, received: Tensor, header: Mapping[str, Tensor], attackers: Sequence[str],
               direct: nn.Module | None = None, snr_est_db: Tensor | None = None
               ) -> dict[str, Tensor]:
        """Every attacker of ``attackers`` (see :data:`ATTACKERS`) over one batch of Eve's
        received reals (B, F), sharing the inversions: ``{"logits_<attacker>": (B, classes),
        "images_<inversion>": (B, C, H, W)}``. What Eve uses: the header's public t*; its
        t' when sent, else (``"tprime"`` absent) t' by Eq. 24 from her own ``snr_est_db``
        (B,); the public encoder, through the attackers trained on it."""
        unknown = [a for a in attackers if a not in ATTACKERS]
        if unknown:
            raise ValueError(f"unknown attacker(s) {unknown}; choose from {ATTACKERS}")
        y, tstar = self._packets(received), header["tstar"]
        ye = self.rescale(y, tstar, header.get("tprime"), snr_est_db)  # t' withheld: Eq. 24
        out: dict[str, Tensor] = {}
        for name in attackers:
            if name == "direct":
                if direct is None:
                    raise ValueError("attacker 'direct' needs the direct-attacker module")
                out["logits_direct"] = direct(ye, tstar.to(y.device))
                continue
            inversion, judge = name.split("_")
            if f"images_{inversion}" not in out:
                out[f"images_{inversion}"] = self.invert(ye, tstar, kind=inversion,
                                                         rescaled=True)
            out[f"logits_{name}"] = self.strong_classify(out[f"images_{inversion}"], judge)
        return out
