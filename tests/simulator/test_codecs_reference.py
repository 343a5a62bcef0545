import numpy as np
import pytest

from semsim.simulator.codecs import CODECS, Codec, Transmission
from semsim.simulator.codecs.reference import Options, ReferenceCodec
from semsim.simulator.errors import ScenarioError
from semsim.simulator.sources import Options as SourceOptions
from semsim.simulator.sources import SyntheticImages


def _image(seed=0):
    src = SyntheticImages(SourceOptions(image_size=8, channels=3), np.random.default_rng(seed))
    return src.next(1)


def test_encode_sends_unit_power_features_and_header():
    codec = ReferenceCodec(Options())
    tx = codec.encode(_image(), np.array([10.0]))
    assert isinstance(tx, Transmission) and isinstance(codec, Codec)
    assert tx.symbols.shape == (3 * 8 * 8,)
    assert np.mean(tx.symbols**2) == pytest.approx(1.0)
    assert np.mean(tx.symbols) == pytest.approx(0.0, abs=1e-12)
    assert set(tx.header) == {"mean", "scale"}


def test_noiseless_decode_is_perfect_and_lmmse_shrinks():
    src = _image(1)
    for decoder in ("mf", "lmmse"):
        codec = ReferenceCodec(Options(decoder=decoder))
        tx = codec.encode(src, np.array([0.0]))
        received = np.stack([tx.symbols, tx.symbols])
        out = codec.decode(tx, received, np.array([300.0, 0.0]), ("bob", "eve"))
        assert set(out) == {"mse", "psnr_db", "feature_mse"}
        assert out["mse"][0] < 1e-20
        if decoder == "mf":
            assert out["mse"][1] < 1e-20
        else:  # LMMSE at an assumed 0 dB scales by 1/2: feature error (1/2)^2 * 1
            assert out["feature_mse"][1] == pytest.approx(0.25)


def test_decode_batches_receivers_independently():
    codec = ReferenceCodec(Options(decoder="mf", clip=False))
    tx = codec.encode(_image(2), np.array([0.0]))
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((3, tx.symbols.size)) * np.array([[0.0], [0.1], [1.0]])
    out = codec.decode(tx, tx.symbols + noise, np.zeros(3), ("bob", "eve", "eve"))
    np.testing.assert_allclose(out["feature_mse"], np.mean(noise**2, axis=1))
    np.testing.assert_allclose(out["mse"], out["feature_mse"] * tx.header["scale"] ** 2,
                               atol=1e-15)
    assert out["psnr_db"][1] > out["psnr_db"][2]


def test_registry_names_the_unknown_codec():
    assert CODECS.module("reference").ReferenceCodec is ReferenceCodec
    with pytest.raises(ScenarioError) as err:
        CODECS.module("referense", "codec.name")
    assert err.value.path == "codec.name" and err.value.hint == "reference"


@pytest.mark.parametrize("decoder,clip", [("lmmse", True), ("mf", True), ("lmmse", False)])
def test_decoding_many_packets_at_once_equals_one_by_one_bit_for_bit(decoder, clip):
    codec = ReferenceCodec(Options(decoder=decoder, clip=clip))
    rng = np.random.default_rng(3)
    roles = ("bob", "eve", "eve", "eve")
    txs = [codec.encode(_image(s), np.array([5.0])) for s in range(7)]
    received = [t.symbols + rng.normal(0, 0.5, (len(roles), t.symbols.size)) for t in txs]
    est = [rng.uniform(-5, 25, len(roles)) for _ in txs]
    together = codec.decode_many(txs, received, est, roles)
    for t, y, e, got in zip(txs, received, est, together, strict=True):
        alone = codec.decode(t, y, e, roles)
        assert alone.keys() == got.keys()
        for k in alone:
            assert got[k].shape == (len(roles),)
            assert np.array_equal(alone[k].view(np.int64), got[k].view(np.int64)), k


def test_prepared_encodes_equal_per_packet_encodes():
    from semsim.simulator.codecs.base import PreparedSource

    def source(seed):
        return SyntheticImages(SourceOptions(image_size=8, channels=1),
                               np.random.default_rng(seed))

    codec = ReferenceCodec(Options())
    plain, prepared = source(4), PreparedSource(source(4), codec, 5)
    for _ in range(12):  # across block boundaries
        a = codec.encode(plain.next(1), np.array([3.0]))
        b = codec.encode(prepared.next(1), np.array([3.0]))
        assert np.array_equal(a.symbols, b.symbols) and a.header == b.header
        assert np.array_equal(a.truth["image"], b.truth["image"])
