"""Link budget: transmit power, antenna gains, noise figure -> average SNR of a link."""

from __future__ import annotations

from dataclasses import dataclass

from semsim.models.common.units import thermal_noise_dbm
from semsim.simulator.errors import MAX_GAIN_DB, POWER_DBM, check_range

__all__ = ["LinkConfig", "mean_snr_db", "noise_power_dbm"]


@dataclass(frozen=True)
class LinkConfig:
    """Radio parameters shared by every link of the broadcast (per-node overrides exist).
    Bounds: carrier 1 kHz .. 1 THz, bandwidth 1 Hz .. 1 THz, power and gains as in
    :mod:`semsim.simulator.errors`."""

    carrier_hz: float = 2.4e9
    bandwidth_hz: float = 1.0e6
    tx_power_dbm: float = 20.0
    tx_antenna_gain_dbi: float = 0.0
    rx_antenna_gain_dbi: float = 0.0
    noise_figure_db: float = 7.0

    def __post_init__(self) -> None:
        check_range(self.carrier_hz, "carrier_hz", 1e3, 1e12)
        check_range(self.bandwidth_hz, "bandwidth_hz", 1.0, 1e12)
        check_range(self.tx_power_dbm, "tx_power_dbm", *POWER_DBM)
        check_range(self.tx_antenna_gain_dbi, "tx_antenna_gain_dbi", -MAX_GAIN_DB, MAX_GAIN_DB)
        check_range(self.rx_antenna_gain_dbi, "rx_antenna_gain_dbi", -MAX_GAIN_DB, MAX_GAIN_DB)
        check_range(self.noise_figure_db, "noise_figure_db", 0.0, MAX_GAIN_DB)


def noise_power_dbm(bandwidth_hz, noise_figure_db):
    """Receiver noise power in dBm (thermal noise + noise figure)."""
    return thermal_noise_dbm(bandwidth_hz, noise_figure_db)


def mean_snr_db(tx_power_dbm, tx_gain_dbi, rx_gain_dbi, path_loss_db, shadowing_db, noise_dbm):
    """Average SNR in dB = Pt + Gt + Gr - PL - shadowing - noise. Broadcasts.

    ``shadowing_db`` is a loss (positive = weaker signal).
    """
    return tx_power_dbm + tx_gain_dbi + rx_gain_dbi - path_loss_db - shadowing_db - noise_dbm
