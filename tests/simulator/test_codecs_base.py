"""Codec-interface helpers: Alice's batched encodes (PreparedSource, batched_source)."""

from __future__ import annotations

import numpy as np
import pytest

from semsim.simulator.codecs.base import PreparedSource, batched_source
from semsim.simulator.datasets import DatasetImages
from semsim.simulator.datasets import Options as DatasetOptions
from semsim.simulator.sources import Options as SyntheticOptions
from semsim.simulator.sources import SyntheticImages


class BlockCodec:
    """A codec whose SNR-independent part doubles the images, recording each call's size."""

    name = "block"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def prepare_many(self, sources):
        self.calls.append(len(sources["images"]))
        return [{**{k: v[i:i + 1] for k, v in sources.items()},
                 "prepared": {"double": 2 * sources["images"][i:i + 1]}}
                for i in range(len(sources["images"]))]


class PlainCodec:
    name = "plain"


def _synthetic(seed: int) -> SyntheticImages:
    return SyntheticImages(SyntheticOptions(image_size=4, chunk=3), np.random.default_rng(seed))


def test_prepared_source_keeps_the_source_sequence_and_batches_calls():
    codec = BlockCodec()
    fast = PreparedSource(_synthetic(1), codec, block=4)
    plain = _synthetic(1)  # chunk 3 < block 4: drawn one packet at a time, refills included
    for _ in range(10):
        got, want = fast.next(), plain.next(1)
        np.testing.assert_array_equal(got["images"], want["images"])
        np.testing.assert_array_equal(got["prepared"]["double"], 2 * want["images"])
    assert codec.calls == [4, 4, 4]
    with pytest.raises(ValueError, match="one packet"):
        fast.next(2)


def test_batched_source_only_wraps_when_it_can(data_dir):
    src = DatasetImages(DatasetOptions(name="mnist", limit=20, data_dir=str(data_dir)),
                        np.random.default_rng(0))
    assert batched_source(src, BlockCodec(), 1) is src
    assert batched_source(src, PlainCodec(), 8) is src
    wrapped = batched_source(src, BlockCodec(), 8)
    assert isinstance(wrapped, PreparedSource)
    assert set(wrapped.next()) == {"images", "labels", "index", "prepared"}


def test_row_layout_split_gives_each_packets_receiver_rows():
    from semsim.simulator.codecs.base import RowLayout

    rows = RowLayout.of(3, ["bob", "eve", "eve", "coalition"])
    assert rows.bob.tolist() == [0, 4, 8] and len(rows.eve) == 9
    a, b = np.arange(12.0), np.arange(24).reshape(12, 2)
    out = rows.split({"a": a, "b": b})
    assert len(out) == 3
    for i, d in enumerate(out):
        assert list(d) == ["a", "b"]
        np.testing.assert_array_equal(d["a"], a[4 * i:4 * i + 4])
        np.testing.assert_array_equal(d["b"], b[4 * i:4 * i + 4])
    assert list(rows.split({})) == [{}, {}, {}]
    assert out.columns["a"].shape == (3, 4) and out.columns["b"].shape == (3, 4, 2)
    assert out.columns["a"].base is a  # by column, no copy
    np.testing.assert_array_equal(out[-1]["a"], a[8:])
    assert [d["a"][0] for d in out[1:]] == [4.0, 8.0]
    with pytest.raises(IndexError):
        out[3]
