"""Classical reference codec: uncoded analog transmission of an image.

Encode: flatten the image (C*H*W pixels), remove its mean and scale to unit power per
real dimension (mean and scale travel in the header as side information); the engine packs
two reals per complex symbol. Decode, per receiver from its equalised reals y = x + n with
noise variance 1/snr: matched filter (``mf``: x_hat = y) or LMMSE
(``lmmse``: x_hat = snr_est/(1 + snr_est) y with the receiver's own SNR estimate),
then undo the scaling. Scores: image MSE, PSNR (peak 1) and the feature-domain MSE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.models.common.units import db_to_lin, lin_to_db
from semsim.simulator.codecs.base import PacketMetrics, Transmission, per_packet_prepared
from semsim.simulator.errors import check

__all__ = ["Options", "ReferenceCodec", "build"]


@dataclass(frozen=True)
class Options:
    """decoder: ``lmmse`` or ``mf``; clip: clip reconstructions to [0, 1]."""

    decoder: Literal["lmmse", "mf"] = "lmmse"
    clip: bool = True

    def __post_init__(self) -> None:
        check(self.decoder in ("lmmse", "mf"), "decoder", self.decoder, "must be lmmse or mf")


class ReferenceCodec:
    """Uncoded analog image transmission with an MF/LMMSE decoder (numpy, batched)."""

    name = "reference"
    shared_decode = True  # deterministic decode, no per-replica state
    decode_behind_safe = True  # decode touches no state encode uses

    def __init__(self, options: Options) -> None:
        self.options = options
        self.device = "cpu"

    def encode(self, sources: Mapping[str, np.ndarray], snr_est_db: np.ndarray) -> Transmission:
        if "prepared" in sources:
            return sources["prepared"]
        return self._transmission(np.asarray(sources["images"], dtype=np.float64)[0])

    def prepare_many(self, sources: Mapping[str, np.ndarray]) -> list[dict[str, object]]:
        """B packets' transmissions at once (the encoding ignores the SNR estimate), each
        equal bit for bit to what ``encode`` makes of it: means, centring and scaling as
        row-wise array operations (the same sums per row), the power by one dot per row."""
        flat = np.asarray(sources["images"], dtype=np.float64)
        flat = flat.reshape(len(flat), -1)
        mean = np.add.reduce(flat, axis=1) / flat.shape[1]
        centred = flat - mean[:, None]
        scale = [float(np.sqrt(np.dot(c, c) / c.size)) or 1.0 for c in centred]
        features = centred / np.array(scale)[:, None]
        return per_packet_prepared(sources, [
            Transmission(symbols=features[i], header={"mean": float(mean[i]),
                                                      "scale": scale[i]},
                         truth={"image": flat[i], "features": features[i]})
            for i in range(len(flat))])

    @staticmethod
    def _transmission(image: np.ndarray) -> Transmission:
        flat = image.reshape(-1)
        mean = float(np.add.reduce(flat)) / flat.size
        centred = flat - mean
        scale = float(np.sqrt(np.dot(centred, centred) / centred.size)) or 1.0
        features = centred / scale
        return Transmission(symbols=features, header={"mean": mean, "scale": scale},
                            truth={"image": flat, "features": features})

    def decode(self, tx: Transmission, received: np.ndarray, snr_est_db: np.ndarray,
               roles: Sequence[str]) -> dict[str, np.ndarray]:
        """One packet: received (R, F) -> metric arrays (R,)."""
        return self.decode_many([tx], [received], [snr_est_db], roles)[0]

    def decode_many(self, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str]
                    ) -> PacketMetrics:
        """P packets x R receivers in one vectorised pass over (P, R, F) arrays: the same
        arithmetic per receiver as one packet at a time, so the same values bit for bit."""
        y = _stack(received)  # (P, R, F)
        if self.options.decoder == "lmmse":
            snr = db_to_lin(_stack(snr_est_db))
            feats = y * (snr / (1.0 + snr))[..., None]
        else:
            feats = y
        n = y.shape[-1]
        column = (slice(None), None, None)  # per packet (P,) -> (P, 1, 1)
        err = feats - _stack([t.truth["features"] for t in txs])[:, None, :]
        feature_mse = np.einsum("prf,prf->pr", err, err) / n
        image = feats * np.array([t.header["scale"] for t in txs])[column]
        image += np.array([t.header["mean"] for t in txs])[column]
        if self.options.clip:
            np.clip(image, 0.0, 1.0, out=image)  # = min(max(x, 0), 1), in one pass
        image -= _stack([t.truth["image"] for t in txs])[:, None, :]
        mse = np.einsum("prf,prf->pr", image, image) / n
        psnr_db = -lin_to_db(mse)
        return PacketMetrics({"mse": mse, "psnr_db": psnr_db, "feature_mse": feature_mse},
                             len(txs))

def _stack(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """np.stack, without a copy for one array (the per-packet case)."""
    return arrays[0][None] if len(arrays) == 1 else np.stack(arrays)


def build(options: Options, *, seed_sequence=None, device: str = "cpu", **_: object):
    """Plugin entry point (the reference codec is deterministic and numpy-only)."""
    return ReferenceCodec(options)
