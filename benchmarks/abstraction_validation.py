"""Validate the PHY abstractions (``diffsem-abstract``, ``stego-abstract``) against their
neural codecs.

Runs each validation scenario (``benchmarks/abstraction/v*.yaml`` for DiffSem,
``s*.yaml`` for stego: they differ in mobility, fading, SNR mismatch and number of Eves)
with the neural codec and with its abstraction on the same seeds (same channel and images
packet by packet; DiffSem: same t'), and compares every codec summary metric of
:func:`semsim.simulator.leakage.summary_table`: DiffSem: Bob's accuracy, each Eve's
leakage per attacker, any attacker and worst case (by value, whichever attacker it is),
the mean PSNR / SSIM of her inversions; stego: every receiver's mean PSNR / SSIM columns
and each Eve's worst-case SSIM to the private image. The abstraction's
value is the mean over ``--draws`` outcome redraws (``draw_seed`` 0..K-1, same channel);
"in" means it lies inside the neural value's 95 % interval. Speed: codec time (encode +
decode calls) per packet and whole-run wall time per packet, each codec, and their ratio
(the abstraction's: the median of its ``--draws`` runs; the neural codec's: its one run).

    SEMSIM_DATA=... .venv/bin/python benchmarks/abstraction_validation.py [--draws 10]
        [--out results/abstraction] [--doc docs/abstraction.md] [--scenarios v1,v2,...]
        [--table-dir DIR] [--packets N]

Resumable: a scenario whose neural trace is already under ``--out`` is not rerun.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from semsim.models.common.stats import bonferroni_level, widen_interval
from semsim.simulator.codecs import diffsem, diffsem_abstract, stego, stego_abstract
from semsim.simulator.engine import run_scenario
from semsim.simulator.leakage import summary_table
from semsim.simulator.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def markers(tag: str) -> tuple[str, str]:
    """The lines that enclose the generated table ``tag`` in the doc."""
    return (f"<!-- validation {tag}: benchmarks/abstraction_validation.py -->",
            f"<!-- /validation {tag} -->")

CODEC_METRICS = ("accuracy", "leakage", "leakage (any attacker)", "leakage (worst case)",
                 "m_psnr_conv_db", "m_psnr_mlp_db", "m_ssim_conv", "m_ssim_mlp",
                 "SSIM to private (worst case)", "m_psnr_private_db", "m_ssim_private",
                 "m_ssim_host", "m_mia_ssim_private", "m_mia_ssim_host")
#: neural codec -> (its class, its abstraction's name, the abstraction's class)
PAIRS = {"diffsem": (diffsem.DiffSemCodec, "diffsem-abstract",
                     diffsem_abstract.DiffSemAbstractCodec),
         "stego": (stego.StegoCodec, "stego-abstract", stego_abstract.StegoAbstractCodec)}


class CodecClock:
    """Seconds spent in a codec class's encode / prepare_many / decode_many calls."""

    def __init__(self, cls) -> None:
        self.cls, self.seconds, self._orig = cls, 0.0, {}

    def __enter__(self) -> CodecClock:
        for name in ("encode", "prepare_many", "decode_many"):
            fn = getattr(self.cls, name, None)
            if fn is None:
                continue
            self._orig[name] = fn

            def timed(*a, _fn=fn, **k):
                t0 = time.perf_counter()
                try:
                    return _fn(*a, **k)
                finally:
                    self.seconds += time.perf_counter() - t0
            setattr(self.cls, name, timed)
        return self

    def __exit__(self, *exc) -> None:
        for name, fn in self._orig.items():
            setattr(self.cls, name, fn)


def _run(data: dict, out: Path, cls) -> tuple[pd.DataFrame, dict]:
    sc = parse_scenario(copy.deepcopy(data))
    with CodecClock(cls) as clock:
        res = run_scenario(sc, out)
    df = pd.read_parquet(out / "traces")
    timing = {"packets": res.num_packets, "codec_s": clock.seconds, "wall_s": res.wall_s}
    (out / "timing.json").write_text(json.dumps(timing))
    return df, timing


KEY = ("node", "metric", "attacker")  # one summary metric


