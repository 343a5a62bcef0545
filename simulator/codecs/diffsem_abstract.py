"""``diffsem-abstract``: DiffSem with its networks replaced by a calibrated outcome table
(:mod:`semsim.models.abstract`), the semantic PHY abstraction of ``diffsem``.

Alice picks t' by Eq. 24 from Bob's reported SNR exactly as ``diffsem`` does and sends one
zero symbol (no encoder runs); the header is diffsem's (``h_tstar``, ``h_tprime``,
``h_power``, ``h_source_index``). Each receiver's channel SNR comes from the engine
(``snr_true_db``, the SNR of its equalised reception, as the trace column), hence the
effective SNR of the features it would have decoded,
10 log10(abar_t* / (1 - abar_t' + P_s / SNR)). Each row then reads the
outcomes of one (grid cell, draw) of its packet's source image from the table, chosen by
its receiver's own seeded stream (interpolating linearly in dB between grid points), all
of one Eve's attackers jointly. Same metric columns as ``diffsem``.

Errors, never extrapolation: a source image outside the table's calibration images, an
effective SNR outside its grid, a t*, dataset, receiver or attacker the table was not
calibrated for, ``send_tprime: false`` (each receiver's decode then depends on its own SNR
estimate, which the table does not cover). Validity: docs/abstraction.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from semsim.models.abstract.table import (
    TABLE_DIR,
    effective_snr_db,
    load_table,
    select_tprime_np,
    table_name,
)
from semsim.models.diffsem.config import ATTACKERS
from semsim.simulator.codecs.abstract_common import (
    CARRIER,
    ReceiverStreams,
    channel_snr_db,
    grid_cells,
    table_images,
)
from semsim.simulator.codecs.base import (
    BatchedDecode,
    PacketMetrics,
    RowLayout,
    Transmission,
    receiver_attackers,
)
from semsim.simulator.codecs.diffsem import source_dataset, trained_snr_db
from semsim.simulator.errors import ScenarioError, check, check_attackers

__all__ = ["ADAPTS_TO_FEEDBACK", "DiffSemAbstractCodec", "Options", "attackers", "build",
           "source_dataset", "source_images", "trained_snr_db"]

#: Alice chooses t' from Bob's reported SNR, as diffsem's does
ADAPTS_TO_FEEDBACK = True


@dataclass(frozen=True)
class Options:
    """dataset, tstar, receiver: the calibrated diffsem configuration (the table
    ``diffsem-<dataset>-t<tstar>-<receiver>`` in ``table_dir``, default the shipped
    folder); attackers: Eve's ensemble (default: every attacker of the table); send_tprime:
    must stay true; draw_seed: extra key of the outcome streams (0: the run's; another
    value redraws the outcomes over the same channel); checkpoint_dir: where diffsem's
    manifest is read for its trained SNR range."""

    dataset: Literal["mnist", "fashion", "cifar10-partial"] = "mnist"
    tstar: int = 180
    receiver: Literal["classifier", "diffsem", "ediffsem"] = "ediffsem"
    attackers: tuple[Literal[ATTACKERS], ...] | None = None  # type: ignore[valid-type]
    send_tprime: bool = True
    table_dir: str | None = None
    draw_seed: int = 0
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        check(self.send_tprime, "send_tprime", self.send_tprime, "diffsem-abstract is "
              "calibrated with t' in the header; withheld, each receiver decodes with its own "
              "estimate's t', which the table does not cover (use codec diffsem)")
        check(self.draw_seed >= 0, "draw_seed", self.draw_seed, "must be >= 0")
        if self.attackers is not None:
            check_attackers(self.attackers)


def _manifest_attackers(options: Options) -> tuple[str, ...] | None:
    import json

    path = _folder(options) / f"{_name(options)}.json"
    try:
        return tuple(json.loads(path.read_text())["attackers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _folder(options: Options) -> Path:
    return Path(options.table_dir) if options.table_dir else TABLE_DIR


def _name(options: Options) -> str:
    return table_name("diffsem", options.dataset, options.tstar, options.receiver)


def source_images(options: Options) -> int | None:
    """The source may draw only the first N test images, the table's (None: unknown)."""
    return table_images(_folder(options), _name(options))


def attackers(options: Options) -> tuple[str, ...]:
    """The attackers every Eve runs unless ``eves[i].attackers`` narrows them."""
    if options.attackers is not None:
        return tuple(options.attackers)
    return _manifest_attackers(options) or tuple(ATTACKERS)


def _inversions(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(a.split("_")[0] for a in names if a != "direct"))


