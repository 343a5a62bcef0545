"""INN steganography: exact invertibility, shapes, losses, a training step, loading."""

from __future__ import annotations

import copy

import pytest
import torch

from semsim.models.checkpoint import save_checkpoint
from semsim.models.stego.config import draw_pairs, stego_checkpoint_name
from semsim.models.stego.jscc import DeepJSCC, JSCCConfig, real_to_complex
from semsim.models.stego.loader import load_stego
from semsim.models.stego.networks import INN, CouplingBlock, INNConfig, InversionNet
from semsim.models.stego.objective import StegoLambdas, stego_losses, stego_step
from semsim.models.stego.system import StegoSystem

TINY_JSCC = JSCCConfig(channels=1, image_size=28, width=8, latent_channels=4)
DIM = 2 * TINY_JSCC.k


def _randomise(module: torch.nn.Module, seed: int, scale: float | None = None) -> None:
    """Non-trivial weights everywhere, the zero-initialised last layers included.

    ``scale=None``: PyTorch's default Linear initialisation (realistic magnitudes);
    otherwise i.i.d. N(0, scale^2) weights.
    """
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Linear):
                m.reset_parameters()
                if scale is not None:
                    m.weight.normal_(0.0, scale)
                    m.bias.normal_(0.0, scale)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_block_is_exactly_invertible(seed):
    torch.manual_seed(seed)
    inn = INN(INNConfig(dim=DIM, blocks=8, hidden=32))
    _randomise(inn, seed)
    zp, zh = torch.randn(16, DIM), torch.randn(16, DIM)
    for block in inn.blocks:
        assert isinstance(block, CouplingBlock)
        a, b = block(zp, zh)
        assert not torch.allclose(a, zp)  # the block really transforms
        rp, rh = block.inverse(a, b)
        torch.testing.assert_close(rp, zp, atol=1e-5, rtol=0)
        torch.testing.assert_close(rh, zh, atol=1e-5, rtol=0)
        zp, zh = a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_inn_is_exactly_invertible(seed):
    torch.manual_seed(seed)
    inn = INN(INNConfig(dim=DIM, blocks=8, hidden=32))
    _randomise(inn, seed + 10)
    zp, zh = torch.randn(32, DIM), torch.randn(32, DIM)
    l, zc = inn(zp, zh)
    assert l.shape == zc.shape == (32, DIM)
    rp, rh = inn.inverse(l, zc)
    torch.testing.assert_close(rp, zp, atol=1e-5, rtol=0)
    torch.testing.assert_close(rh, zh, atol=1e-5, rtol=0)


def test_scale_is_clamped():
    block = CouplingBlock(DIM, 16, clamp=2.0)
    _randomise(block, 0, scale=5.0)
    s = block._log_scale(torch.randn(64, DIM) * 10)
    assert float(s.detach().abs().max()) <= 2.0


def test_fresh_inn_is_identity():
    inn = INN(INNConfig(dim=DIM, blocks=2, hidden=8))
    zp, zh = torch.randn(3, DIM), torch.randn(3, DIM)
    l, zc = inn(zp, zh)
    torch.testing.assert_close(l, zp)
    torch.testing.assert_close(zc, zh)


def _loss_inputs():
    gen = torch.Generator().manual_seed(0)
    z = {k: torch.randn(4, DIM, generator=gen) for k in ("zc", "zh", "l", "zp", "zp_hat", "zh_hat")}
    z["l_hat"] = torch.zeros(4, DIM)
    z["xp"] = torch.rand(4, 1, 28, 28, generator=gen)
    z["xp_hat"] = torch.rand(4, 1, 28, 28, generator=gen)
    return z


@pytest.mark.parametrize(
    "name,term",
    [
        ("zc", "forward_zc"),
        ("l", "forward_l"),
        ("zp_hat", "backward_zp"),
        ("zh_hat", "backward_zh"),
        ("xp_hat", "privacy"),
    ],
)
def test_each_loss_term_responds_to_its_input(name, term):
    lam = StegoLambdas()
    base = stego_losses(lam, **_loss_inputs())
    moved = _loss_inputs()
    moved[name] = moved[name] + 0.5
    after = stego_losses(lam, **moved)
    assert float(after[term]) != pytest.approx(float(base[term]))
    for other in ("forward_zc", "forward_l", "backward_zp", "backward_zh", "privacy"):
        if other != term:
            assert float(after[other]) == pytest.approx(float(base[other]))
    # the weight scales its term
    heavy = stego_losses(StegoLambdas(3, 3, 3, 3, 3), **_loss_inputs())
    assert float(heavy[term]) == pytest.approx(
        3 / getattr(lam, f"lambda{_IDX[term]}") * float(base[term]), rel=1e-5
    )
    assert float(base["total"]) == pytest.approx(
        sum(float(base[t]) for t in base if t != "total"), rel=1e-5
    )


_IDX = {"forward_zc": 1, "forward_l": 2, "backward_zp": 3, "backward_zh": 4, "privacy": 5}


