"""Shared basics, the lowest layer: both ``semsim.models`` and ``semsim.simulator`` import it.

One home per idea, each importing only the standard library, numpy and scipy (torch only
lazily, where a function returns a torch object):

- ``units``: dB <-> linear (floats, arrays, tensors), dBm <-> W, thermal noise;
- ``snr``: the one SNR and power convention (noise per real dimension, P_s / snr);
- ``seeds``: random streams and torch generators from a ``numpy.random.SeedSequence``;
- ``provenance``: sha256, git state (commit, dirty, diff hash), command line, versions,
  atomic writes;
- ``device``: resolving ``auto`` / ``cpu`` / ``cuda`` once;
- ``stats``: confidence intervals;
- ``names``: the rule for user-given file and folder names.
"""

__all__: list[str] = []
