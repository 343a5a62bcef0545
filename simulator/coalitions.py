"""Colluding Eves: a coalition combines its members' received signals for every packet.

A coalition is a virtual receiver (role ``coalition``, its own trace rows) behind the
physical ones. Its members' one-tap equalised receptions r_i = s + n_i / h_i (noise
variance sigma_i^2 = P_s / snr_i per real dimension, snr_i the member's true
post-equalisation SNR) are combined with each member's own SNR estimate snr_est_i:

- ``mrc`` (maximum-ratio combining): s_hat = sum w_i r_i / sum w_i with w_i = snr_est_i;
  the output SNR is (sum w_i)^2 / sum(w_i^2 / snr_i), which equals sum snr_i when the
  estimates are perfect (the MRC bound), and the estimated output SNR is sum snr_est_i;
- ``selection``: the member with the highest estimated SNR; its reception and SNRs.

Positions, path loss, shadowing, fading and link-budget columns do not apply to a virtual
receiver (NaN in its rows); SNRs, capacities and the secrecy columns are the combiner's
output, and Bob's secrecy capacity is taken against the strongest Eve or coalition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.models.common.units import db_to_lin, lin_to_db
from semsim.simulator.errors import check
from semsim.simulator.secrecy import capacity_bps_hz, secrecy_capacity_bps_hz

__all__ = ["CoalitionConfig", "Combiner"]

@dataclass(frozen=True)
class CoalitionConfig:
    """Colluding Eves ``members`` (their names) combined by ``combining``."""

    name: str = ""
    members: tuple[str, ...] = ()
    combining: Literal["mrc", "selection"] = "mrc"

    def __post_init__(self) -> None:
        check(len(self.members) >= 1, "members", list(self.members), "name at least one Eve")
        for i, m in enumerate(self.members):
            check(m not in self.members[:i], f"members[{i}]", m, "appears twice")


class Combiner:
    """Appends the coalitions' rows to one packet's physical receptions.

    ``members``: per coalition the indices of its members among the R physical receivers;
    ``combining``: per coalition ``mrc`` or ``selection``; ``target_rate_bps_hz`` for the
    secrecy-outage flag."""

    def __init__(self, members: list[np.ndarray], combining: list[str],
                 target_rate_bps_hz: float) -> None:
        self.members, self.combining = members, combining
        self.target = target_rate_bps_hz

    def __call__(self, rows: dict[str, np.ndarray], received: np.ndarray,
                 is_eve: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(rows (R + C,), received (R + C, F)) from the physical rows (R,) and equalised
        receptions (R, F)."""
        snr = db_to_lin(rows["snr_true_db"])
        est = db_to_lin(rows["snr_rx_est_db"])
        c_true, c_est, c_rx = [], [], []
        for idx, how in zip(self.members, self.combining, strict=True):
            if how == "selection":
                best = idx[np.argmax(est[idx])]
                c_true.append(snr[best])
                c_est.append(est[best])
                c_rx.append(received[best])
            else:
                w = est[idx]
                c_true.append(w.sum() ** 2 / np.sum(w * w / snr[idx]))
                c_est.append(w.sum())
                c_rx.append(w @ received[idx] / w.sum())
        c_true, c_est = np.array(c_true), np.array(c_est)
        out = {k: np.concatenate([v, np.full(len(c_true), np.nan)]) for k, v in rows.items()}
        snr_all = np.concatenate([snr, c_true])
        adversary = np.concatenate([is_eve, np.ones(len(c_true), dtype=bool)])
        out["snr_true_db"] = lin_to_db(snr_all)
        out["snr_rx_est_db"] = np.concatenate([rows["snr_rx_est_db"], lin_to_db(c_est)])
        out["capacity_bps_hz"] = capacity_bps_hz(snr_all)
        out["secrecy_capacity_bps_hz"] = secrecy_capacity_bps_hz(snr_all, adversary)
        out["secrecy_outage"] = out["secrecy_capacity_bps_hz"] < self.target
        return out, np.concatenate([received, np.array(c_rx)])
