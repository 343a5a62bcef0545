"""Neural codecs inside the engine vs the same model work batched, in one process.

For each codec (``diffsem``: E-DiffSem at Bob, the attacker ensemble at each Eve, or
``--attackers``; ``stego``: hide at Alice, reveal at Bob, naive + MIA decoding at each Eve)
this runs the
walk-past scenario (1 Bob + 2 Eves, real images, shipped checkpoints) for N packets through
the engine, one codec call per transmission event, and then the same model calls for the
same number of packets as a few large batches (loading excluded), and the engine again with
``codec.decode_batch_packets`` = batch (several packets per codec call), and with
``codec.encode_batch_packets`` = batch as well (Alice's encoder network over a block of
packets), and that with ``codec.decode_behind`` (the decodes on a worker thread while the
engine and Alice's encoder go on: two cores where the bare calls use one, so the CPU seconds
per packet are printed beside it). The engine's time excludes building its codec and
source (the replica marker's ``build_s``: loading and checking checkpoints and data,
which the bare calls do before their clock starts). Reported: packets per second each way
and the ratios. Torch uses one thread; ``--device cuda`` puts the models on the GPU (the
engine itself stays numpy on the CPU).

    .venv/bin/python benchmarks/bench_codecs.py [--packets N] [--batch B] [--device cpu|cuda]
        [--codecs stego,diffsem] [--attackers direct,conv_cnn,...] [--repeats K]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from semsim.models.common.device import synchronize
from semsim.simulator.engine import run_replicas
from semsim.simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def engine_seconds(scenario) -> float:
    """Seconds an engine run of ``scenario`` spends on its packets: its wall time less the
    replicas' ``build_s`` (building codecs and sources: checkpoint sha256 checks, loading
    networks and datasets, which the bare calls do before their clock starts)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_replicas(scenario, tmp, run_id="bench", write_metadata=False)
        wall = time.perf_counter() - t0
        build = sum(json.loads(f.read_text())["build_s"]
                    for f in Path(tmp, "replicas").glob("r*.json"))
    return wall - build


def engine_rate(name: str, packets: int, decode_batch: int = 1, device: str = "cpu",
                encode_batch: int = 1, attackers: tuple[str, ...] | None = None,
                behind: bool = False) -> float:
    """The engine's rate (packets/s) on the walk-past scenario, building excluded."""
    extra = [f"codec.options.attackers=[{','.join(attackers)}]"] if attackers else []
    sc = load_scenario(ROOT / "scenarios" / f"{name}_walk_past.yaml",
                       ["run.duration_s=null", f"run.num_packets={packets}",
                        f"codec.decode_batch_packets={decode_batch}",
                        f"codec.encode_batch_packets={encode_batch}",
                        f"codec.device={device}",
                        f"codec.decode_behind={'true' if behind else 'false'}", *extra])
    synchronize(device)
    return packets / engine_seconds(sc)


def diffsem_batched(packets: int, batch: int, device: str = "cpu",
                    attackers: tuple[str, ...] | None = None) -> float:
    from semsim.models.data import load_dataset
    from semsim.models.diffsem import load_diffsem
    from semsim.models.diffsem.config import ATTACKERS

    loaded = load_diffsem("mnist", with_baselines=False, device=device)
    system, attackers = loaded.system, attackers or ATTACKERS
    data = load_dataset("mnist", "test")
    gen = torch.Generator().manual_seed(0)
    synchronize(device)
    t0 = time.perf_counter()
    for start in range(0, packets, batch):
        x = data.images[start:start + batch].to(device)
        b = x.shape[0]
        tstar, snr = torch.full((b,), 240), torch.full((b,), 15.0)
        sym, hdr = system.encode(x, tstar, snr, gen)
        rx = sym + 10 ** (-15 / 20) * torch.randn(sym.shape, generator=gen).to(device)
        rx3 = rx.repeat(3, 1, 1, 1)  # Bob + 2 Eves hear the packet
        system.receive_ediffsem(rx3[:b], tstar, tprime=hdr["tprime"])
        heard = system.attack(rx3[b:].flatten(1), {"tstar": tstar.repeat(2),
                                                   "tprime": hdr["tprime"].repeat(2)},
                              attackers, direct=loaded.direct)
        [v.cpu() for v in heard.values()]
    synchronize(device)
    return packets / (time.perf_counter() - t0)


