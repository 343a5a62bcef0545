"""Engine adapter for DiffSem / E-DiffSem (:mod:`models.diffsem`), a thin layer over the
system's batched verbs (``prepare``, ``send``, ``decode_bob``, ``attack``).

Alice encodes the source image with the shipped encoder, self-noises it to step ``tstar``
with t' chosen by Eq. 24 from the SNR Bob last fed back (``models.diffusion``; never the
true SNR) and sends unit-power features; t*, t' and the transmit power P_s travel in the
header (``h_tstar``, ``h_tprime``, ``h_power``; ``send_tprime: false`` withholds t'). Bob
runs the chosen receiver (classifier-only, DiffSem or E-DiffSem) with the header's t' (or,
withheld, Eq. 24 on his own current SNR estimate, as every receiver then does).

Every Eve runs the attacker ensemble in the same batched decode (:data:`ATTACKERS`,
strongest measured first; ``attackers`` narrows it scenario-wide, ``eves[i].attackers``
per Eve). What an attacker uses: the public t* from the header; t' from the header, or,
withheld, Eq. 24 on her own SNR estimate (``snr_rx_est_db``); the public encoder, through
which her attackers were trained with chosen plaintext. ``direct`` classifies y with her
own classifier (``diffsem-<dataset>-eve-direct``); ``<inversion>_<judge>`` inverts y to an
image (conv | mlp net) that a strong third-party classifier (cnn | mlp judge) labels.

Metric columns (per receiver; NaN where a column does not apply): ``label`` (true class);
``pred`` / ``correct`` (Bob: his receiver's class / task accuracy; an Eve: her *first*
attacker's, by default ``direct``); ``correct_<attacker>`` (1.0 / 0.0: each attacker's
leakage); ``leak_any`` (1.0 when any of her attackers is right: an upper bound);
``passes`` (Bob, E-DiffSem guided passes); ``psnr_<inversion>_db``, ``ssim_<inversion>``
(each inversion's image against the source; peak 1, 7-pixel Gaussian-window SSIM).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from semsim.models.diffsem.config import ATTACKERS
from semsim.simulator.codecs.base import (
    BatchedDecode,
    PacketMetrics,
    RowLayout,
    Transmission,
    per_packet_prepared,
    prepare_torch,
    receiver_attackers,
    to_numpy,
)
from semsim.simulator.errors import ScenarioError, check, check_attackers

__all__ = ["ADAPTS_TO_FEEDBACK", "ATTACKERS", "DiffSemCodec", "Options", "attackers", "build",
           "source_dataset", "trained_snr_db"]

#: Alice chooses t' from Bob's reported SNR, so forged feedback changes what she sends
ADAPTS_TO_FEEDBACK = True

#: Eve rows per attack call: bounds the memory of a large decode batch (a leakage map's
#: 400 Eves x 64 packets), results unchanged
ATTACK_CHUNK_ROWS = 2048


@dataclass(frozen=True)
class Options:
    """dataset: which shipped checkpoint (``diffsem-<dataset>``); tstar: diffusion step of
    the self-noise (0..T-1, T from the checkpoint's config; the receivers snap it to the
    DDIM grid); receiver: classifier | diffsem | ediffsem; attackers: Eve's ensemble
    (default: every attacker of :data:`ATTACKERS` whose checkpoint ships, ``direct`` first;
    an explicit ``direct`` without its checkpoint is an error); send_tprime: put t' in the
    header (false: a protocol that hides it; receivers derive it from their own SNR
    estimate); threads: torch intra-op threads (0: torch's default; 1 suits per-packet
    calls)."""

    dataset: Literal["mnist", "fashion", "cifar10-partial"] = "mnist"
    tstar: int = 200
    receiver: Literal["classifier", "diffsem", "ediffsem"] = "ediffsem"
    attackers: tuple[Literal[ATTACKERS], ...] | None = None  # type: ignore[valid-type]
    send_tprime: bool = True
    checkpoint_dir: str | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        from semsim.models.diffsem.checkpoints import shipped_config

        cfg = shipped_config(self.dataset, self.checkpoint_dir) or {}
        T = int(cfg.get("T", self.tstar + 1))  # no manifest: the codec reports it on load
        check(0 <= self.tstar < T, "tstar", self.tstar,
              f"must be in 0..{T - 1} (T = {T}, from the checkpoint's config)")
        check(self.threads >= 0, "threads", self.threads, "must be >= 0")
        if self.attackers is None:
            object.__setattr__(self, "attackers", tuple(
                a for a in ATTACKERS if a != "direct" or _has_direct(self)))
        check_attackers(self.attackers)


def _has_direct(options: Options) -> bool:
    from semsim.models.diffsem.checkpoints import direct_attacker_name
    from semsim.models.manifests import CHECKPOINT_DIR

    folder = Path(options.checkpoint_dir) if options.checkpoint_dir else CHECKPOINT_DIR
    return (folder / f"{direct_attacker_name(options.dataset)}.json").is_file()


def attackers(options: Options) -> tuple[str, ...]:
    """The attackers every Eve runs unless ``eves[i].attackers`` narrows them."""
    return tuple(options.attackers)


def source_dataset(options: Options) -> str:
    """The dataset the source must draw from (the checkpoint's)."""
    return options.dataset


def trained_snr_db(options: Options) -> tuple[float, float] | None:
    """The channel SNR range (dB) of the checkpoint's training (its manifest config)."""
    from semsim.models.diffsem.checkpoints import shipped_config

    rng = (shipped_config(options.dataset, options.checkpoint_dir) or {}).get("snr_train_db")
    return (float(rng[0]), float(rng[1])) if rng else None


class DiffSemCodec(BatchedDecode):
    """DiffSem transmitter at Alice, receiver at Bob, attacker + judge at the Eves."""

    name = "diffsem"
    #: decode is deterministic and uses no per-replica state (the RNG is Alice's), so the
    #: packets of several replicas may share one decode call (``codec.batch_replicas``)
    shared_decode = True
    decode_behind_safe = True  # decode touches no state encode uses

    def __init__(self, options: Options, seed_sequence: np.random.SeedSequence,
                 device: str = "cpu") -> None:
        import torch

        from semsim.models.diffsem import load_diffsem

        super().__init__(options, device)
        loaded = load_diffsem(options.dataset, options.checkpoint_dir, device=device,
                              with_baselines=False)
        self.system = loaded.system
        self.direct = loaded.direct
        if "direct" in options.attackers and self.direct is None:
            raise ScenarioError("codec.options.attackers", "attacker 'direct' needs the "
                                f"checkpoint diffsem-{options.dataset}-eve-direct (train it: "
                                "`semsim train diffsem --stage direct --stage ship`)",
                                list(options.attackers))
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
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str],
                    attackers: Sequence[Sequence[str] | None] | None = None
                    ) -> PacketMetrics:
        """The primary interface. P packets x R receivers in one batch: ``decode_bob`` over
        every Bob row, ``attack`` over the Eve rows (grouped by their attacker lists; each
        row with its own packet's t*, t' and label). ``attackers``: per receiver (R,), the
        Eve's list (None: the codec's ``attackers``)."""
        import torch

        rows = RowLayout.of(len(txs), roles)
        packet, bob, eve = rows.packet, rows.bob, rows.eve
        y = torch.as_tensor(np.concatenate(received), dtype=torch.float32, device=self.device)
        est = torch.as_tensor(np.concatenate(snr_est_db), dtype=torch.float32)
        header = {k: torch.as_tensor([t.header[k] for t in txs], dtype=torch.long)[packet]
                  for k in ("tstar", "tprime")}
        if not self.options.send_tprime:  # every receiver: t' from its own SNR estimate
            del header["tprime"]
        n, everyone = len(packet), tuple(self.options.attackers)
        out = {"label": np.array([t.truth["label"] for t in txs], dtype=float)[packet],
               **{k: np.full(n, np.nan) for k in ("pred", "passes", "leak_any")},
               **{f"correct_{a}": np.full(n, np.nan) for a in everyone},
               **{k: np.full(n, np.nan) for inv in _inversions(everyone)
                  for k in (f"psnr_{inv}_db", f"ssim_{inv}")}}
        if bob.size:
            heard = self.system.decode_bob(y[bob], {k: v[bob] for k, v in header.items()},
                                           method=self.options.receiver, snr_est_db=est[bob])
            out["pred"][bob] = to_numpy(heard["logits"].argmax(1))
            if "passes" in heard:
                out["passes"][bob] = to_numpy(heard["passes"])
        labels = out["label"]
        images = torch.cat([t.truth["image"] for t in txs]).to(self.device)
        lists = receiver_attackers(attackers, len(roles), everyone)
        groups = dict.fromkeys(lists[r] for r in rows.receiver[eve])
        for names in groups:
            rows_of = eve[[lists[r] == names for r in rows.receiver[eve]]]
            for start in range(0, len(rows_of), ATTACK_CHUNK_ROWS):  # bounded memory
                sel = rows_of[start:start + ATTACK_CHUNK_ROWS]
                self._attack(sel, names, y, header, est, labels, images, packet, out)
        out["correct"] = np.where(np.isnan(out["pred"]), np.nan,
                                  (out["pred"] == labels).astype(np.float64))
        return rows.split(out)

    def _attack(self, sel, names, y, header, est, labels, images, packet, out) -> None:
        """The attackers ``names`` on the Eve rows ``sel``, written into ``out``."""
        import torch

        from semsim.models.metrics import psnr, ssim

        hdr = {k: v[sel] for k, v in header.items()}
        heard = self.system.attack(y[sel], hdr, names, direct=self.direct, snr_est_db=est[sel])
        for a in names:
            pred = to_numpy(heard[f"logits_{a}"].argmax(1))
            out[f"correct_{a}"][sel] = (pred == labels[sel]).astype(np.float64)
            if a == names[0]:
                out["pred"][sel] = pred
        out["leak_any"][sel] = np.max([out[f"correct_{a}"][sel] for a in names], axis=0)
        for inv in _inversions(names):
            image = images[torch.as_tensor(packet[sel])]
            out[f"psnr_{inv}_db"][sel] = to_numpy(psnr(heard[f"images_{inv}"], image))
            out[f"ssim_{inv}"][sel] = to_numpy(ssim(heard[f"images_{inv}"], image))


def _inversions(names: Sequence[str]) -> list[str]:
    """The inversion nets the attackers ``names`` use (conv, mlp), in order."""
    return list(dict.fromkeys(a.split("_")[0] for a in names if a != "direct"))


def build(options: Options, *, seed_sequence: np.random.SeedSequence | None = None,
          device: str = "auto", **_: object) -> DiffSemCodec:
    """Plugin entry point: loads ``diffsem-<dataset>`` (sha256-checked) on ``device``."""
    device = prepare_torch(device, options.threads)
    return DiffSemCodec(options, seed_sequence or np.random.SeedSequence(0), device)
