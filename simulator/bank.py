"""The receiver bank: the link physics of every receiver of one broadcast, vectorised.

Per receiver and packet: positions (mobility), distance, relative speed and Doppler, path
loss (``pathloss``), Gudmundson shadowing over the distance moved relative to Alice
(``pathloss.shadowing_correlation``), small-scale fading as an AR(1) process on a CN(0, 1)
state per coherence block (``channels.ar1_coefficient`` / ``channels.ar1_path``) mapped to
the receiver's fading law (``channels.FadingModel.from_gaussian``), link budget -> mean
SNR, true and estimated SNR (``estimators``), capacities (``secrecy``), and the received
symbols after one-tap equalisation (``channels.equalised_noise``). The physics is
exogenous, so it is computed ``lookahead`` packets at a time as (K, R) arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semsim.models.common.seeds import stream
from semsim.models.common.snr import REAL_UNIT_POWER
from semsim.models.common.units import db_to_lin, lin_to_db
from semsim.simulator import channels as ch
from semsim.simulator import spatial
from semsim.simulator.link_budget import mean_snr_db as link_mean_snr_db
from semsim.simulator.link_budget import noise_power_dbm
from semsim.simulator.noise import NoiseBlocks
from semsim.simulator.pathloss import log_distance_path_loss_db, shadowing_correlation
from semsim.simulator.scenario import Scenario
from semsim.simulator.secrecy import capacity_bps_hz, secrecy_capacity_bps_hz

__all__ = ["Observation", "ReceiverBank"]

_SQRT_HALF = math.sqrt(0.5)
_NOISE_BUDGET = 4_000_000  # float64 values of precomputed noise per chunk (~32 MB)
_NUM_AUX = 5  # per receiver and event: 2 fading innovation, 1 shadowing, 2 estimator
#: from this many receivers on, noise is drawn ahead on a worker thread; below, one block's
#: few generator calls are cheaper than handing the GIL between threads for each of them
_PREFETCH_RECEIVERS = 64


def _groups(objs: list) -> list[tuple[object, np.ndarray | slice]]:
    """Group receivers by equal (hashable) model objects -> [(obj, index)]."""
    out: dict[object, list[int]] = {}
    for i, o in enumerate(objs):
        out.setdefault(o, []).append(i)
    if len(out) == 1:
        return [(objs[0], slice(None))]
    return [(o, np.asarray(idx)) for o, idx in out.items()]


@dataclass
class Observation:
    """What the R receivers see of packet k: per-receiver trace columns (positions, path
    loss, shadowing, fading, SNRs, capacities; see docs/traces.md) as row ``index`` of the
    chunk's arrays ``shared`` (K, R) (``rows``: that row as (R,) arrays); ``gain`` (R,)
    complex h; ``noise_var`` (R,) per real dimension (P_s / mean SNR); ``received`` (R, F)
    equalised reals."""

    time_s: float
    tx_state: np.ndarray  # (4,) Alice x_m, y_m, vx_mps, vy_mps
    shared: dict[str, np.ndarray]
    index: int
    gain: np.ndarray
    noise_var: np.ndarray  # (R,) per real dimension: P_s / mean SNR
    received: np.ndarray

    @property
    def rows(self) -> dict[str, np.ndarray]:
        """This packet's trace columns, each (R,)."""
        return {c: v[self.index] for c, v in self.shared.items()}


@dataclass
class _Chunk:
    """The physics of packets ``start`` .. ``start`` + K - 1: times (K,), Alice's states
    (K, 4), gains h (K, R), noise variance per real (K, R), trace columns (K, R)."""

    start: int
    times: np.ndarray
    tx: np.ndarray
    h: np.ndarray
    noise_var: np.ndarray
    columns: dict[str, np.ndarray]

    def equaliser(self, rows: slice):
        """The noise blocks' finish for chunk rows ``rows``: z (r, n, W), the normals of
        receivers ``receivers``, equalised in place (``channels.equalised_noise``)."""
        h, noise_var = self.h[rows].T, self.noise_var[rows].T  # (R, n)

        def finish(z: np.ndarray, receivers: slice) -> None:
            ch.equalised_noise(h[receivers], noise_var[receivers], z, overwrite=True)
        return finish