def _tiny_system(seed: int = 0) -> tuple[DeepJSCC, INN, torch.nn.Module]:
    torch.manual_seed(seed)
    jscc = DeepJSCC(TINY_JSCC).eval()
    inn = INN(INNConfig(dim=DIM, blocks=2, hidden=32))
    return jscc, inn, copy.deepcopy(jscc.decoder)


def test_tiny_training_step_lowers_loss():
    jscc, inn, bob = _tiny_system()
    for p in jscc.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    xp, xh = torch.rand(16, 1, 28, 28, generator=gen), torch.rand(16, 1, 28, 28, generator=gen)
    params = list(inn.parameters()) + list(bob.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    lam = StegoLambdas()

    def total(g: torch.Generator) -> torch.Tensor:
        return stego_step(inn, jscc.encoder, bob, xp, xh, 20.0, lam, generator=g)["total"]

    first = float(total(torch.Generator().manual_seed(5)).detach())
    for _ in range(25):
        opt.zero_grad()
        total(gen).backward()
        opt.step()
    assert float(total(torch.Generator().manual_seed(5)).detach()) < 0.7 * first


@pytest.mark.parametrize("mode", ["zeros", "gaussian"])
def test_system_interface_shapes_and_power(mode):
    jscc, inn, bob = _tiny_system()
    _randomise(inn, 3, scale=0.05)
    inv = InversionNet(DIM, 1, 28, hidden=16)
    system = StegoSystem(jscc, inn, bob, inv, l_hat_mode=mode).eval()
    xp, xh = torch.rand(6, 1, 28, 28), torch.rand(6, 1, 28, 28)
    tx = system.hide(xp, xh)
    assert tx.shape == (6, system.k) and tx.is_complex()
    torch.testing.assert_close(tx.abs().pow(2).mean(1), torch.ones(6), atol=1e-5, rtol=0)
    for out in (
        system.reveal(tx, torch.Generator().manual_seed(0)),
        system.naive(tx),
        system.mia(tx),
        system.decode(system.encode(xp)),
    ):
        assert out.shape == (6, 1, 28, 28)
    # noiseless, l_hat = 0, fresh INN (identity): Bob's output is the decoding of l_hat = 0
    fresh = StegoSystem(jscc, INN(INNConfig(dim=DIM, blocks=2, hidden=8)), bob)
    zero = fresh.reveal(fresh.hide(xp, xh))
    torch.testing.assert_close(zero, bob(torch.zeros(6, DIM)))


def test_draw_pairs_reproducible_and_never_self():
    a = draw_pairs(50, 50, 120, torch.Generator().manual_seed(1), same_dataset=True)
    b = draw_pairs(50, 50, 120, torch.Generator().manual_seed(1), same_dataset=True)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (120,) and bool((a[0] != a[1]).all())
    p, h = draw_pairs(50, 30, 40, torch.Generator().manual_seed(2), same_dataset=False)
    assert int(p.max()) < 50 and int(h.max()) < 30 and len(set(p.tolist())) == 40


def test_load_stego_round_trip(tmp_path, monkeypatch):
    import semsim.models.stego.config as stego_mod

    jscc, inn, bob = _tiny_system(1)
    _randomise(inn, 4, scale=0.05)
    inv = InversionNet(DIM, 1, 28, hidden=16)
    save_checkpoint(
        tmp_path,
        "jscc-tiny",
        {"encoder": jscc.encoder, "decoder": jscc.decoder},
        config={"codec": TINY_JSCC.to_dict()},
        metrics={},
        seed=0,
        data_sha256={},
    )
    name = stego_checkpoint_name("tiny", 2.0)
    save_checkpoint(
        tmp_path,
        name,
        {"inn": {k: v.half() for k, v in inn.state_dict().items()}, "bob_decoder": bob},
        config={"inn": inn.cfg.to_dict(), "l_hat_mode": "zeros"},
        metrics={},
        seed=0,
        data_sha256={},
    )
    save_checkpoint(
        tmp_path,
        "mia-tiny",
        {"inversion": inv},
        config={"net": {"dim": DIM, "channels": 1, "image_size": 28, "hidden": 16}},
        metrics={},
        seed=0,
        data_sha256={},
    )
    setting = stego_mod.StegoSetting("tiny", "mnist", "fashion", "jscc-tiny", "mia-tiny")
    monkeypatch.setitem(stego_mod.SETTINGS, "tiny", setting)
    system = load_stego("tiny", tmp_path)
    xp, xh = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        for p in inn.parameters():  # the shipped weights are float16
            p.copy_(p.half().float())
    ref = StegoSystem(jscc, inn, bob, inv)
    torch.testing.assert_close(system.hide(xp, xh), ref.hide(xp, xh))
    tx = system.hide(xp, xh)
    torch.testing.assert_close(system.reveal(tx), ref.reveal(tx))
    torch.testing.assert_close(system.mia(tx), ref.mia(tx))
    assert real_to_complex(jscc.encoder(xp)).shape == (3, TINY_JSCC.k)
    with pytest.raises(KeyError):
        load_stego("no-such-setting", tmp_path)
