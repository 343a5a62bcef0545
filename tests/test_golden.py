"""Golden traces: each shipped codec's trace for a small fixed scenario (1 Bob + 2 Eves,
40-48 packets; ``tests/golden/<codec>.yaml``) must reproduce the committed Parquet file.

Tolerance: strings, integers and booleans (node, packet ids, block indices, headers, forged
flags, outages) are compared exactly; float64 physics columns (and every float column of
the numpy reference codec) to ``rtol = atol = 1e-9``: exact on one installation, but numpy
releases differ in the last bit of ``log10`` / ``exp`` (measured: 1e-14 dB between numpy
2.4 and the version that wrote the files), while any change of a random stream or of the
physics moves them by orders of magnitude more. The torch codecs' float metric columns
(``m_*``) are compared to float32 rounding: ``rtol = 1e-4, atol = 1e-5`` (batching or a
reordered float32 reduction moves the last bits, nothing more).

Regenerate (only when a change of behaviour is intended, and say so in the commit):
``python tests/test_golden.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).parent / "golden"
CODECS = ("reference", "diffsem", "stego")
RTOL, ATOL = 1e-4, 1e-5  # float32 metrics of the torch codecs
RTOL64 = 1e-9  # float64 physics (numpy's last-bit differences between releases)


def _run(codec: str, out: Path) -> pd.DataFrame:
    from semsim.simulator.engine import run_scenario
    from semsim.simulator.scenario import load_scenario
    from semsim.simulator.trace import read_traces

    run_scenario(load_scenario(GOLDEN / f"{codec}.yaml"), out, run_id="golden",
                 device="cpu")
    return read_traces(out)


@pytest.mark.parametrize("codec", CODECS)
def test_golden_trace(codec, tmp_path, request):
    if codec != "reference":
        request.getfixturevalue("data_dir")  # the torch codecs read MNIST / Fashion
    got = _run(codec, tmp_path / "run")
    want = pd.read_parquet(GOLDEN / f"{codec}.parquet")
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    pd.testing.assert_series_equal(got.dtypes, want.dtypes)
    for col in want.columns:
        a, b = got[col].to_numpy(), want[col].to_numpy()
        if not np.issubdtype(b.dtype, np.floating):
            np.testing.assert_array_equal(a, b, err_msg=col)
        elif col.startswith("m_") and codec != "reference":
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=col)
        else:
            np.testing.assert_allclose(a, b, rtol=RTOL64, atol=RTOL64, err_msg=col)


def regenerate() -> None:
    """Rewrite every golden Parquet file from the current code."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    for codec in CODECS:
        with tempfile.TemporaryDirectory() as tmp:
            df = _run(codec, Path(tmp) / "run")
        df.to_parquet(GOLDEN / f"{codec}.parquet", index=False)
        print(f"{codec}: {len(df)} rows, {len(df.columns)} columns")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    regenerate()
