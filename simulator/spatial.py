"""Spatial correlation between receivers near each other: shadowing and small-scale fading.

Two receivers d metres apart see correlated channels from Alice:

- shadowing (Gudmundson): corr = exp(-d / d_corr), d_corr the receivers'
  ``shadowing_decorrelation_m`` (their mean; 0 means "no spatial correlation");
- small-scale fading (Jakes / Clarke, isotropic scattering): corr of the complex gains =
  J0(2 pi d / lambda), lambda = c / carrier: an Eve a tenth of a wavelength from Bob sees
  nearly his fading (J0 = 0.90), one several wavelengths away an independent one.

The receiver bank draws every receiver's normals from its own stream and mixes them with
the Cholesky factor L of the correlation matrix (L z ~ N(0, C)): the initial states and
each AR(1) innovation, so marginals stay exactly as without correlation (unit-variance
Gaussian states, so Rayleigh, Rician and Nakagami laws are unchanged) and two receivers
with the same AR(1) coefficient have the stationary correlation C. Receivers are grouped
by the pairs whose correlation reaches ``min_correlation``; receivers in no group are not
mixed at all (their traces equal those without spatial correlation), and L is lower
triangular in receiver order, so an Eve added after the others never changes them.
Moving receivers' correlation is recomputed every ``update_s`` seconds of simulated time
(positions at the start of each interval). The mixing products run on one BLAS thread: a
multi-threaded product of a large group sums in another order (the trace would depend on
the machine's core count) and leaves BLAS threads spinning on the cores the engine's own
threads use.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from threadpoolctl import ThreadpoolController

from semsim.models.common.units import SPEED_OF_LIGHT_MPS
from semsim.simulator.errors import check

__all__ = ["Groups", "SpatialConfig", "any_linked", "fading_correlation", "mix", "mixing_groups",
           "shadowing_correlation_matrix"]

#: up to this many receivers, components come from a search on the dense matrix
_DENSE_COMPONENTS = 64

#: [(receiver indices (G,), lower-triangular mixing matrix (G, G))] of groups with G > 1
Groups = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SpatialConfig:
    """Spatial correlation of receivers' channels (see the module docstring). ``shadowing``
    / ``fading``: correlate that part; ``update_s``: how often moving receivers' correlation
    is recomputed (s); ``min_correlation``: pairs below it are treated as independent."""

    shadowing: bool = True
    fading: bool = True
    update_s: float = 0.1
    min_correlation: float = 0.05

    def __post_init__(self) -> None:
        check(self.update_s > 0 and math.isfinite(self.update_s), "update_s", self.update_s,
              "must be > 0 and finite")
        check(0 < self.min_correlation < 1, "min_correlation", self.min_correlation,
              "must be in (0, 1)")


def _distances(pos_m: np.ndarray) -> np.ndarray:
    """Pairwise distances (..., R, R) of positions (..., R, 2)."""
    d = pos_m[..., :, None, :] - pos_m[..., None, :, :]
    return np.hypot(d[..., 0], d[..., 1])


def shadowing_correlation_matrix(pos_m: np.ndarray, decorrelation_m: np.ndarray) -> np.ndarray:
    """Gudmundson correlation exp(-d_ij / d_corr,ij) between receivers at ``pos_m`` (..., R,
    2), d_corr,ij the mean of their decorrelation distances (R,); a pair with a 0 is
    uncorrelated (unit diagonal). Returns (..., R, R)."""
    dc = 0.5 * (decorrelation_m[:, None] + decorrelation_m[None, :])
    ok = (decorrelation_m[:, None] > 0) & (decorrelation_m[None, :] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(ok, np.exp(-_distances(pos_m) / np.where(ok, dc, 1.0)), 0.0)
    diag = np.arange(len(decorrelation_m))
    c[..., diag, diag] = 1.0
    return c


def fading_correlation(pos_m: np.ndarray, carrier_hz: float) -> np.ndarray:
    """Jakes spatial correlation J0(2 pi d_ij / lambda) of the complex gains (..., R, R)."""
    return special.j0(2.0 * math.pi * _distances(pos_m) * (carrier_hz / SPEED_OF_LIGHT_MPS))


def any_linked(corr: np.ndarray, min_correlation: float) -> np.ndarray:
    """Whether any pair of distinct receivers reaches ``min_correlation``, per matrix of
    ``corr`` (..., R, R) -> (...,) (False: :func:`mixing_groups` would return [])."""
    return np.count_nonzero(np.abs(corr) >= min_correlation, axis=(-2, -1)) > corr.shape[-1]


def mixing_groups(corr: np.ndarray, min_correlation: float) -> Groups:
    """Groups of receivers linked by |corr| >= ``min_correlation`` and each group's mixing
    matrix L (lower triangular, L L^T = C; an eigen-decomposition square root when the
    truncated C is not positive definite)."""
    if not any_linked(corr, min_correlation):  # only the diagonal: nobody is mixed
        return []
    linked = np.abs(corr) >= min_correlation
    groups: Groups = []
    for idx in _components(linked):
        if len(idx) < 2:
            continue
        c = np.where(linked[np.ix_(idx, idx)], corr[np.ix_(idx, idx)], 0.0)
        groups.append((idx, _lower_factor(c)))
    return groups


def _components(linked: np.ndarray) -> list[np.ndarray]:
    """Connected components of the symmetric boolean matrix ``linked`` (R, R), each as
    sorted receiver indices, in order of their first receiver. A few receivers: a
    breadth-first search on the matrix (scipy's sparse graph costs more to build)."""
    if len(linked) > _DENSE_COMPONENTS:
        num, label = connected_components(csr_matrix(linked), directed=False)
        return [np.flatnonzero(label == g) for g in range(num)]
    seen = np.zeros(len(linked), dtype=bool)
    out = []
    for i in range(len(linked)):
        if seen[i]:
            continue
        members = linked[i].copy()
        members[i] = True
        frontier = members
        while frontier.any():
            frontier = linked[frontier].any(axis=0) & ~members
            members |= frontier
        seen |= members
        out.append(np.flatnonzero(members))
    return out


def _lower_factor(c: np.ndarray) -> np.ndarray:
    """L with L L^T = C and unit-norm rows: Cholesky (the first row is exactly e_1, so the
    group's first receiver keeps its own draw bit for bit), with a tiny diagonal load for a
    nearly singular C (receivers almost on top of each other), else an eigen square root
    of the positive part."""
    for load in (0.0, 1e-10, 1e-6):
        try:
            lower = np.linalg.cholesky(c + load * np.eye(len(c)))
            break
        except np.linalg.LinAlgError:
            continue
    else:
        val, vec = np.linalg.eigh(c)
        lower = vec * np.sqrt(np.clip(val, 0.0, None))
    return lower / np.linalg.norm(lower, axis=1, keepdims=True)  # unit marginals


def mix(z: np.ndarray, groups: Groups) -> np.ndarray:
    """Correlate independent unit normals ``z`` (..., R) (real or complex) across the
    receiver axis: within each group z_g <- L z_g. Returns a new array (``z`` itself when
    there is no group)."""
    if not groups:
        return z
    out = z.copy()
    work = sum(len(idx) ** 2 for idx, _ in groups) * (z.size // z.shape[-1])
    with _one_blas_thread() if work > _SMALL_PRODUCT else contextlib.nullcontext():
        for idx, lower in groups:
            out[..., idx] = z[..., idx] @ lower.T
    return out


#: multiply-adds below which a product runs on one BLAS thread anyway (OpenBLAS splits a
#: gemm only above 262,144), so setting the limit (15 us) is skipped
_SMALL_PRODUCT = 32_768


@functools.cache
def _openblas() -> ThreadpoolController:
    """numpy's and scipy's OpenBLAS (found once)."""
    return ThreadpoolController().select(internal_api="openblas")


def _one_blas_thread():
    """Context in which OpenBLAS (numpy's, scipy's) runs on one thread; torch's own
    threads (OpenMP) are left alone."""
    return _openblas().limit(limits=1)
