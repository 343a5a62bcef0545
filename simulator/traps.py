"""Traps that waste a study: warnings ``semsim validate`` and ``semsim run`` print.

Errors (a codec whose dataset differs from the source's, an Eve with a feedback delay) are
raised where the scenario is validated (:class:`~semsim.simulator.scenario.Scenario`);
what is legal but almost surely not meant is a warning here:

- a receiver whose fading cannot change (it and Alice static, no environment Doppler,
  ``time_correlation: doppler``) while ``coherence_s`` is set: its one fading draw lasts the
  whole run (Doppler 0 gives AR(1) correlation J0(0) = 1 between blocks);
- after a run, receivers whose large-scale mean SNR left the SNR range the codec's
  checkpoints were trained on in at least :data:`MIN_OUTSIDE_SHARE` of their packets
  (their numbers there are extrapolations of the networks).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from semsim.simulator.codecs import CODECS
from semsim.simulator.mobility import Static
from semsim.simulator.scenario import Scenario

__all__ = ["MIN_OUTSIDE_SHARE", "scenario_warnings", "snr_range_warnings", "trained_snr_db"]

#: warn about the trained SNR range when at least this share of a receiver's packets is out
MIN_OUTSIDE_SHARE = 0.05


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Warnings about a valid scenario (each names the YAML path)."""
    out = []
    alice_static = isinstance(scenario.alice.mobility, Static)
    paths = [("bob", scenario.bob), *((f"eves[{i}]", e) for i, e in enumerate(scenario.eves))]
    for path, rx in paths:
        ch = rx.channel
        frozen = (ch.fading != "awgn" and ch.coherence_s is not None
                  and ch.time_correlation == "doppler" and ch.environment_doppler_hz == 0
                  and alice_static and isinstance(rx.mobility, Static))
        if frozen:
            out.append(f"{path}.channel: a static node with no Doppler (Alice static too, "
                       f"environment_doppler_hz: 0) keeps one {ch.fading} fading draw for the "
                       f"whole run although coherence_s = {ch.coherence_s:g} s is set; set "
                       "environment_doppler_hz (moving scatterers) or time_correlation: "
                       "independent (a new draw every block)")
    return out


def trained_snr_db(scenario: Scenario) -> tuple[float, float] | None:
    """The SNR range (dB) the codec's checkpoints were trained on, or None (no network)."""
    mod = CODECS.module(scenario.codec.name)
    fn = getattr(mod, "trained_snr_db", None)
    return None if fn is None else fn(scenario.codec.options or mod.Options())


def snr_range_warnings(df: pd.DataFrame, trained: tuple[float, float] | None,
                       roles: Sequence[str] = ("bob", "eve"),
                       min_share: float = MIN_OUTSIDE_SHARE) -> list[str]:
    """One warning per receiver whose ``mean_snr_db`` left ``trained`` in at least
    ``min_share`` of its packets."""
    if trained is None or df.empty:
        return []
    lo, hi = trained
    out = []
    rows = df[df.role.isin(list(roles))]
    for node, g in rows.groupby("node", sort=False):
        outside = float(((g.mean_snr_db < lo) | (g.mean_snr_db > hi)).mean())
        if outside >= min_share and outside > 0:
            out.append(f"{node}: mean SNR {g.mean_snr_db.min():.1f} .. "
                       f"{g.mean_snr_db.max():.1f} dB, outside the checkpoints' training "
                       f"range [{lo:g}, {hi:g}] dB in {100 * outside:.0f} % of packets "
                       "(the network extrapolates there)")
    return out