def stego_batched(packets: int, batch: int, device: str = "cpu", attackers=None) -> float:
    from semsim.models.data import load_dataset
    from semsim.models.stego import load_stego

    system = load_stego("mnist-in-fashion", device=device)
    priv, host = load_dataset("mnist", "test").images, load_dataset("fashion", "test").images
    gen = torch.Generator().manual_seed(0)
    synchronize(device)
    t0 = time.perf_counter()
    for start in range(0, packets, batch):
        zc = system.hide(priv[start:start + batch].to(device), host[start:start + batch].to(device))
        rx = zc + (10 ** (-15 / 10) / 2) ** 0.5 * torch.complex(
            torch.randn(zc.shape, generator=gen), torch.randn(zc.shape, generator=gen)).to(device)
        system.reveal(rx)
        eves = rx.repeat(2, 1)
        system.naive(eves)
        system.mia(eves).cpu()
    synchronize(device)
    return packets / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu", help="cpu | cuda[:N] | auto")
    ap.add_argument("--codecs", default="stego,diffsem")
    ap.add_argument("--attackers", default="",
                    help="diffsem: Eve's attackers (default: the whole ensemble)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="fully batched engine and bare calls: best of this many, alternated")
    ap.add_argument("--out", default="results/bench_codecs.json")
    args = ap.parse_args()
    from semsim.models.common.device import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(1)
    report = {}
    benches = {"stego": stego_batched, "diffsem": diffsem_batched}
    for name in args.codecs.split(","):
        batched = benches[name]
        att = tuple(a for a in args.attackers.split(",") if a) if name == "diffsem" else ()
        att = att or None
        batched(min(args.batch, args.packets), args.batch, device, att)  # warm-up
        eng = engine_rate(name, args.packets, 1, device, attackers=att)
        eng_b = engine_rate(name, args.packets, args.batch, device, attackers=att)
        eng_be, eng_bh, bat = 0.0, 0.0, 0.0
        cpu_bh = cpu_bat = float("inf")  # CPU seconds per packet (all threads)
        for _ in range(args.repeats):  # the ones that matter, alternated: best of each
            eng_be = max(eng_be, engine_rate(name, args.packets, args.batch, device, args.batch,
                                             att))
            c0 = time.process_time()
            rate = engine_rate(name, args.packets, args.batch, device, args.batch, att, True)
            eng_bh, cpu_bh = max(eng_bh, rate), min(cpu_bh, (time.process_time() - c0)
                                                    / args.packets)
            c0 = time.process_time()
            bat = max(bat, batched(args.packets, args.batch, device, att))
            cpu_bat = min(cpu_bat, (time.process_time() - c0) / args.packets)
        report[name] = {"engine_per_event_packets_per_s": round(eng, 2),
                        "engine_decode_batch_packets_per_s": round(eng_b, 2),
                        "engine_encode_and_decode_batched_packets_per_s": round(eng_be, 2),
                        "engine_batched_decode_behind_packets_per_s": round(eng_bh, 2),
                        "models_batched_packets_per_s": round(bat, 2),
                        "engine_decode_behind_cpu_ms_per_packet": round(1e3 * cpu_bh, 3),
                        "models_batched_cpu_ms_per_packet": round(1e3 * cpu_bat, 3),
                        "engine_batched_over_per_event": round(eng_b / eng, 2),
                        "engine_both_batched_over_per_event": round(eng_be / eng, 2),
                        "models_batched_over_engine_batched": round(bat / eng_b, 2),
                        "models_batched_over_engine_both_batched": round(bat / eng_be, 2),
                        "engine_decode_behind_over_models_batched": round(eng_bh / bat, 2)}
        print(f"{name:8s} engine per event {eng:7.1f} packets/s; decode_batch_packets="
              f"{args.batch}: {eng_b:7.1f} ({eng_b / eng:4.1f}x); and encode_batch_packets="
              f"{args.batch}: {eng_be:7.1f} ({eng_be / eng:4.1f}x); bare model calls batched "
              f"{bat:7.1f} ({bat / eng_be:4.2f}x the fully batched engine)")
        print(f"{name:8s} fully batched engine / bare model calls: {eng_be / bat:4.2f}x; with "
              f"decode_behind {eng_bh:7.1f} packets/s = {eng_bh / bat:4.2f}x (CPU "
              f"{1e3 * cpu_bh:.2f} ms per packet incl. building the codec, bare calls "
              f"{1e3 * cpu_bat:.2f} ms)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"packets": args.packets, "batch": args.batch,
                                          "device": device, "attackers": args.attackers or
                                          "ensemble", **report}, indent=2))


if __name__ == "__main__":
    main()
