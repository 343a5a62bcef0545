"""The SNR and power convention of the whole project (engine, codecs and models): one home.

Channel symbols travel as real arrays of shape (..., F); a complex baseband symbol is the
pair (Re, Im) of two consecutive reals (``simulator.channels.pack_complex``). The SNR of a
link is the mean signal power over the mean noise power *per real dimension*:

    y = s + n,   n ~ N(0, sigma2) per real,   sigma2 = P_s / snr,

where ``P_s`` is the mean power per real dimension of the transmitted signal. Because the
signal and the noise are measured in the same dimensions, ``snr`` is also Es/N0 per complex
symbol (Es = 2 P_s, N0 = 2 sigma2), whatever the power normalisation. Each transmitter
states its ``P_s`` instead of being rescaled to another one's:

- :data:`REAL_UNIT_POWER` (1.0): reals of unit power per real dimension (the classical
  reference codec; DiffSem's power-normalised features and the IBAL baselines);
- :data:`COMPLEX_UNIT_POWER` (0.5): complex symbols of unit average power, E|s|^2 = 1
  (DeepJSCC and the INN container of the stego family).

After one-tap zero-forcing equalisation of y = h s + n the noise is n / h, so the
post-equalisation SNR is ``snr * |h|^2`` with the same ``P_s``. SNRs are given in dB at
interfaces (``snr_db``) and converted with :func:`models.common.units.db_to_lin` only.
Works on floats, numpy arrays and torch tensors alike.
"""

from __future__ import annotations

from semsim.models.common.units import db_to_lin

__all__ = ["COMPLEX_UNIT_POWER", "REAL_UNIT_POWER", "noise_std", "noise_variance"]

#: mean power per real dimension of unit-power reals
REAL_UNIT_POWER = 1.0
#: mean power per real dimension of unit-power complex symbols (E|s|^2 = 1)
COMPLEX_UNIT_POWER = 0.5


def noise_variance(snr_db, signal_power=REAL_UNIT_POWER):
    """Noise variance per real dimension, sigma2 = P_s / snr (shapes broadcast)."""
    return signal_power / db_to_lin(snr_db)


def noise_std(snr_db, signal_power=REAL_UNIT_POWER):
    """Noise standard deviation per real dimension, sqrt(P_s / snr)."""
    return noise_variance(snr_db, signal_power) ** 0.5
