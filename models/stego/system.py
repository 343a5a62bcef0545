"""The stego link (INN steganography over DeepJSCC): Alice, Bob and Eve as batched calls.

Alice hides a private image in a host image (:meth:`StegoSystem.hide`); only the
power-normalised container z_c is transmitted. Bob inverts the INN with l_hat in place of
the dropped l and decodes with his fine-tuned DeepJSCC decoder (:meth:`reveal`). Eve
decodes what she hears with the public DeepJSCC decoder (:meth:`naive`) or with a
model-inversion network she trained on (received signal, image) pairs from querying the
plain encoder (:meth:`mia`).

Symbols: the fine-grained methods take and return complex symbols (B, k) of unit average
power, E|s|^2 = 1 (or real vectors (B, 2k), interleaved (Re, Im)). The adapter verbs
(:meth:`prepare`, :meth:`send`, :meth:`decode_bob`, :meth:`decode_eve`) are the same as
:class:`models.diffsem.system.DiffSemSystem`'s: batches of real channel vectors (B, F)
of mean power :attr:`power_per_real` = 1/2 per real (``models.common.snr``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from semsim.models.common.snr import COMPLEX_UNIT_POWER
from semsim.models.stego.jscc import (
    DeepJSCC,
    JSCCDecoder,
    complex_to_real,
    power_normalize,
    real_to_complex,
)
from semsim.models.stego.networks import INN, InversionNet, l_hat

__all__ = ["StegoSystem"]


class StegoSystem(nn.Module):
    """Alice / Bob / Eve around one stego link; the interface the simulator calls.

    Images are (B, C, H, W) in [0, 1].
    """

    #: mean power per real dimension of what :meth:`send` returns
    power_per_real = COMPLEX_UNIT_POWER

    def __init__(
        self,
        jscc: DeepJSCC,
        inn: INN,
        bob_decoder: JSCCDecoder | None = None,
        inversion: InversionNet | None = None,
        l_hat_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.jscc = jscc
        self.inn = inn
        self.bob_decoder = bob_decoder if bob_decoder is not None else jscc.decoder
        self.inversion = inversion
        self.l_hat_mode = l_hat_mode

    @property
    def k(self) -> int:
        """Complex channel symbols per image."""
        return self.jscc.cfg.k

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the private and host images."""
        c = self.jscc.cfg
        return (c.channels, c.image_size, c.image_size)

    @staticmethod
    def _real(received: Tensor) -> Tensor:
        return complex_to_real(received) if received.is_complex() else received

    # ------------------------------------------------------------------ fine-grained
    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        """Plain DeepJSCC (no security): images -> complex symbols (B, k), power 1."""
        return real_to_complex(self.jscc.encoder(images))

    @torch.no_grad()
    def decode(self, received: Tensor) -> Tensor:
        """Plain DeepJSCC decoder (also Eve's naive decoder): (B, k) -> images."""
        return self.jscc.decoder(self._real(received))

    @torch.no_grad()
    def hide(self, private: Tensor, host: Tensor) -> Tensor:
        """Alice: (private, host) images -> container symbols z_c (B, k), power-normalised."""
        _, zc = self.inn(self.jscc.encoder(private), self.jscc.encoder(host))
        return real_to_complex(power_normalize(zc))

    @torch.no_grad()
    def reveal(self, received: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Bob: received container (B, k) -> private image (B, C, H, W)."""
        y = self._real(received)
        zp_hat, _ = self.inn.inverse(l_hat(y, self.l_hat_mode, generator), y)
        return self.bob_decoder(zp_hat)

    @torch.no_grad()
    def naive(self, received: Tensor) -> Tensor:
        """Eve, naive decoding with the public DeepJSCC decoder: (B, k) -> image."""
        return self.decode(received)

    @torch.no_grad()
    def mia(self, received: Tensor) -> Tensor:
        """Eve, model-inversion attack: her inversion network on (B, k) -> image."""
        if self.inversion is None:
            raise RuntimeError("no inversion network loaded (train it: semsim train stego-mia)")
        return self.inversion(self._real(received))

    # ------------------------------------------------------------------ adapter verbs
    @torch.no_grad()
    def prepare(self, private: Tensor, host: Tensor) -> Tensor:
        """Alice's batched, SNR-independent part: (private, host) (B, C, H, W) -> container
        (B, k) complex (:meth:`hide`)."""
        return self.hide(private, host)

    @torch.no_grad()
    def send(self, prepared: Tensor, snr_est_db: Tensor | None = None,
             generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Alice's channel input: containers (B, k) -> real symbols (B, 2k) of power
        :attr:`power_per_real`, and an empty header (the link needs no side information;
        ``snr_est_db`` and ``generator`` are unused)."""
        return complex_to_real(prepared), {}

    @torch.no_grad()
    def decode_bob(self, received: Tensor, header: Mapping[str, Tensor] | None = None,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Bob over a batch: received reals (B, 2k) -> ``{"images": private (B, C, H, W)}``
        (l_hat drawn from ``generator`` in ``gaussian`` mode)."""
        return {"images": self.reveal(received, generator)}

    @torch.no_grad()
    def decode_eve(self, received: Tensor, header: Mapping[str, Tensor] | None = None
                   ) -> dict[str, Tensor]:
        """Eve over a batch: received reals (B, 2k) -> ``{"images": naive decoding}`` and,
        with an inversion net, ``"mia"`` (her model-inversion output), each (B, C, H, W)."""
        out = {"images": self.naive(received)}
        if self.inversion is not None:
            out["mia"] = self.mia(received)
        return out
