"""Small-scale fading: AWGN, Rayleigh, Rician (K), Nakagami-m with E|h|^2 = 1.

Every fading model is driven by one complex Gaussian state g ~ CN(0, 1) per link and
coherence block, mapped to the gain h by :meth:`from_gaussian`. Time correlation between
consecutive blocks is first-order Gauss-Markov on g: g' = rho g + sqrt(1 - rho^2) w with
rho = J0(2 pi f_D T_block) (Jakes), f_D from the relative speed and the carrier.
Rayleigh h = g; Rician h = sqrt(K/(K+1)) + sqrt(1/(K+1)) g; Nakagami-m maps |g|^2 ~ Exp(1)
through the Gamma(m, 1/m) quantile (a Gaussian copula: exact Nakagami marginal, phase of g).

Symbols: real features are packed two per complex symbol, s_k = x[2k] + j x[2k+1]; noise
has variance ``noise_var`` per real dimension, P_s / snr for a signal of power P_s per real
dimension (the project's one convention, :mod:`semsim.models.common.snr`), and after
one-tap equalisation the noise variance is noise_var / |h|^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from semsim.models.common.units import SPEED_OF_LIGHT_MPS
from semsim.simulator.errors import MAX_TIME_S, check, check_range

__all__ = [
    "AWGN",
    "ChannelConfig",
    "FadingModel",
    "Nakagami",
    "Rayleigh",
    "Rician",
    "apply_one_tap",
    "ar1_coefficient",
    "ar1_gains",
    "ar1_path",
    "ar1_step",
    "complex_normal",
    "doppler_hz",
    "equalised_noise",
    "pack_complex",
    "unpack_real",
]


def complex_normal(rng: np.random.Generator, size=None) -> np.ndarray:
    """CN(0, 1) draws: real and imaginary parts each N(0, 1/2)."""
    n = 1 if size is None else int(np.prod(size))
    z = rng.standard_normal(2 * n).view(np.complex128) * math.sqrt(0.5)
    return z[0] if size is None else z.reshape(size)


def pack_complex(x: np.ndarray) -> np.ndarray:
    """Real features (..., F) -> complex symbols (..., ceil(F/2)); odd F is zero-padded."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.shape[-1] % 2:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], 1))], axis=-1)
    return x.view(np.complex128)


def unpack_real(s: np.ndarray, num_features: int) -> np.ndarray:
    """Complex symbols (..., S) -> real features (..., num_features)."""
    return np.ascontiguousarray(s).view(np.float64)[..., :num_features]


class FadingModel:
    """A fading distribution with E|h|^2 = 1, driven by a CN(0, 1) state."""

    name: str = "fading"

    def from_gaussian(self, g: np.ndarray) -> np.ndarray:
        """Map CN(0, 1) states g (any shape) to complex gains h of this distribution."""
        raise NotImplementedError

    def sample_gain(self, rng: np.random.Generator, size=None) -> np.ndarray:
        """Independent gains h (one per coherence block)."""
        return self.from_gaussian(complex_normal(rng, size))

    def power_variance(self) -> float:
        """Var(|h|^2) of this distribution (mean power is 1)."""
        raise NotImplementedError

    def apply(self, x: np.ndarray, gain, noise_var, rng: np.random.Generator) -> np.ndarray:
        """Send real features x (F,) through gains (R,) with per-real noise_var (R,) and
        equalise: returns (R, F). See :func:`apply_one_tap`."""
        gain = np.atleast_1d(np.asarray(gain, dtype=np.complex128))
        nv = np.broadcast_to(np.asarray(noise_var, dtype=float), gain.shape)
        f = x.shape[-1] + (x.shape[-1] % 2)
        z = rng.standard_normal((gain.shape[0], f))
        return apply_one_tap(x, gain, nv, z)


@dataclass(frozen=True)
class AWGN(FadingModel):
    """No fading: h = 1."""

    name = "awgn"

    def from_gaussian(self, g):
        return np.ones_like(np.asarray(g, dtype=np.complex128))

    def power_variance(self) -> float:
        return 0.0