class ReceiverBank:
    """Propagation, fading and estimator state of every receiver, advanced together.

    The physics is exogenous (it depends on packet times, mobility and each receiver's own
    random streams, never on what Alice sends), so it is prepared ``lookahead`` packets at
    a time as (K, R) arrays; only the channel application to the symbols happens per
    packet. Each receiver draws from its own streams (``mobility``; ``channel``: 5 normals
    per packet for fading, shadowing and estimator; ``noise``: F per packet), so adding a
    receiver never changes another one's randomness and the lookahead never changes
    results.
    """

    def __init__(self, scenario: Scenario, seed: int, replica: int, *, alice_traj,
                 schedule, lookahead: int = 256, target_rate_bps_hz: float = 0.0) -> None:
        rxs = scenario.receivers
        link = scenario.link
        self.num = R = len(rxs)
        self.names = [r.name for r in rxs]
        self.is_eve = np.arange(R) > 0
        self.carrier_hz = link.carrier_hz
        self.alice_traj, self.schedule = alice_traj, schedule
        self.lookahead = max(1, int(lookahead))
        self.target = target_rate_bps_hz
        self.traj = [r.mobility.build(stream(seed, replica, r.name, "mobility")) for r in rxs]
        self.static_geometry = alice_traj.is_static and all(t.is_static for t in self.traj)
        self.aux_rng = [stream(seed, replica, r.name, "channel") for r in rxs]
        self.noise_rng = [stream(seed, replica, r.name, "noise") for r in rxs]
        self._noise_blocks = NoiseBlocks(self.noise_rng)
        props = [r.propagation or scenario.propagation for r in rxs]
        self.exponent = np.array([p.exponent for p in props])
        self.ref_distance_m = np.array([p.ref_distance_m for p in props])
        self.ref_loss_db = np.array([p.reference_loss_db(link.carrier_hz) for p in props])
        self.shadow_std_db = np.array([p.shadowing_std_db for p in props])
        self.decorrelation_m = np.array([p.shadowing_decorrelation_m for p in props])
        a = scenario.alice
        self.tx_power_dbm = link.tx_power_dbm if a.tx_power_dbm is None else a.tx_power_dbm
        self.tx_gain_dbi = (link.tx_antenna_gain_dbi if a.antenna_gain_dbi is None
                            else a.antenna_gain_dbi)
        self.rx_gain_dbi = np.array([link.rx_antenna_gain_dbi if r.antenna_gain_dbi is None
                                     else r.antenna_gain_dbi for r in rxs])
        self.noise_dbm = noise_power_dbm(link.bandwidth_hz, np.array(
            [link.noise_figure_db if r.noise_figure_db is None else r.noise_figure_db
             for r in rxs]))
        chans = [r.channel for r in rxs]
        self.per_packet = np.array([c.coherence_s is None for c in chans])
        self.coherence_s = np.array([c.coherence_s or 1.0 for c in chans])
        self.coherence_ns = np.maximum(np.rint(self.coherence_s * 1e9), 1).astype(np.int64)
        self.independent = np.array([c.time_correlation == "independent" for c in chans])
        self.env_doppler_hz = np.array([c.environment_doppler_hz for c in chans])
        self.fading_groups = _groups([c.model() for c in chans])
        self.estimator_groups = _groups([r.estimator.build() for r in rxs])
        # carried state: CN(0,1) fading state, N(0,1) shadowing state, last block/time
        self.spatial = scenario.spatial
        self.static_receivers = all(t.is_static for t in self.traj)
        self.update_ns = int(round(self.spatial.update_s * 1e9))
        self._spatial_groups: dict[int, tuple[spatial.Groups, spatial.Groups]] = {}
        init = np.array([g.standard_normal(3) for g in self.aux_rng])
        shadow_groups, fading_groups = self._correlation(0)
        self.g = spatial.mix((init[:, 0] + 1j * init[:, 1]) * _SQRT_HALF, fading_groups)
        self.shadow_z = spatial.mix(init[:, 2], shadow_groups)
        self.block: np.ndarray | None = None
        self.t_last = 0.0
        self.rel_last: np.ndarray | None = None
        self._chunk: _Chunk | None = None  # the packets being received
        self._next: _Chunk | None = None  # the chunk after it, once its noise is drawn ahead
        self._noise: np.ndarray | None = None  # (R, n, F) equalised noise of chunk rows
        self._noise_from = 0  # .. from row _noise_from

    def _correlation(self, epoch: int) -> tuple[spatial.Groups, spatial.Groups]:
        """(shadowing, fading) mixing groups of the receivers at the start of spatial epoch
        ``epoch`` (``spatial.update_s`` long; static receivers: computed once)."""
        if self.static_receivers:
            epoch = 0
        if epoch not in self._spatial_groups:
            self._prepare_correlation(np.array([epoch]))
        return self._spatial_groups[epoch]

    def _prepare_correlation(self, epochs: np.ndarray) -> None:
        """Mixing groups of the spatial epochs ``epochs`` (E,) (only these are kept): the
        positions and correlation matrices of all E at once, then the groups per epoch."""
        cfg = self.spatial
        t = epochs * self.update_ns / 1e9
        pos = np.stack([traj.states(t)[:, :2] for traj in self.traj], axis=1)  # (E, R, 2)
        none = [[] for _ in epochs]
        shadow = [spatial.mixing_groups(c, cfg.min_correlation)
                  for c in spatial.shadowing_correlation_matrix(
                      pos, np.where(self.shadow_std_db > 0, self.decorrelation_m, 0.0))
                  ] if cfg.shadowing else none
        fading = [spatial.mixing_groups(c, cfg.min_correlation)
                  for c in spatial.fading_correlation(pos, self.carrier_hz)
                  ] if cfg.fading else none
        self._spatial_groups = {int(e): (shadow[i], fading[i]) for i, e in enumerate(epochs)}

    def _prepare(self, k0: int) -> _Chunk | None:
        """The physics of packets k0 .. k0 + lookahead - 1 as (K, R) arrays (None past the
        end of the run). Chunks must be prepared in order: each carries the fading,
        shadowing and block state on from the one before."""
        times = self.schedule.times(k0, self.lookahead)
        K, R = len(times), self.num
        if K == 0:
            return None
        tx = self.alice_traj.states(times)
        rx = np.empty((K, R, 4))
        for i, traj in enumerate(self.traj):
            rx[:, i, :] = traj.states(times)
        rel = rx[..., :2] - tx[:, None, :2]
        dist = np.hypot(rel[..., 0], rel[..., 1])
        dv = rx[..., 2:] - tx[:, None, 2:]
        speed = np.hypot(dv[..., 0], dv[..., 1])
        pl = log_distance_path_loss_db(dist, self.exponent, self.ref_distance_m,
                                       self.ref_loss_db)
        doppler = ch.doppler_hz(speed, self.carrier_hz) + self.env_doppler_hz
        z = np.empty((K, R, _NUM_AUX))
        for i, g in enumerate(self.aux_rng):
            z[:, i, :] = g.standard_normal((K, _NUM_AUX))

        # fading: AR(1) on the CN(0,1) state, one step per elapsed coherence block
        # block index in exact integers: whole nanoseconds of time over whole nanoseconds of
        # coherence (float t / T puts a packet exactly on a boundary in either block)
        times_ns = np.rint(times * 1e9).astype(np.int64)
        blk = np.where(self.per_packet, 0.0,
                       (times_ns[:, None] // self.coherence_ns).astype(float))
        if self.per_packet.any():  # one block per packet: count packets
            count = np.arange(1, K + 1, dtype=float)[:, None]
            base = -1.0 if self.block is None else self.block
            blk = np.where(self.per_packet, base + count, blk)
        prev = np.concatenate([[blk[0] if self.block is None else self.block], blk[:-1]])
        steps = blk - prev
        self.block = blk[-1].copy()
        t_prev = np.concatenate([[self.t_last], times[:-1]])
        block_s = np.where(self.per_packet, (times - t_prev)[:, None], self.coherence_s)
        rho = np.where(self.independent, 0.0, ch.ar1_coefficient(doppler, block_s))
        w = (z[..., 0] + 1j * z[..., 1]) * _SQRT_HALF
        zs = z[..., 2]
        if self.spatial.shadowing or self.spatial.fading:  # correlate across receivers
            epochs = times_ns // self.update_ns
            unique = np.unique(epochs)
            if not self.static_receivers:
                self._prepare_correlation(unique)
            for e in unique:
                rows = epochs == e
                shadow_groups, fading_groups = self._correlation(int(e))
                if fading_groups:
                    w[rows] = spatial.mix(w[rows], fading_groups)
                if shadow_groups:
                    zs[rows] = spatial.mix(zs[rows], shadow_groups)
        changed = np.flatnonzero(steps.any(axis=1))  # the recursion runs where a block ends
        states = np.concatenate([self.g[None], ch.ar1_path(self.g, rho[changed],
                                                           steps[changed], w[changed])])
        self.g = states[-1]
        gstate = states[np.searchsorted(changed, np.arange(K), side="right")]
        h = np.empty((K, R), dtype=np.complex128)
        for model, idx in self.fading_groups:
            h[:, idx] = model.from_gaussian(gstate[:, idx])
        fading_gain = h.real**2 + h.imag**2

        # shadowing: Gudmundson AR(1) in the distance moved relative to Alice
        if self.static_geometry:
            shadow = np.broadcast_to(self.shadow_z, (K, R))
        else:
            last = rel[0] if self.rel_last is None else self.rel_last
            moved = np.diff(np.concatenate([last[None], rel]), axis=0)
            a = shadowing_correlation(np.hypot(moved[..., 0], moved[..., 1]),
                                      self.decorrelation_m)
            # Gauss-Markov in the distance moved: one AR(1) step per packet
            shadow = ch.ar1_path(self.shadow_z, a, 1.0, zs)
            self.shadow_z = shadow[-1]
        self.rel_last, self.t_last = rel[-1], float(times[-1])
        shadow_db = self.shadow_std_db * shadow
        mean_snr_db = link_mean_snr_db(self.tx_power_dbm, self.tx_gain_dbi, self.rx_gain_dbi,
                                       pl, shadow_db, self.noise_dbm)
        mean_snr = db_to_lin(mean_snr_db)
        snr_true = mean_snr * fading_gain
        snr_true_db = lin_to_db(snr_true)
        est = np.empty((K, R))
        for estimator, idx in self.estimator_groups:
            est[:, idx] = estimator.estimate(snr_true_db[:, idx], h[:, idx], mean_snr[:, idx],
                                             z[:, idx, 3:5])
        secrecy_cap = secrecy_capacity_bps_hz(snr_true, self.is_eve)
        return _Chunk(k0, times, tx, h, 1.0 / mean_snr, {
            "rx_x_m": rx[..., 0], "rx_y_m": rx[..., 1], "distance_m": dist,
            "relative_speed_mps": speed, "doppler_hz": doppler, "path_loss_db": pl,
            "shadowing_db": shadow_db, "mean_snr_db": mean_snr_db,
            "fading_gain": fading_gain, "snr_true_db": snr_true_db, "snr_rx_est_db": est,
            "capacity_bps_hz": capacity_bps_hz(snr_true),
            "secrecy_capacity_bps_hz": secrecy_cap,
            "secrecy_outage": secrecy_cap < self.target,
        })

    def _equalised_noise(self, j: int, num_features: int) -> np.ndarray:
        """Post-equalisation noise n/h (R, F) for row j of the chunk. Computed for the rest
        of the chunk at once (at most ~32 MB), from each receiver's own ``noise`` stream:
        F + F%2 normals per receiver and packet, so for a fixed F results never depend on
        the chunking. The block expected next (the rest of this chunk, or the next chunk's
        first rows: that chunk is then prepared now) is drawn and equalised ahead on a
        worker thread (:class:`~semsim.simulator.noise.NoiseBlocks`: the same values)."""
        width = num_features + num_features % 2
        noise, chunk = self._noise, self._chunk
        stale = noise is None or noise.shape[2] != width
        if stale or not 0 <= j - self._noise_from < noise.shape[1]:
            cap = max(1, _NOISE_BUDGET // (self.num * width))
            K = len(chunk.times)
            end = min(K, j + cap)
            noise = self._noise = self._noise_blocks.take(
                chunk.start + j, end - j, width, chunk.equaliser(slice(j, end)))
            self._noise_from = j
            if self.num < _PREFETCH_RECEIVERS:
                after = None
            else:
                after, a = (chunk, end) if end < K else (self._next_chunk(), 0)
            if after is not None:
                b = min(len(after.times), a + cap)
                self._noise_blocks.prefetch(after.start + a, b - a, width,
                                            after.equaliser(slice(a, b)))
        return noise[:, j - self._noise_from, :num_features]

    def _next_chunk(self) -> _Chunk | None:
        """The chunk after the current one (prepared once; None past the end)."""
        if self._next is None:
            self._next = self._prepare(self._chunk.start + len(self._chunk.times))
        return self._next

    def observe(self, k: int, symbols: np.ndarray,
                power_per_real: float = REAL_UNIT_POWER) -> Observation:
        """Receive packet k's real symbols (F,) of mean power ``power_per_real`` per real
        dimension at every receiver (packets in order): y = h s + n with noise variance
        P_s / mean SNR per real (:mod:`semsim.models.common.snr`), one-tap equalised to
        s + n/h (see ``channels.apply_one_tap``)."""
        chunk = self._chunk
        if chunk is None or not 0 <= k - chunk.start < len(chunk.times):
            expected = 0 if chunk is None else chunk.start + len(chunk.times)
            if k != expected:
                raise RuntimeError(f"packet {k} out of order: the bank expects {expected}")
            chunk = self._chunk = self._next_chunk() if chunk is not None else self._prepare(k)
            self._next = self._noise = None
            if chunk is None:
                raise RuntimeError(f"packet {k} is past the end of the run")
        j = k - chunk.start
        scale = math.sqrt(power_per_real)  # noise drawn for P_s = 1, scaled to the signal
        noise = self._equalised_noise(j, symbols.shape[-1])
        received = symbols + (noise if scale == 1.0 else scale * noise)  # x 1.0 is exact
        return Observation(float(chunk.times[j]), chunk.tx[j], chunk.columns, j, chunk.h[j],
                           power_per_real * chunk.noise_var[j], received)
