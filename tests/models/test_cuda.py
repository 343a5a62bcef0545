"""The DiffSem models on a CUDA device (skipped without one): the whole tiny training
pipeline runs there and ships loadable weights, and the shipped system gives the CPU's
answers on the GPU (same packets, logits within float tolerance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semsim.models.checkpoint import CheckpointError
from semsim.models.diffsem.config import make_config
from semsim.models.diffsem.loader import load_diffsem
from semsim.models.diffsem.training import STAGES, train_diffsem

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_tiny_pipeline_trains_every_stage_on_cuda(tmp_path, data_dir):
    cfg = make_config("mnist", "tiny", threads=1)
    man = train_diffsem(cfg, tmp_path / "work", tmp_path / "ck", None, data_dir,
                        lambda _: None, device="cuda")
    m = json.loads(Path(man).read_text())
    assert set(m["modules"]) >= {"encoder", "unet", "clf_e", "adv_conv", "judge_cnn"}
    for st in STAGES[:-1]:
        assert (tmp_path / "work" / f"stage_{st}.pt").is_file()
    b = load_diffsem("mnist", tmp_path / "ck", device="cpu")  # GPU-trained, loads on CPU
    assert next(b.system.parameters()).device.type == "cpu"


def _shipped(device: str):
    try:
        return load_diffsem("mnist", device=device, with_baselines=False)
    except CheckpointError as exc:
        pytest.skip(str(exc))


@torch.no_grad()
def test_shipped_system_gives_the_cpu_answers_on_cuda(data_dir):
    from semsim.models.data import load_dataset

    cpu, gpu = _shipped("cpu").system, _shipped("cuda").system
    data = load_dataset("mnist", "test", data_dir)
    x, lab = data.images[:512], data.labels[:512]
    n = len(x)
    t = torch.full((n,), 250)
    snr = torch.full((n,), 15.0)
    sym, hdr = cpu.encode(x, t, snr, torch.Generator().manual_seed(0))
    sym_g, hdr_g = gpu.encode(x.cuda(), t, snr, torch.Generator().manual_seed(0))
    assert torch.equal(hdr["tprime"], hdr_g["tprime"])
    assert torch.allclose(sym, sym_g.cpu(), atol=5e-3)  # TF32 convolutions on the GPU
    rx = sym + 10 ** (-15 / 20) * torch.randn(sym.shape, generator=torch.Generator().manual_seed(1))
    for m in ("classifier", "diffsem", "ediffsem"):
        lc = cpu.receive(rx, t, method=m, tprime=hdr["tprime"])
        lg = gpu.receive(rx.cuda(), t, method=m, tprime=hdr["tprime"]).cpu()
        agree = float((lc.argmax(1) == lg.argmax(1)).float().mean())
        assert agree >= 0.99, (m, agree)
        acc_c = float((lc.argmax(1) == lab).float().mean())
        acc_g = float((lg.argmax(1) == lab).float().mean())
        assert abs(acc_c - acc_g) <= 0.01, (m, acc_c, acc_g)
        if m == "classifier":  # no DDIM loop: same numbers up to float reassociation
            assert torch.allclose(lc, lg, atol=2e-2), (lc - lg).abs().max()
    rec_c = cpu.invert(rx, t, tprime=hdr["tprime"])
    rec_g = gpu.invert(rx.cuda(), t, tprime=hdr["tprime"]).cpu()
    assert torch.allclose(rec_c, rec_g, atol=2e-2)
    jc = cpu.strong_classify(rec_c).argmax(1)
    jg = gpu.strong_classify(rec_g.cuda()).argmax(1).cpu()
    assert float((jc == jg).float().mean()) >= 0.99