@dataclass(frozen=True)
class Rayleigh(FadingModel):
    """h ~ CN(0, 1): |h|^2 ~ Exp(1)."""

    name = "rayleigh"

    def from_gaussian(self, g):
        return np.asarray(g, dtype=np.complex128)

    def power_variance(self) -> float:
        return 1.0


@dataclass(frozen=True)
class Rician(FadingModel):
    """Line of sight plus diffuse: h = sqrt(K/(K+1)) + sqrt(1/(K+1)) g, K linear >= 0."""

    k_factor: float = 1.0
    name = "rician"

    def from_gaussian(self, g):
        k = self.k_factor
        return math.sqrt(k / (k + 1.0)) + math.sqrt(1.0 / (k + 1.0)) * np.asarray(g)

    def power_variance(self) -> float:
        k = self.k_factor
        return (1.0 + 2.0 * k) / (1.0 + k) ** 2


@dataclass(frozen=True)
class Nakagami(FadingModel):
    """Nakagami-m amplitude (m >= 0.5): |h|^2 ~ Gamma(m, 1/m); m = 1 is Rayleigh."""

    m: float = 1.0
    name = "nakagami"

    def from_gaussian(self, g):
        g = np.asarray(g, dtype=np.complex128)
        p = g.real**2 + g.imag**2  # Exp(1)
        power = special.gammainccinv(self.m, np.exp(-p)) / self.m
        power = np.maximum(power, 1e-300)
        with np.errstate(invalid="ignore", divide="ignore"):
            phase = np.where(p > 0, g / np.sqrt(p), 1.0)
        return np.sqrt(power) * phase

    def power_variance(self) -> float:
        return 1.0 / self.m


def doppler_hz(relative_speed_mps, carrier_hz):
    """Maximum Doppler shift f_D = v * f_c / c in Hz (broadcasts)."""
    return np.asarray(relative_speed_mps, dtype=float) * (carrier_hz / SPEED_OF_LIGHT_MPS)


def ar1_coefficient(doppler, block_s):
    """Jakes correlation between consecutive blocks: rho = J0(2 pi f_D T_block)."""
    return special.j0(2.0 * math.pi * np.asarray(doppler, dtype=float)
                      * np.asarray(block_s, dtype=float))


def ar1_gains(rho, num_blocks) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of ``num_blocks`` AR(1) steps with coefficient rho taken in one go:
    a = rho^n (the state's correlation after n steps), b = sqrt(1 - a^2) (the innovation's
    weight that keeps a CN(0, 1) or N(0, 1) state stationary). Broadcasts."""
    a = np.power(np.asarray(rho, dtype=float), np.asarray(num_blocks, dtype=float))
    return a, np.sqrt(np.maximum(1.0 - a * a, 0.0))


def ar1_step(g: np.ndarray, rho, num_blocks, w: np.ndarray) -> np.ndarray:
    """Advance states g by ``num_blocks`` AR(1) steps with coefficient rho in one go:
    g' = rho^n g + sqrt(1 - rho^(2n)) w, w ~ CN(0, 1) (or N(0, 1) for real states). n = 0
    leaves g unchanged."""
    a, b = ar1_gains(rho, num_blocks)
    return a * g + b * w


def ar1_path(g: np.ndarray, rho, num_blocks, w: np.ndarray) -> np.ndarray:
    """The states after each of K successive :func:`ar1_step` calls, (K, ...): step k uses
    rho[k], num_blocks[k] and w[k] (gains computed for all K at once, the recursion per
    step). The receiver bank's fading and shadowing processes both run on it."""
    a, b = ar1_gains(rho, num_blocks)
    out = np.empty(np.broadcast_shapes(a.shape, np.shape(w)), dtype=np.result_type(g, w))
    a = np.broadcast_to(a, out.shape)
    bw = np.broadcast_to(b * w, out.shape)  # the innovations' terms, all K at once
    prev = g
    for k in range(len(out)):  # in place: the same products and sums as a * g + b * w
        np.multiply(a[k], prev, out=out[k])
        out[k] += bw[k]
        prev = out[k]
    return out


