"""Both systems give the codec adapters the same batched verbs: ``prepare`` and ``send``
at Alice, ``decode_bob`` and ``decode_eve`` over batches of received real vectors (B, F),
and the power per real dimension of what they send (``models.common.snr``)."""

from __future__ import annotations

import inspect

import pytest
import torch

from semsim.models.common.snr import COMPLEX_UNIT_POWER, REAL_UNIT_POWER
from semsim.models.diffsem.config import make_config
from semsim.models.diffsem.system import DiffSemSystem, build_direct_attacker
from semsim.models.stego.jscc import DeepJSCC, JSCCConfig
from semsim.models.stego.networks import INN, INNConfig, InversionNet
from semsim.models.stego.system import StegoSystem

VERBS = ("prepare", "send", "decode_bob", "decode_eve")


@pytest.mark.parametrize("cls", [DiffSemSystem, StegoSystem])
def test_the_verbs_exist_with_the_same_leading_arguments(cls):
    for verb in VERBS:
        assert callable(getattr(cls, verb)), verb
    for verb in ("decode_bob", "decode_eve"):
        params = list(inspect.signature(getattr(cls, verb)).parameters)
        assert params[:3] == ["self", "received", "header"], (cls, verb, params)
    assert list(inspect.signature(cls.send).parameters)[:4] == [
        "self", "prepared", "snr_est_db", "generator"]


def test_diffsem_verbs_round_trip_shapes():
    cfg = make_config("mnist", "tiny")
    sys_ = DiffSemSystem(cfg).eval()
    images = torch.rand(3, 1, 28, 28)
    x0 = sys_.prepare(images)
    assert x0.shape == (3, *cfg.latent_shape)
    sym, hdr = sys_.send(x0, torch.full((3,), 10.0), torch.Generator().manual_seed(0),
                         tstar=torch.tensor([0, 100, 200]))
    assert sym.shape == (3, 64) and set(hdr) == {"tstar", "tprime", "power"}
    assert sys_.power_per_real == REAL_UNIT_POWER
    bob = sys_.decode_bob(sym, hdr, method="classifier")
    assert bob["logits"].shape == (3, 10)
    assert sys_.decode_bob(sym, hdr, method="ediffsem")["passes"].shape == (3,)
    eve = sys_.decode_eve(sym, hdr, attacker="mlp", judge="mlp")
    assert eve["images"].shape == (3, 1, 28, 28) and eve["logits"].shape == (3, 10)
    direct = sys_.decode_eve(sym, hdr, attacker="direct",
                             direct=build_direct_attacker(cfg).eval())
    assert set(direct) == {"logits"}


def test_stego_verbs_round_trip_shapes():
    jcfg = JSCCConfig(channels=1, image_size=28, width=8, latent_channels=4)
    jscc = DeepJSCC(jcfg).eval()
    dim = 2 * jcfg.k
    sys_ = StegoSystem(jscc, INN(INNConfig(dim, 2, 16)), None, InversionNet(dim, 1, 28, 16))
    xp, xh = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    sym, hdr = sys_.send(sys_.prepare(xp, xh))
    assert sym.shape == (2, dim) and hdr == {}
    assert sys_.power_per_real == COMPLEX_UNIT_POWER
    assert float(sym.pow(2).mean()) == pytest.approx(COMPLEX_UNIT_POWER, rel=1e-4)
    assert sys_.decode_bob(sym)["images"].shape == (2, 1, 28, 28)
    assert set(sys_.decode_eve(sym)) == {"images", "mia"}
