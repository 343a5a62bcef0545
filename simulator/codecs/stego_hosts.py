"""Alice's host draw from a stego calibration table's host pool.

``stego-abstract`` can only tell the outcome of the (private image, host) pairs its table
was calibrated on: H hosts per private image (``host_index`` (N, H), rows of the host
split). :class:`TableHosts` is that draw, in one place, so that ``stego`` with
``host_pool: table`` draws the very same host packet by packet as its abstraction on the
same seeds (both take Alice's host stream, the codec seed sequence's first child): a
neural run and an abstract run then differ only by the channel and decoder abstraction,
not by which hosts were drawn (common random numbers for validation, docs/abstraction.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from semsim.models.abstract.stego_calibration import stego_table_name
from semsim.models.abstract.table import TABLE_DIR, AbstractTable, load_table
from semsim.simulator.errors import ScenarioError, check

__all__ = ["TableHosts", "load_stego_table", "table_location"]

_BLOCK = 256  # host choices drawn at a time


def table_location(options: Any) -> tuple[Path, str]:
    """(folder, name) of the stego table of ``options`` (``stego`` or ``stego-abstract``:
    setting, checkpoint, host_split, l_hat, table_dir): ``<checkpoint>-<host_split>-<l_hat>``
    in ``table_dir``, default the shipped folder."""
    from semsim.models.stego.settings import default_checkpoint

    name = stego_table_name(options.checkpoint or default_checkpoint(options.setting),
                            options.host_split, options.l_hat)
    return (Path(options.table_dir) if options.table_dir else TABLE_DIR), name


def load_stego_table(options: Any) -> tuple[AbstractTable, str]:
    """(table, name) of ``options`` (see :func:`table_location`), hash-checked on load and
    refused when it was calibrated for another setting."""
    folder, name = table_location(options)
    table = load_table(folder, name)
    check(table.manifest.get("setting") == options.setting, "setting", options.setting,
          f"table {name} was calibrated for setting {table.manifest.get('setting')!r}")
    return table, name


class TableHosts:
    """Per packet: the source image's index (checked against the table's N images and
    their labels) and one of its H table hosts, uniformly, from ``rng``.

    host_index: (N, H) host-split rows; labels: (N,) the private images' labels."""

    def __init__(self, host_index: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator) -> None:
        self.host_index, self.labels, self._rng = host_index, labels, rng
        self._draws: list[int] = []  # host choices, drawn a block at a time, popped in order

    def source_index(self, sources: Mapping[str, Any], i: int = 0) -> int:
        """Row i's image index in the table (an error if the table does not hold it)."""
        if "index" not in sources:
            raise ScenarioError("source", "a stego table's hosts need dataset images with "
                                "their index (source.kind: dataset)", sorted(sources))
        index = int(np.asarray(sources["index"])[i])
        n = len(self.host_index)
        if not 0 <= index < n:
            raise ScenarioError("source.options.limit", f"the table holds the first {n} test "
                                f"images only: set source.options.limit: {n}", index)
        if "labels" in sources and int(self.labels[index]) != int(
                np.asarray(sources["labels"])[i]):
            raise ScenarioError("source.options", f"image {index}'s label differs from the "
                                "table's: the source is not the calibrated test split", index)
        return index

    def draw(self, index: int) -> tuple[int, int]:
        """(h, host row): the next host choice h in 0..H-1 for image ``index`` and the host
        split row it names."""
        if not self._draws:
            self._draws = self._rng.integers(self.host_index.shape[1],
                                             size=_BLOCK).tolist()[::-1]
        h = self._draws.pop()
        return h, int(self.host_index[index, h])