class DiffSemAbstractCodec:
    """Table-driven DiffSem: Eq. 24 at Alice, one table read per receiver row."""

    name = "diffsem-abstract"
    channel_snr = True  # decode_many reads snr_true_db

    def __init__(self, options: Options, seed_sequence: np.random.SeedSequence) -> None:
        self.options = options
        table = load_table(_folder(options), _name(options))
        man = table.manifest
        for key in ("dataset", "tstar", "receiver"):
            check(man.get(key) == getattr(options, key), key, getattr(options, key),
                  f"table {_name(options)} was calibrated for {key} {man.get(key)!r}")
        self.table, self.arrays = table, table.arrays
        self.abar = self.arrays["abar"]
        self.grid = self.arrays["grid_db"]
        self.table_attackers = tuple(man["attackers"])
        self.attackers = attackers(options)
        missing = [a for a in self.attackers if a not in self.table_attackers]
        if missing:
            raise ScenarioError("codec.options.attackers", f"table {_name(options)} was "
                                f"calibrated for {', '.join(self.table_attackers)}", missing)
        self.inversions = list(man["inversions"])
        self._streams = ReceiverStreams(seed_sequence, options.draw_seed)

    def encode(self, sources: Mapping[str, Any], snr_est_db: np.ndarray) -> Transmission:
        if "index" not in sources or "labels" not in sources:
            raise ScenarioError("source", "diffsem-abstract needs dataset images with their "
                                "index (source.kind: dataset)", sorted(sources))
        index, label = int(np.asarray(sources["index"])[0]), int(sources["labels"][0])
        n = self.table.num_images
        if not 0 <= index < n:
            raise ScenarioError("source.options.limit", f"the table holds the first {n} test "
                                f"images only: set source.options.limit: {n}", index)
        if int(self.arrays["labels"][index]) != label:
            raise ScenarioError("source.options", f"image {index} has label {label}, the "
                                "table's has another: the source is not the calibrated "
                                f"{self.options.dataset} test split", index)
        tstar = self.options.tstar
        tprime = int(select_tprime_np(self.abar, tstar, np.asarray(snr_est_db)[:1])[0])
        a = self.abar.astype(np.float32)
        power = float(a[tstar] + np.float32(1.0) - a[tprime])  # as diffsem's (float32)
        header = {"tstar": tstar, "tprime": tprime, "power": power, "source_index": index}
        return Transmission(symbols=CARRIER, header=header,
                            truth={"index": index, "label": label})

    decode = BatchedDecode.decode  # one packet: decode_many of a list of one

    def _cells(self, rows: RowLayout, snr_db: np.ndarray, txs: Sequence[Transmission]):
        """Per row: grid cell and draw (each (P*R,)) at its effective SNR."""
        tprime = np.array([t.header["tprime"] for t in txs])[rows.packet]
        power = np.array([t.header["power"] for t in txs])[rows.packet]
        g = effective_snr_db(self.abar, self.options.tstar, tprime, power, snr_db)
        return grid_cells(self.grid, g, self._streams.uniforms(rows, 2), self.table.num_draws,
                          rows, _name(self.options), lambda i: f"effective SNR {g[i]:.1f} dB "
                          f"(SNR {snr_db[i]:.1f} dB, t' {tprime[i]})")

    def decode_many(self, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str],
                    attackers: Sequence[Sequence[str] | None] | None = None, *,
                    snr_true_db: Sequence[np.ndarray] | None = None
                    ) -> PacketMetrics:
        """P packets x R receivers: one table read per row at its channel SNR
        (``snr_true_db``: per packet (R,), dB); same columns as diffsem."""
        rows = RowLayout.of(len(txs), roles)
        cell, draw = self._cells(rows, channel_snr_db(snr_true_db, self.name), txs)
        image = np.array([t.truth["index"] for t in txs])[rows.packet]
        n, everyone, arr = len(rows.packet), self.attackers, self.arrays
        labels = arr["labels"][image].astype(np.float64)
        out = {"label": labels,
               **{k: np.full(n, np.nan) for k in ("pred", "passes", "leak_any")},
               **{f"correct_{a}": np.full(n, np.nan) for a in everyone},
               **{k: np.full(n, np.nan) for inv in _inversions(everyone)
                  for k in (f"psnr_{inv}_db", f"ssim_{inv}")}}
        bob, eve = rows.bob, rows.eve
        key = (cell[bob], image[bob], draw[bob])
        out["pred"][bob] = arr["bob_pred"][key]
        if self.options.receiver == "ediffsem":
            out["passes"][bob] = arr["bob_passes"][key]
        lists = receiver_attackers(attackers, len(roles), everyone)
        key = (cell[eve], image[eve], draw[eve])
        preds, psnr, ssim = arr["eve_pred"][key], arr["eve_psnr_db"][key], arr["eve_ssim"][key]
        for names in dict.fromkeys(lists[r] for r in rows.receiver[eve]):
            sel = np.array([lists[r] == names for r in rows.receiver[eve]])
            at = eve[sel]
            for a in names:
                col = (preds[sel, self.table_attackers.index(a)]).astype(np.float64)
                out[f"correct_{a}"][at] = (col == labels[at]).astype(np.float64)
                if a == names[0]:
                    out["pred"][at] = col
            out["leak_any"][at] = np.max([out[f"correct_{a}"][at] for a in names], axis=0)
            for inv in _inversions(names):
                j = self.inversions.index(inv)
                out[f"psnr_{inv}_db"][at] = psnr[sel, j]
                out[f"ssim_{inv}"][at] = ssim[sel, j]
        out["correct"] = np.where(np.isnan(out["pred"]), np.nan,
                                  (out["pred"] == labels).astype(np.float64))
        return rows.split(out)


def build(options: Options, *, seed_sequence: np.random.SeedSequence | None = None,
          **_: object) -> DiffSemAbstractCodec:
    """Plugin entry point: loads the table (sha256-checked); no torch."""
    return DiffSemAbstractCodec(options, seed_sequence or np.random.SeedSequence(0))
