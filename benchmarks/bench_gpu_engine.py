"""The engine on a GPU vs the raw batched model calls at the same batch size, in one process.

For each codec (``diffsem``: E-DiffSem at Bob, the attacker ensemble at two Eves;
``stego``: hide, reveal, naive + MIA) the walk-past scenario runs as ``--replicas`` Monte
Carlo replicas decoded together (``codec.batch_replicas`` = replicas), every model call
``--batch`` packets (``codec.decode_batch_packets``; Alice's encoder over each replica's
packets, ``codec.encode_batch_packets``), the models on ``--device``. The raw rate is
``bench_codecs``' bare model calls for the same packets at the same batch size. The
engine's time excludes building the replicas' codecs and sources (the markers' ``build_s``;
the raw calls load before their clock starts). GPU utilisation is sampled with
``nvidia-smi`` every 0.2 s during each timed run (mean of the samples; "n/a" without it).
Each engine run is timed with decodes in place and with ``codec.decode_behind`` (decodes on
a worker thread while the CPU physics and Alice's encoder go on). Target: engine >= 0.8x
raw. ``benchmarks/gpu_check.sh`` runs it.

    python3 benchmarks/bench_gpu_engine.py [--device cuda] [--replicas 32] [--packets 64]
        [--batch 1024] [--codecs diffsem,stego] [--out results/gpu_check/engine.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import threading
from pathlib import Path

import torch
from bench_codecs import diffsem_batched, engine_seconds, stego_batched

from semsim.models.common.device import resolve_device, synchronize
from semsim.simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
RAW = {"diffsem": diffsem_batched, "stego": stego_batched}


class Utilisation:
    """Mean GPU utilisation (%) sampled by ``nvidia-smi`` while the block runs."""

    def __init__(self, device: str) -> None:
        self.samples: list[float] = []
        self.on = device.startswith("cuda") and shutil.which("nvidia-smi") is not None
        self.index = device.split(":")[1] if ":" in device else "0"

    def __enter__(self) -> Utilisation:
        self._stop = threading.Event()
        if self.on:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["nvidia-smi", "-i", self.index, "--query-gpu=utilization.gpu",
                                  "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, check=False).stdout.strip()
            if out.replace(".", "", 1).isdigit():
                self.samples.append(float(out))
            self._stop.wait(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.on:
            self._thread.join()

    @property
    def mean(self) -> str:
        return f"{sum(self.samples) / len(self.samples):.0f} %" if self.samples else "n/a"


def engine_rate(codec: str, replicas: int, packets: int, batch: int, device: str,
                behind: bool = False) -> float:
    """Packets/s of the engine on ``replicas`` x ``packets``, building excluded."""
    sc = load_scenario(ROOT / "scenarios" / f"{codec}_walk_past.yaml",
                       ["run.duration_s=null", f"run.num_packets={packets}",
                        f"run.replicas={replicas}", f"codec.batch_replicas={replicas}",
                        f"codec.decode_batch_packets={batch}",
                        f"codec.encode_batch_packets={packets}", f"codec.device={device}",
                        f"codec.decode_behind={'true' if behind else 'false'}"])
    synchronize(device)
    return replicas * packets / engine_seconds(sc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--replicas", type=int, default=32)
    ap.add_argument("--packets", type=int, default=64, help="packets per replica")
    ap.add_argument("--batch", type=int, default=1024, help="packets per model call")
    ap.add_argument("--codecs", default="diffsem,stego")
    ap.add_argument("--out", default="results/gpu_check/engine.json")
    args = ap.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(1)
    report: dict[str, object] = {"device": device, "replicas": args.replicas,
                                 "packets_per_replica": args.packets, "batch": args.batch}
    for codec in args.codecs.split(","):
        raw = RAW[codec]
        raw(min(args.batch, 64), min(args.batch, 64), device, None)  # warm-up
        engine_rate(codec, 2, 4, args.batch, device)
        total = args.replicas * args.packets
        with Utilisation(device) as u_raw:
            raw_rate = raw(total, args.batch, device, None)
        with Utilisation(device) as u_eng:
            eng_rate = engine_rate(codec, args.replicas, args.packets, args.batch, device)
        with Utilisation(device) as u_bh:
            bh_rate = engine_rate(codec, args.replicas, args.packets, args.batch, device, True)
        report[codec] = {"engine_packets_per_s": round(eng_rate, 1),
                         "engine_decode_behind_packets_per_s": round(bh_rate, 1),
                         "engine_decode_behind_over_raw": round(bh_rate / raw_rate, 3),
                         "gpu_utilisation_engine_decode_behind": u_bh.mean,
                         "raw_packets_per_s": round(raw_rate, 1),
                         "engine_over_raw": round(eng_rate / raw_rate, 3),
                         "gpu_utilisation_engine": u_eng.mean,
                         "gpu_utilisation_raw": u_raw.mean}
        print(f"{codec:8s} {device}: batch {args.batch}, {args.replicas} replicas x "
              f"{args.packets} packets: engine {eng_rate:,.1f} packets/s (GPU {u_eng.mean}), "
              f"raw batched calls {raw_rate:,.1f} packets/s (GPU {u_raw.mean}): "
              f"{eng_rate / raw_rate:.2f}x (target >= 0.8x); with decode_behind "
              f"{bh_rate:,.1f} packets/s (GPU {u_bh.mean}) = {bh_rate / raw_rate:.2f}x",
              flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