def _summary(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    s = summary_table(df, level=level)
    s = s[s.metric.isin(CODEC_METRICS)].copy()
    worst = s.metric.isin(["leakage (worst case)", "SSIM to private (worst case)"])
    s.loc[worst, "attacker"] = ""  # by value, whichever attacker
    return s.set_index(list(KEY))


def family_bounds(df: pd.DataFrame, table: pd.DataFrame, level: float) -> pd.DataFrame:
    """(fw_low, fw_high) per metric of trace ``df`` at the family-wise ``level``, indexed like
    ``_summary``: Wilson at that level for proportions; for the bootstrap means, their 95 %
    interval in ``table`` (``ci_low``, ``ci_high``) widened to it (``stats.widen_interval``)."""
    s = _summary(df, level).join(table.set_index(list(KEY))[["ci_low", "ci_high"]],
                                 rsuffix="_95")
    for key, r in s[s.interval != "wilson"].iterrows():
        s.loc[key, ["ci_low", "ci_high"]] = widen_interval(r.value, r.ci_low_95,
                                                           r.ci_high_95, 0.95, level)
    return s[["ci_low", "ci_high"]].rename(columns={"ci_low": "fw_low", "ci_high": "fw_high"})


def validate(path: Path, out: Path, draws: int, table_dir: str | None,
             packets: int | None) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    data = yaml.safe_load(path.read_text())
    if packets is not None:
        data["run"] = {**data["run"], "duration_s": None, "num_packets": packets}
    name = data["name"]
    neural_cls, abstract_name, abstract_cls = PAIRS[data["codec"]["name"]]
    if data["codec"]["name"] == "stego":  # Alice draws the abstraction's hosts (paired)
        data["codec"]["options"] = {**data["codec"]["options"], "host_pool": "table",
                                    **({"table_dir": table_dir} if table_dir else {})}
    neural_dir = out / name / "neural"
    if (neural_dir / "timing.json").is_file():
        dn = pd.read_parquet(neural_dir / "traces")
        tn = json.loads((neural_dir / "timing.json").read_text())
    else:
        dn, tn = _run(data, neural_dir, neural_cls)
    sums, timings = [], []
    for k in range(draws):
        ab = copy.deepcopy(data)
        opts = {k_: v for k_, v in ab["codec"]["options"].items() if k_ != "host_pool"}
        opts["draw_seed"] = k
        if table_dir:
            opts["table_dir"] = table_dir
        ab["codec"] = {"name": abstract_name, "decode_batch_packets": 64, "options": opts}
        d = out / name / f"abstract-{k}"
        if d.exists():
            import shutil

            shutil.rmtree(d)
        da, t = _run(ab, d, abstract_cls)
        timings.append(t)
        if k == 0:
            for col in {"snr_true_db", "h_source_index", "h_tprime",
                        "h_host_index"} & set(dn.columns):
                assert (da[col].to_numpy() == dn[col].to_numpy()).all(), col  # same seeds
        sums.append(_summary(da).value.rename(k))
    ta = {k: float(pd.Series([t[k] for t in timings]).median()) for k in timings[0]}
    sn = _summary(dn)
    ab = pd.concat(sums, axis=1)
    table = sn[["value", "ci_low", "ci_high", "n"]].join(
        ab.mean(axis=1).rename("abstract"), how="outer").join(ab[0].rename("abstract_draw0"))
    table["inside"] = (table.abstract >= table.ci_low) & (table.abstract <= table.ci_high)
    table["inside_draw0"] = ((table.abstract_draw0 >= table.ci_low)
                             & (table.abstract_draw0 <= table.ci_high))
    speed = {"scenario": name, "packets": tn["packets"],
             "neural_codec_ms": 1e3 * tn["codec_s"] / tn["packets"],
             "abstract_codec_ms": 1e3 * ta["codec_s"] / ta["packets"],
             "neural_wall_ms": 1e3 * tn["wall_s"] / tn["packets"],
             "abstract_wall_ms": 1e3 * ta["wall_s"] / ta["packets"]}
    speed["codec_ratio"] = speed["neural_codec_ms"] / speed["abstract_codec_ms"]
    speed["wall_ratio"] = speed["neural_wall_ms"] / speed["abstract_wall_ms"]
    return table.reset_index().assign(scenario=name), speed, dn


def add_family(tables: list[pd.DataFrame], neural: list[pd.DataFrame],
               alpha: float = 0.05) -> pd.DataFrame:
    """All scenarios' tables with the family-wise (Bonferroni) check: each of the m metrics'
    neural interval at level 1 - alpha / m, so that all m contain their true values with
    probability >= 1 - alpha (the per-metric 95 % intervals miss about 5 % of them by
    chance alone)."""
    level = bonferroni_level(sum(len(t) for t in tables), 1.0 - alpha)
    out = []
    for table, dn in zip(tables, neural, strict=True):
        fw = family_bounds(dn, table, level).reset_index()
        t = table.merge(fw, on=list(KEY), how="left")
        t["inside_fw"] = (t.abstract >= t.fw_low) & (t.abstract <= t.fw_high)
        t["inside_fw_draw0"] = (t.abstract_draw0 >= t.fw_low) & (t.abstract_draw0 <= t.fw_high)
        out.append(t)
    return pd.concat(out, ignore_index=True).assign(family_level=level)


def _fmt(v: float, metric: str) -> str:
    return f"{v:.2f}" if metric.startswith("m_psnr") else f"{v:.3f}"


def markdown(tables: pd.DataFrame, speeds: list[dict], draws: int) -> str:
    n = len(tables)
    level = float(tables.family_level.iloc[0])
    lines = [f"Abstraction value: mean of {draws} outcome redraws on the neural run's seeds; "
             "in: inside the neural value's 95 % interval (Wilson for proportions, block "
             "bootstrap for means); family: inside the family-wise interval (Bonferroni over "
             f"the {n} metrics: each at {100 * level:.3f} %, so that all {n} hold together "
             "with 95 %); draw 0: a single abstraction run.", "",
             "| scenario | receiver | metric | attacker | neural [95 % CI] | abstraction | in "
             "| family | draw 0 | in |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in tables.itertuples():
        m = r.metric
        lines.append(f"| {r.scenario} | {r.node} | {m} | {r.attacker} | {_fmt(r.value, m)} "
                     f"[{_fmt(r.ci_low, m)}, {_fmt(r.ci_high, m)}] | {_fmt(r.abstract, m)} | "
                     f"{'yes' if r.inside else '**no**'} | "
                     f"{'yes' if r.inside_fw else '**no**'} | {_fmt(r.abstract_draw0, m)} | "
                     f"{'yes' if r.inside_draw0 else '**no**'} |")
    k, k0 = int(tables.inside.sum()), int(tables.inside_draw0.sum())
    f, f0 = int(tables.inside_fw.sum()), int(tables.inside_fw_draw0.sum())
    lines += ["", f"Inside the 95 % intervals: {k} of {n} metrics (mean of redraws; chance "
              f"alone leaves about {round(0.05 * n)} outside); {k0} of {n} (draw 0 alone). "
              f"Inside the family-wise interval: {f} of {n} (mean of redraws); {f0} of {n} "
              "(draw 0 alone).",
              "", "| scenario | packets | neural codec ms/packet | abstraction codec ms/packet "
              "| ratio | neural run ms/packet | abstraction run ms/packet | ratio |",
              "|---|---|---|---|---|---|---|---|"]
    for s in speeds:
        lines.append(f"| {s['scenario']} | {s['packets']} | {s['neural_codec_ms']:.2f} | "
                     f"{s['abstract_codec_ms']:.4f} | {s['codec_ratio']:.0f}x | "
                     f"{s['neural_wall_ms']:.2f} | {s['abstract_wall_ms']:.3f} | "
                     f"{s['wall_ratio']:.0f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=None,
                    help="comma list of name prefixes, e.g. v1,s (default all)")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--packets", type=int, default=None, help="override every scenario's")
    ap.add_argument("--out", default=str(ROOT / "results" / "abstraction"))
    ap.add_argument("--doc", default=None, help="rewrite the table in this markdown file")
    ap.add_argument("--doc-tag", default="diffsem", help="which generated table of --doc")
    ap.add_argument("--table-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    paths = sorted((ROOT / "benchmarks" / "abstraction").glob("[vs][0-9]*.yaml"))
    if args.scenarios:
        want = args.scenarios.split(",")
        paths = [p for p in paths if any(p.stem.startswith(w) for w in want)]
    out = Path(args.out)
    tables, speeds, neural = [], [], []
    for p in paths:
        t0 = time.monotonic()
        table, speed, dn = validate(p, out, args.draws, args.table_dir, args.packets)
        tables.append(table)
        neural.append(dn)
        speeds.append(speed)
        print(f"{p.stem}: {int(table.inside.sum())}/{len(table)} inside, codec "
              f"{speed['codec_ratio']:.0f}x, run {speed['wall_ratio']:.0f}x faster "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
    all_tables = add_family(tables, neural)
    all_tables.to_csv(out / "validation.csv", index=False)
    pd.DataFrame(speeds).to_csv(out / "speed.csv", index=False)
    text = markdown(all_tables, speeds, args.draws)
    (out / "validation.md").write_text(text + "\n")
    print(text)
    if args.doc:
        doc = Path(args.doc)
        old = doc.read_text()
        begin, end = markers(args.doc_tag)
        i, j = old.index(begin) + len(begin), old.index(end)
        doc.write_text(old[:i] + "\n" + text + "\n" + old[j:])


if __name__ == "__main__":
    main()
