"""Eve's attacker ensemble in the engine (issue 15 items 1 and 5): every attacker per Eve in
one batched decode, per-Eve choice, what an attacker knows (t' withheld), named errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from simhelpers import BASE, diffsem_data, merge

from semsim.models.diffsem.config import ATTACKERS
from semsim.simulator.codecs import CODECS
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario


def scenario(**patch):
    return parse_scenario(diffsem_data(merge(
        {"run": {"num_packets": 8}, "codec": {"decode_batch_packets": 8, "options": {
            "tstar": 200, "receiver": "classifier"}}}, patch)))


@pytest.fixture(scope="module")
def codec():
    mod = CODECS.module("diffsem")
    return mod.build(mod.Options(tstar=200, receiver="classifier"),
                     seed_sequence=np.random.SeedSequence(4), device="cpu")


def _packets(codec, data_dir, n=16, snr_db=8.0, seed=0):
    from semsim.models.data import load_dataset

    data = load_dataset("mnist", "test", data_dir)
    rng = np.random.default_rng(seed)
    txs, rxs = [], []
    for i in range(n):
        tx = codec.encode({"images": data.images[i:i + 1].numpy(),
                           "labels": data.labels[i:i + 1].numpy()}, np.array([snr_db]))
        noise = rng.standard_normal((3, tx.symbols.size)) * np.sqrt(10 ** (-snr_db / 10))
        txs.append(tx)
        rxs.append(tx.symbols[None] + noise)
    return txs, rxs


def test_the_ensemble_equals_each_attacker_run_alone(codec, data_dir):
    """One batched decode of every attacker gives each attacker's own decode_eve result
    (shared inversions change nothing), and leak_any is their maximum."""
    txs, rxs = _packets(codec, data_dir)
    roles = ["bob", "eve", "eve"]
    outs = codec.decode_many(txs, rxs, [np.full(3, 8.0)] * len(txs), roles)
    y = torch.as_tensor(np.concatenate([r[1:] for r in rxs]), dtype=torch.float32)
    header = {k: torch.as_tensor([t.header[k] for t in txs]).repeat_interleave(2)
              for k in ("tstar", "tprime")}
    label = np.repeat([t.truth["label"] for t in txs], 2)
    for a in ATTACKERS:
        kind, judge = ("direct", "cnn") if a == "direct" else a.split("_")
        alone = codec.system.decode_eve(y, header, attacker=kind, judge=judge,
                                        direct=codec.direct)["logits"].argmax(1).numpy()
        got = np.concatenate([o[f"correct_{a}"][1:] for o in outs])
        np.testing.assert_array_equal(got, (alone == label).astype(float))
        assert all(np.isnan(o[f"correct_{a}"][0]) for o in outs)  # not on Bob's rows
    per = np.stack([np.concatenate([o[f"correct_{a}"][1:] for o in outs]) for a in ATTACKERS])
    np.testing.assert_array_equal(np.concatenate([o["leak_any"][1:] for o in outs]),
                                  per.max(axis=0))


def test_per_eve_attackers_and_first_attacker_is_m_correct(tmp_path, data_dir):
    src = {"options": {"data_dir": str(data_dir)}}
    sc = scenario(source=src, eves=[
        {"name": "eve0", "mobility": {"kind": "static", "position_m": [50.0, 20.0]},
         "attackers": ["mlp_mlp", "conv_cnn"]},
        {"name": "eve1", "mobility": {"kind": "static", "position_m": [0.0, 30.0]}}])
    df = pd.read_parquet(run_scenario(sc, tmp_path / "run").run_dir / "traces")
    e0, e1 = df[df.node == "eve0"], df[df.node == "eve1"]
    for a in ATTACKERS:
        assert e0[f"m_correct_{a}"].notna().all() == (a in ("mlp_mlp", "conv_cnn"))
        assert e1[f"m_correct_{a}"].notna().all()
    np.testing.assert_array_equal(e0.m_correct, e0.m_correct_mlp_mlp)  # her first attacker
    np.testing.assert_array_equal(e1.m_correct, e1.m_correct_direct)  # the default's first
    np.testing.assert_array_equal(e0.m_leak_any, e0[["m_correct_mlp_mlp",
                                                     "m_correct_conv_cnn"]].max(axis=1))
    assert e0.m_ssim_mlp.notna().all() and e0.m_ssim_conv.notna().all()
    # the same Eve with the whole ensemble gets the same values for her two attackers
    full = scenario(source=src, eves=[{"name": "eve0", "mobility": {
        "kind": "static", "position_m": [50.0, 20.0]}}, {"name": "eve1", "mobility": {
            "kind": "static", "position_m": [0.0, 30.0]}}])
    ref = pd.read_parquet(run_scenario(full, tmp_path / "full").run_dir / "traces")
    r0 = ref[ref.node == "eve0"]
    for col in ("m_correct_mlp_mlp", "m_correct_conv_cnn", "m_ssim_mlp"):
        np.testing.assert_allclose(e0[col].to_numpy(), r0[col].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("patch, path", [
    ({"eves": [{"name": "e", "attackers": ["direkt"]}]}, "eves[0].attackers[0]"),
    ({"eves": [{"name": "e", "attackers": []}]}, "eves[0].attackers"),
    ({"eves": [{"name": "e", "attackers": ["direct", "direct"]}]}, "eves[0].attackers"),
    ({"bob": {"attackers": ["direct"]}}, "bob.attackers"),
    ({"codec": {"options": {"attackers": ["conv"]}}}, "codec.options.attackers[0]"),
    ({"codec": {"options": {"attackers": []}}}, "codec.options.attackers"),
    ({"codec": {"options": {"attackers": ["mlp_cnn"]}},
      "eves": [{"name": "e", "attackers": ["direct"]}]}, "eves[0].attackers[0]"),
])
def test_bad_attackers_are_named(patch, path):
    with pytest.raises(ScenarioError) as err:
        scenario(**patch)
    assert err.value.path == path, str(err.value)


def test_attackers_on_a_codec_without_attackers_are_named():
    data = merge(BASE, {"eves": [{"name": "e", "attackers": ["direct"]}]})
    with pytest.raises(ScenarioError, match="runs no attackers") as err:
        parse_scenario(data)
    assert err.value.path == "eves[0].attackers[0]"


def test_withheld_tprime_makes_every_receiver_use_its_own_estimate(data_dir):
    """send_tprime: false: Eve's (and Bob's) t' comes from Eq. 24 on her own SNR estimate,
    not from the header; with t' sent, the header's t' is used whatever her estimate."""
    from semsim.models.diffusion import select_tprime

    mod = CODECS.module("diffsem")
    hidden = mod.build(mod.Options(tstar=200, receiver="classifier", send_tprime=False),
                       seed_sequence=np.random.SeedSequence(4), device="cpu")
    txs, rxs = _packets(hidden, data_dir, n=12, snr_db=8.0)
    est = np.array([8.0, -5.0, 25.0])  # Bob right, one Eve far below, one far above
    outs = hidden.decode_many(txs, rxs, [est] * len(txs), ["bob", "eve", "eve"])
    for r, e in ((1, est[1]), (2, est[2])):
        y = torch.as_tensor(np.stack([x[r] for x in rxs]), dtype=torch.float32)
        tstar = torch.as_tensor([t.header["tstar"] for t in txs])
        tprime = select_tprime(tstar, torch.full((len(txs),), float(e)), hidden.system.schedule)
        assert (tprime != torch.as_tensor([t.header["tprime"] for t in txs])).any()
        want = hidden.system.decode_eve(y, {"tstar": tstar, "tprime": tprime},
                                        attacker="conv", judge="cnn")["logits"].argmax(1)
        label = np.array([t.truth["label"] for t in txs])
        np.testing.assert_array_equal([o["correct_conv_cnn"][r] for o in outs],
                                      (want.numpy() == label).astype(float))
    sent = mod.build(mod.Options(tstar=200, receiver="classifier"),
                     seed_sequence=np.random.SeedSequence(4), device="cpu")
    a = sent.decode_many(txs, rxs, [est] * len(txs), ["bob", "eve", "eve"])
    b = sent.decode_many(txs, rxs, [np.array([8.0, 30.0, -30.0])] * len(txs),
                         ["bob", "eve", "eve"])
    for x, z in zip(a, b, strict=True):  # the estimate is not used when t' is sent
        np.testing.assert_array_equal(x["correct_conv_cnn"], z["correct_conv_cnn"])


def test_chunked_attacks_give_the_same_rows(codec, data_dir, monkeypatch):
    """A big decode batch is attacked in chunks (bounded memory); the rows are the same."""
    import semsim.simulator.codecs.diffsem as mod

    txs, rxs = _packets(codec, data_dir, n=8)
    args = (txs, rxs, [np.full(3, 8.0)] * len(txs), ["bob", "eve", "eve"])
    whole = codec.decode_many(*args)
    monkeypatch.setattr(mod, "ATTACK_CHUNK_ROWS", 5)  # 16 Eve rows -> chunks of 5, 5, 5, 1
    chunked = codec.decode_many(*args)
    for a, b in zip(whole, chunked, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-5, equal_nan=True)
