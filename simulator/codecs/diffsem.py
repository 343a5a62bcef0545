"""Engine adapter for DiffSem / E-DiffSem (:mod:`models.diffsem`), a thin layer over the
system's batched verbs (``prepare``, ``send``, ``decode_bob``, ``decode_eve``).

Alice encodes the source image with the shipped encoder, self-noises it to step ``tstar``
with t' chosen by Eq. 24 from the SNR Bob last fed back (``models.diffusion``; never the
true SNR) and sends unit-power features; t*, t' and the transmit power P_s travel in the
header (``h_tstar``, ``h_tprime``, ``h_power``). Bob runs the chosen receiver
(classifier-only, DiffSem or E-DiffSem); each Eve runs the model-inversion attacker and a
strong third-party classifier (the judge) scores her reconstruction, or, with
``attacker: direct``, classifies y itself with a classifier trained on her own split
(``diffsem-<dataset>-eve-direct``: no image, no judge; the strongest attacker we have).

Metric columns (per receiver; NaN where a column does not apply to the role):
``label`` (true class), ``pred`` (Bob: receiver's class; Eve: judge's class on her
reconstruction, or her direct attacker's class), ``correct`` (1.0 / 0.0: Bob's task
accuracy, Eve's leakage), ``passes`` (Bob, E-DiffSem guided passes), ``psnr_db`` and
``ssim`` (Eve's reconstruction against the source image; peak 1, 7-pixel Gaussian-window
SSIM; NaN for the direct attacker, which makes no image).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from semsim.simulator.codecs.base import (
    BatchedDecode,
    RowLayout,
    Transmission,
    per_packet_prepared,
    prepare_torch,
    to_numpy,
)
from semsim.simulator.errors import ScenarioError, check

__all__ = ["ADAPTS_TO_FEEDBACK", "DiffSemCodec", "Options", "build"]

#: Alice chooses t' from Bob's reported SNR, so forged feedback changes what she sends
ADAPTS_TO_FEEDBACK = True


@dataclass(frozen=True)
class Options:
    """dataset: which shipped checkpoint (``diffsem-<dataset>``); tstar: diffusion step of
    the self-noise (0..T-1, T from the checkpoint's config; the receivers snap it to the
    DDIM grid); receiver: classifier |
    diffsem | ediffsem; attacker: conv | mlp inversion adversary, or direct (classifies y;
    needs the ``diffsem-<dataset>-eve-direct`` checkpoint); judge: cnn | mlp strong
    classifier (inversion attackers only);
    threads: torch intra-op threads (0: torch's default; 1 suits per-packet calls)."""

    dataset: Literal["mnist", "fashion", "cifar10-partial"] = "mnist"
    tstar: int = 200
    receiver: Literal["classifier", "diffsem", "ediffsem"] = "ediffsem"
    attacker: Literal["conv", "mlp", "direct"] = "conv"
    judge: Literal["cnn", "mlp"] = "cnn"
    checkpoint_dir: str | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        from semsim.models.diffsem.checkpoints import shipped_config

        cfg = shipped_config(self.dataset, self.checkpoint_dir) or {}
        T = int(cfg.get("T", self.tstar + 1))  # no manifest: the codec reports it on load
        check(0 <= self.tstar < T, "tstar", self.tstar,
              f"must be in 0..{T - 1} (T = {T}, from the checkpoint's config)")
        check(self.threads >= 0, "threads", self.threads, "must be >= 0")


class DiffSemCodec(BatchedDecode):
    """DiffSem transmitter at Alice, receiver at Bob, attacker + judge at the Eves."""

    name = "diffsem"
    #: decode is deterministic and uses no per-replica state (the RNG is Alice's), so the
    #: packets of several replicas may share one decode call (``codec.batch_replicas``)
    shared_decode = True

    def __init__(self, options: Options, seed_sequence: np.random.SeedSequence,
                 device: str = "cpu") -> None:
        import torch

        from semsim.models.diffsem import load_diffsem

        self.options = options
        self.device = device
        loaded = load_diffsem(options.dataset, options.checkpoint_dir, device=device,
                              with_baselines=False)
        self.system = loaded.system
        self.direct = loaded.direct
        if options.attacker == "direct" and self.direct is None:
            raise ScenarioError("codec.options.attacker", "needs the checkpoint "
                                f"diffsem-{options.dataset}-eve-direct (train it: `semsim "
                                "train diffsem --stage direct --stage ship`)", "direct")
        cfg = loaded.config
        check(options.tstar < cfg.T, "tstar", options.tstar, f"must be < T = {cfg.T}")
        self.image_shape = (cfg.img_ch, cfg.img_size, cfg.img_size)
        self._gen = torch.Generator().manual_seed(int(seed_sequence.generate_state(1)[0]))

    def _images(self, sources: Mapping[str, Any]):
        import torch

        if "labels" not in sources:
            raise ScenarioError("source", "the diffsem codec needs labelled images "
                                "(source.kind: dataset)", sorted(sources))
        images = torch.as_tensor(np.asarray(sources["images"], dtype=np.float32))
        if tuple(images.shape[1:]) != self.image_shape:
            raise ScenarioError("source", f"diffsem-{self.options.dataset} needs images of "
                                f"shape {self.image_shape}", tuple(images.shape[1:]))
        return images

    def prepare_many(self, sources: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """B source packets -> B sources dicts carrying their encoder features (one batched
        encoder call; t' and the self-noise still follow each packet's SNR estimate)."""
        x0 = self.system.prepare(self._images(sources).to(self.device))
        return per_packet_prepared(sources, [{"features": x0[i:i + 1]}
                                             for i in range(x0.shape[0])])

    def encode(self, sources: Mapping[str, Any], snr_est_db: np.ndarray) -> Transmission:
        import torch

        images = self._images(sources)
        x0 = (sources["prepared"]["features"] if "prepared" in sources
              else self.system.prepare(images.to(self.device)))
        tstar = torch.full((images.shape[0],), self.options.tstar, dtype=torch.long)
        snr = torch.as_tensor(np.asarray(snr_est_db, dtype=np.float32))
        sym, hdr = self.system.send(x0, snr, self._gen, tstar=tstar)
        header = {"tstar": int(hdr["tstar"][0]), "tprime": int(hdr["tprime"][0]),
                  "power": float(hdr["power"][0])}
        if "index" in sources:
            header["source_index"] = int(np.asarray(sources["index"])[0])
        return Transmission(symbols=sym[0].double().cpu().numpy(),
                            power_per_real=self.system.power_per_real, header=header,
                            truth={"image": images, "label": int(sources["labels"][0])})

    def decode_many(self, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str]
                    ) -> list[dict[str, np.ndarray]]:
        """The primary interface. P packets x R receivers in one batch: ``decode_bob`` over
        every Bob row, ``decode_eve`` over every Eve row (each row with its own packet's
        t*, t' and label)."""
        import torch

        from semsim.models.metrics import psnr, ssim

        rows = RowLayout.of(len(txs), roles)
        packet, bob, eve = rows.packet, rows.bob, rows.eve
        y = torch.as_tensor(np.concatenate(received), dtype=torch.float32, device=self.device)
        header = {k: torch.as_tensor([t.header[k] for t in txs], dtype=torch.long)[packet]
                  for k in ("tstar", "tprime")}
        n = len(packet)
        out = {"label": np.array([t.truth["label"] for t in txs], dtype=float)[packet],
               **{k: np.full(n, np.nan) for k in ("pred", "passes", "psnr_db", "ssim")}}
        if bob.size:
            heard = self.system.decode_bob(y[bob], {k: v[bob] for k, v in header.items()},
                                           method=self.options.receiver)
            out["pred"][bob] = to_numpy(heard["logits"].argmax(1))
            if "passes" in heard:
                out["passes"][bob] = to_numpy(heard["passes"])
        if eve.size:
            heard = self.system.decode_eve(y[eve], {k: v[eve] for k, v in header.items()},
                                           attacker=self.options.attacker,
                                           judge=self.options.judge, direct=self.direct)
            out["pred"][eve] = to_numpy(heard["logits"].argmax(1))
            if "images" in heard:
                images = torch.cat([t.truth["image"] for t in txs]).to(self.device)
                image = images[torch.as_tensor(packet[eve])]
                out["psnr_db"][eve] = to_numpy(psnr(heard["images"], image))
                out["ssim"][eve] = to_numpy(ssim(heard["images"], image))
        out["correct"] = (out["pred"] == out["label"]).astype(np.float64)
        return rows.split(out)


def build(options: Options, *, seed_sequence: np.random.SeedSequence | None = None,
          device: str = "auto", **_: object) -> DiffSemCodec:
    """Plugin entry point: loads ``diffsem-<dataset>`` (sha256-checked) on ``device``."""
    device = prepare_torch(device, options.threads)
    return DiffSemCodec(options, seed_sequence or np.random.SeedSequence(0), device)
