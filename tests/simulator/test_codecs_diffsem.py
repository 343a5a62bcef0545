"""DiffSem codec inside the engine: scaling against the model's own link, header, roles."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from simhelpers import assert_same_trace, diffsem_data, documented_types

from semsim.models.common.units import db_to_lin
from semsim.simulator.channels import apply_one_tap
from semsim.simulator.codecs import CODECS
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario


def diffsem_scenario(**patch):
    return parse_scenario(diffsem_data(patch))


@pytest.fixture(scope="module")
def codec():
    mod = CODECS.module("diffsem")
    return mod.build(mod.Options(tstar=150, receiver="classifier"),
                     seed_sequence=np.random.SeedSequence(4), device="cpu")


def test_engine_scaling_matches_the_models_link(codec, data_dir):
    """Classifier-only accuracy at t* = 150, -6 dB through the engine's channel convention
    equals the model's own link (self-noise + AWGN at P_s / SNR); there the channel noise
    dominates and accuracy is steep in it, so a power slip (P_s not undone) shows."""
    from semsim.models.data import load_dataset

    data = load_dataset("mnist", "test", data_dir)
    images, labels = data.images[:1000], data.labels[:1000]
    snr_db = -6.0
    rng = np.random.default_rng(1)
    engine_pred = []
    for i in range(len(images)):
        tx = codec.encode({"images": images[i:i + 1].numpy(), "labels": labels[i:i + 1].numpy()},
                          np.array([snr_db]))
        z = rng.standard_normal((1, tx.symbols.size))
        rx = apply_one_tap(tx.symbols, np.ones(1, complex), np.full(1, 1 / db_to_lin(snr_db)), z)
        engine_pred.append(codec.decode(tx, rx, np.array([snr_db]), ["bob"])["correct"][0])
    system = codec.system
    gen = torch.Generator().manual_seed(1)
    tstar = torch.full((len(images),), 150)
    y = system.link(system.encoder(images), tstar, torch.full((len(images),), snr_db),
                    generator=gen)
    model_acc = (system.receive(y, tstar, torch.full((len(images),), snr_db),
                                method="classifier", rescaled=True).argmax(1) == labels)
    acc_engine, acc_model = float(np.mean(engine_pred)), model_acc.float().mean().item()
    assert abs(acc_engine - acc_model) < 0.05, (acc_engine, acc_model)
    assert np.mean(tx.symbols ** 2) == pytest.approx(1.0, rel=0.35)  # unit power on average


def test_run_header_roles_and_leakage(tmp_path, data_dir):
    from semsim.models.diffusion import select_tprime

    sc = diffsem_scenario(codec={"options": {"tstar": 100, "receiver": "ediffsem"}},
                          source={"options": {"data_dir": str(data_dir)}})
    run_scenario(sc, tmp_path / "a")
    df = pd.read_parquet(tmp_path / "a" / "traces")
    doc = documented_types("DiffSem codec")
    assert set(df.columns) == set(doc)  # every column documented with its type
    assert all(df[c].dtype == doc[c] for c in df.columns if doc[c] != "string")
    bob, eve = df[df.role == "bob"], df[df.role == "eve"]
    assert (df.h_tstar == 100).all()
    est = torch.as_tensor(bob.snr_est_db.to_numpy(copy=True))
    want = select_tprime(torch.full((len(bob),), 100), est)
    np.testing.assert_array_equal(bob.h_tprime.values, want.numpy())  # Alice used the estimate
    assert bob.m_correct.mean() >= 0.7 and (bob.m_passes >= 1).all()
    for inv in ("conv", "mlp"):
        assert bob[f"m_ssim_{inv}"].isna().all() and eve[f"m_ssim_{inv}"].between(-1, 1).all()
    assert set(df.m_correct.unique()) <= {0.0, 1.0}
    assert (df.m_label == df.m_label.round()).all()
    from semsim.models.diffsem.config import ATTACKERS

    per = eve[[f"m_correct_{a}" for a in ATTACKERS]]
    assert bob[per.columns].isna().all().all() and per.isin([0.0, 1.0]).all().all()
    # the first attacker (direct) is m_correct; leak_any is the max over the ensemble
    np.testing.assert_array_equal(eve.m_correct, eve.m_correct_direct)
    np.testing.assert_array_equal(eve.m_leak_any, per.max(axis=1))


@pytest.mark.parametrize("patch, path", [
    ({"tstar": 500}, "codec.options.tstar"),
    ({"receiver": "ediffsme"}, "codec.options.receiver"),
    ({"dataset": "cifar"}, "codec.options.dataset"),
])
def test_bad_options_name_the_key(patch, path):
    with pytest.raises(ScenarioError) as err:
        diffsem_scenario(codec={"options": patch})
    assert path in str(err.value)


def test_unlabelled_source_is_a_named_error(codec):
    with pytest.raises(ScenarioError, match="labelled"):
        codec.encode({"images": np.zeros((1, 1, 28, 28))}, np.array([10.0]))


def test_batched_decoding_gives_the_same_trace(tmp_path, data_dir):
    """decode_batch_packets only changes speed (E-DiffSem's loop runs per packet inside
    the batch): 10 packets decoded 4 at a time equal one decode per event."""
    src = {"options": {"data_dir": str(data_dir)}}
    opts = {"options": {"tstar": 300, "receiver": "ediffsem"}}
    one = diffsem_scenario(codec=opts, source=src)
    many = diffsem_scenario(codec={**opts, "decode_batch_packets": 4}, source=src)
    assert_same_trace(one, many, tmp_path)


def test_batched_encoding_gives_the_same_trace(tmp_path, data_dir):
    """encode_batch_packets only changes speed: the encoder runs for 4 packets per call,
    t' and the self-noise still follow each packet's own SNR report, in order (the last
    block runs past the end of the run); equal to per-packet encodes up to float rounding."""
    src = {"options": {"data_dir": str(data_dir)}}
    opts = {"options": {"tstar": 300, "receiver": "ediffsem"}}
    one = diffsem_scenario(codec=opts, source=src)
    many = diffsem_scenario(codec={**opts, "encode_batch_packets": 4,
                                   "decode_batch_packets": 3}, source=src)
    assert_same_trace(one, many, tmp_path)


def test_decoding_behind_gives_the_same_trace(tmp_path, data_dir):
    """codec.decode_behind only changes speed: E-DiffSem decodes on the worker thread while
    Alice self-noises the next packets with her generator here: every value equal."""
    src = {"options": {"data_dir": str(data_dir)}}
    opts = {"options": {"tstar": 300, "receiver": "ediffsem"}, "decode_batch_packets": 3}
    here = diffsem_scenario(codec=opts, source=src)
    behind = diffsem_scenario(codec={**opts, "decode_behind": True}, source=src)
    assert_same_trace(here, behind, tmp_path, exact=True)


def test_prepared_encode_equals_the_plain_encode(codec, data_dir):
    from semsim.models.data import load_dataset

    data = load_dataset("mnist", "test", data_dir)
    src = {"images": data.images[:3].numpy(), "labels": data.labels[:3].numpy(),
           "index": np.arange(3)}
    prepared = codec.prepare_many(src)
    assert [p["labels"][0] for p in prepared] == list(src["labels"])
    state = codec._gen.get_state()
    plain = [codec.encode({k: v[i:i + 1] for k, v in src.items()}, np.array([5.0 * i]))
             for i in range(3)]
    codec._gen.set_state(state)
    fast = [codec.encode(p, np.array([5.0 * i])) for i, p in enumerate(prepared)]
    for a, b in zip(plain, fast, strict=True):
        assert a.header == b.header
        np.testing.assert_allclose(a.symbols, b.symbols, atol=1e-4)


def test_direct_attacker_through_the_engine_convention(data_dir):
    """The direct attacker classifies Eve's rows from y itself; through the engine's channel
    convention it scores like the model's own link, and makes no image."""
    from semsim.models.data import load_dataset

    mod = CODECS.module("diffsem")
    codec = mod.build(mod.Options(tstar=150, attackers=("direct",)),
                      seed_sequence=np.random.SeedSequence(5), device="cpu")
    data = load_dataset("mnist", "test", data_dir)
    images, labels = data.images[:400], data.labels[:400]
    snr_db = -6.0
    rng = np.random.default_rng(2)
    txs, rxs = [], []
    for i in range(len(images)):
        tx = codec.encode({"images": images[i:i + 1].numpy(), "labels": labels[i:i + 1].numpy()},
                          np.array([snr_db]))
        z = rng.standard_normal((1, tx.symbols.size))
        txs.append(tx)
        rxs.append(apply_one_tap(tx.symbols, np.ones(1, complex),
                                 np.full(1, 1 / db_to_lin(snr_db)), z))
    outs = codec.decode_many(txs, rxs, [np.array([snr_db])] * len(txs), ["eve"])
    acc_engine = float(np.mean([o["correct"][0] for o in outs]))
    assert all(set(o) == {"label", "pred", "passes", "leak_any", "correct_direct", "correct"}
               for o in outs)  # no inversion ran, so no image columns
    system, direct = codec.system, codec.direct
    tstar = torch.full((len(images),), 150)
    y = system.link(system.encoder(images), tstar, torch.full((len(images),), snr_db),
                    generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        acc_model = (direct(y, tstar).argmax(1) == labels).float().mean().item()
    assert acc_model > 0.5 and abs(acc_engine - acc_model) < 0.08, (acc_engine, acc_model)


def test_direct_attacker_without_checkpoint(tmp_path):
    """Without the direct checkpoint the default ensemble leaves direct out (the inversion
    attackers remain); naming it explicitly is a named error."""
    from semsim.models.checkpoint import CHECKPOINT_DIR

    for f in ("diffsem-mnist.json", "diffsem-mnist.safetensors"):
        (tmp_path / f).write_bytes((CHECKPOINT_DIR / f).read_bytes())
    mod = CODECS.module("diffsem")
    assert mod.Options(checkpoint_dir=str(tmp_path)).attackers == (
        "conv_cnn", "conv_mlp", "mlp_cnn", "mlp_mlp")
    assert mod.Options().attackers[0] == "direct"  # shipped: the whole ensemble
    with pytest.raises(ScenarioError, match="eve-direct") as err:
        mod.build(mod.Options(attackers=("direct",), checkpoint_dir=str(tmp_path)),
                  device="cpu")
    assert "codec.options.attackers" in str(err.value)


def test_replicas_batched_together_give_the_same_traces(tmp_path, data_dir):
    """codec.batch_replicas: 3 replicas of 6 packets share decode calls of 16 packets
    (across replica boundaries) and equal the replicas run one by one, to float rounding."""
    src = {"options": {"data_dir": str(data_dir)}}
    opts = {"options": {"tstar": 300, "receiver": "ediffsem"}, "decode_batch_packets": 16}
    run = {"num_packets": 6, "replicas": 3}
    one = diffsem_scenario(run=run, codec=opts, source=src)
    grouped = diffsem_scenario(run=run, codec={**opts, "batch_replicas": 3}, source=src)
    assert_same_trace(one, grouped, tmp_path)
    marker = json.loads((tmp_path / "many" / "replicas" / "r002.json").read_text())
    assert marker["run_with"] == [0, 1, 2] and marker["decode_calls"] == 2  # 16 + 2