def equalised_noise(h: np.ndarray, noise_var: np.ndarray, z: np.ndarray, *,
                    overwrite: bool = False) -> np.ndarray:
    """Noise left after one-tap equalisation, n / h, as reals (..., R, F + F%2).

    h: (..., R) complex gains; noise_var: (..., R) noise variance per real dimension;
    z: (..., R, F + F%2) standard normals, paired (re, im) into complex n ~ CN(0, 2 nv);
    ``overwrite``: compute in z's memory (z must be C-contiguous; the same values).
    """
    if overwrite and not z.flags.c_contiguous:
        raise ValueError("equalised_noise(overwrite=True) needs a C-contiguous z")
    n = np.ascontiguousarray(z).view(np.complex128)
    factor = (np.sqrt(noise_var) / h)[..., None]
    if overwrite:
        return np.multiply(n, factor, out=n).view(np.float64)
    return (n * factor).view(np.float64)


def apply_one_tap(x: np.ndarray, h: np.ndarray, noise_var: np.ndarray,
                  z: np.ndarray) -> np.ndarray:
    """Channel + one-tap (zero-forcing) equalisation for R receivers in one call.

    x: (F,) real features; h: (R,) complex gains;
    noise_var: (R,) noise variance per real dimension; z: (R, F + F%2) standard normals.
    y = h s + n, s_hat = y / h = s + n / h; returns (R, F) reals whose noise variance is
    noise_var / |h|^2 per real dimension.
    """
    return x + equalised_noise(h, noise_var, z)[..., :x.shape[-1]]


@dataclass(frozen=True)
class ChannelConfig:
    """Small-scale fading of one receiver's link.

    fading: awgn | rayleigh | rician (needs k_factor, linear) | nakagami (needs m >= 0.5).
    coherence_s: block length in seconds; None -> a new block for every packet.
    time_correlation: ``doppler`` (AR(1), rho = J0(2 pi f_D T_block)) or ``independent``.
    environment_doppler_hz: Doppler of moving scatterers, added to the node-speed Doppler.
    Bounds: k_factor <= 1e6, m <= 1e4, coherence_s <= 1e9 s, environment Doppler <= 10 MHz.
    """

    fading: Literal["awgn", "rayleigh", "rician", "nakagami"] = "rayleigh"
    k_factor: float | None = None
    m: float | None = None
    coherence_s: float | None = None
    time_correlation: Literal["doppler", "independent"] = "doppler"
    environment_doppler_hz: float = 0.0

    def __post_init__(self) -> None:
        if self.fading == "rician":
            check(self.k_factor is not None, "k_factor", self.k_factor,
                  "rician fading needs k_factor (linear, >= 0)")
            check_range(self.k_factor, "k_factor", 0.0, 1e6)
        else:
            check(self.k_factor is None, "k_factor", self.k_factor,
                  f"only applies to fading: rician, not {self.fading}")
        if self.fading == "nakagami":
            check(self.m is not None, "m", self.m, "nakagami fading needs m (>= 0.5)")
            check_range(self.m, "m", 0.5, 1e4)
        else:
            check(self.m is None, "m", self.m, f"only applies to fading: nakagami, "
                  f"not {self.fading}")
        check_range(self.coherence_s, "coherence_s", 0.0, MAX_TIME_S, lo_open=True)
        check_range(self.environment_doppler_hz, "environment_doppler_hz", 0.0, 1e7)

    def model(self) -> FadingModel:
        """The fading distribution object."""
        if self.fading == "awgn":
            return AWGN()
        if self.fading == "rayleigh":
            return Rayleigh()
        if self.fading == "rician":
            return Rician(float(self.k_factor))
        return Nakagami(float(self.m))
