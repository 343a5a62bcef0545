"""The DiffSem codec inside the engine on a CUDA device (skipped without one): same
scenario and seed on CPU (per-packet encodes) and GPU (batched encodes) give the same
channel columns and, up to float rounding in the models, the same decisions."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from test_codecs_diffsem import diffsem_scenario

from semsim.simulator.engine import run_scenario
from semsim.simulator.trace import read_traces

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("receiver,attackers", [("ediffsem", ["conv_cnn"]),
                                                ("diffsem", None)])
def test_engine_on_cuda_matches_cpu(tmp_path, data_dir, receiver, attackers):
    traces = {}
    for device in ("cpu", "cuda"):
        sc = diffsem_scenario(run={"num_packets": 60},
                              codec={"device": device, "decode_batch_packets": 20,
                                     "encode_batch_packets": 8 if device == "cuda" else 1,
                                     "options": {"tstar": 240, "receiver": receiver,
                                                 "attackers": attackers}})
        out = tmp_path / device
        run_scenario(sc, out, write_metadata=False)
        traces[device] = read_traces(out).sort_values(["packet_id", "node"])
    c, g = traces["cpu"].reset_index(drop=True), traces["cuda"].reset_index(drop=True)
    assert len(c) == len(g) == 60 * 3
    for col in ("node", "snr_true_db", "snr_est_db", "h_tprime", "m_label"):
        pd.testing.assert_series_equal(c[col], g[col])
    agree = float((c["m_pred"] == g["m_pred"]).mean())
    assert agree >= 0.97, agree
