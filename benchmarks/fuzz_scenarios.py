"""Fuzz the scenario parser and a very short run with mutated shipped scenarios.

Each case mutates one shipped scenario (``scenarios/*.yaml``), seeded: an unknown key at
some level, a wrong type, a non-finite or extreme number, a deleted key, a ``--set``
override (malformed paths included) or a YAML text mutation (duplicate keys, deep nesting,
an alias bomb, a huge integer). Every case runs in a forked child (memory-limited, with a
timeout): ``semsim validate``'s logic (:func:`load_scenario`), then, for a scenario that
validates and uses the reference codec, a run of 5 packets, 1 replica. Counted:

- named: a :class:`ScenarioError` (the wanted answer to bad input);
- traceback: any other exception;
- hang: the case ran past ``--timeout``;
- accepted-invalid: a run that wrote non-finite values into a column that must be finite,
  or abs(SNR) > 500 dB (a run stopped by the trace writer's own finite check is counted
  apart, as ``caught-at-write``).

    .venv/bin/python benchmarks/fuzz_scenarios.py --cases 1200 --seed 0
"""

from __future__ import annotations

import argparse
import collections
import copy
import dataclasses
import math
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

#: columns of the fixed trace schema that must be finite in every row
FINITE = ("time_s", "tx_x_m", "tx_y_m", "rx_x_m", "rx_y_m", "distance_m", "relative_speed_mps",
          "doppler_hz", "path_loss_db", "shadowing_db", "mean_snr_db", "fading_gain",
          "snr_true_db", "snr_rx_est_db", "snr_est_db", "snr_mismatch_db", "capacity_bps_hz",
          "secrecy_capacity_bps_hz")
SNR = ("mean_snr_db", "snr_true_db", "snr_rx_est_db", "snr_est_db")
MAX_ABS_SNR_DB = 500.0

EXTREME = [math.inf, -math.inf, math.nan, 1e308, -1e308, 1e300, -1e300, 1e-300, 1e9, -1e9,
           2**63, 2**64, -1, 0, 10**30, "1e400", ".inf", "-.inf", 1e15, -1e15]
WRONG = [[], [1, 2], ["a"], {"a": 1}, {"kind": ["a"]}, "text", True, False, None, 3, -1.5,
         [[1, 2], [3]], {"kind": "static"}]
BAD_PATHS = ["run..seed=1", ".run.seed=1", "eves[0]name=x", "run.seed[0]=1", "[0]=1",
             "run.=1", "run.seed", "=3", "eves[99].name=x", "bob.mobility.kind=[a]",
             "eves[-1].name=x", "run[0]=1", "bob..mobility=1", "run.seed=[1, 2",
             "a" + ".a" * 10_000 + "=1", "run.seed=" + "[" * 5000 + "]" * 5000,
             "bob.mobility.position_m[5]=1", "codec.options.decoder=mf=2", " run . seed =1"]
KEYS = ["kidn", "kind_", "nmae", "mobilty", "speed", "x", "options", "seed", "1", "nul"]


def _nodes(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every (path, node) of nested dicts and lists."""
    out = [(path, data)]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _nodes(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _nodes(v, (*path, i))
    return out


def _set(data: Any, path: tuple, value: Any) -> None:
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def mutate(rng: random.Random, data: dict, text: str) -> tuple[str, list[str], str]:
    """One mutation: (YAML text, overrides, description)."""
    data = copy.deepcopy(data)
    nodes = _nodes(data)
    leaves = [(p, v) for p, v in nodes if p and not isinstance(v, (dict, list))]
    numbers = [(p, v) for p, v in leaves if isinstance(v, (int, float))
               and not isinstance(v, bool)] or leaves
    kind = rng.choice(["unknown_key", "wrong_type", "number", "number", "number", "delete",
                       "override", "override", "text"])
    if kind == "unknown_key":
        path, node = rng.choice([(p, v) for p, v in nodes if isinstance(v, dict)])
        key = rng.choice(KEYS + [str(k) + "x" for k in node])
        node[key] = rng.choice(WRONG + EXTREME)
        desc = f"{_dotted((*path, key))} added"
    elif kind == "wrong_type":
        path, _ = rng.choice([(p, v) for p, v in nodes if p])
        value = rng.choice(WRONG)
        _set(data, path, value)
        desc = f"{_dotted(path)}={value!r}"
    elif kind == "number":
        path, _ = rng.choice(numbers)
        value = rng.choice(EXTREME)
        _set(data, path, value)
        desc = f"{_dotted(path)}={value!r}"
    elif kind == "delete":
        path, _ = rng.choice([(p, v) for p, v in nodes if p and isinstance(p[-1], str)])
        node = data
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]
        desc = f"{_dotted(path)} deleted"
    elif kind == "override":
        if rng.random() < 0.5:
            item = rng.choice(BAD_PATHS)
        else:
            path, _ = rng.choice(leaves)
            item = f"{_dotted(path)}={yaml.safe_dump(rng.choice(EXTREME + WRONG), default_flow_style=True).strip().removesuffix('...').strip()}"  # noqa: E501
        return yaml.safe_dump(data), [item], f"--set {item[:60]}"
    else:
        choice = rng.choice(["dup", "deep", "bomb", "bigint", "deep_list"])
        if choice == "dup":
            key = rng.choice(list(data))
            value = yaml.safe_dump(data[key], default_flow_style=True).strip()
            return f"{text}\n{key}: {value}\n", [], f"duplicate {key}"
        data.pop("description", None)
        text = yaml.safe_dump(data)
        if choice == "deep":
            return f"{text}extra: {'{a: ' * 5000}1{'}' * 5000}\n", [], "5000-deep mapping"
        if choice == "deep_list":
            return f"{text}description: {'[' * 3000}{']' * 3000}\n", [], "3000-deep list"
        if choice == "bomb":
            items = ["&a0 [x, x, x, x, x, x, x, x, x]"]
            items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 6)}]" for i in range(1, 9)]
            return f"{text}description: [{', '.join(items)}]\n", [], "alias bomb"
        data.setdefault("run", {})["seed"] = 123456789
        text = yaml.safe_dump(data).replace("seed: 123456789", "seed: " + "9" * 5000)
        return text, [], "5000-digit run.seed"
    return yaml.safe_dump(data), [], desc


def _short_run(scenario) -> tuple[str, str]:
    """Run 5 packets; classify the trace."""
    import numpy as np
    import pandas as pd

    from semsim.simulator.engine import run_scenario

    run = dataclasses.replace(scenario.run, num_packets=5, duration_s=None, replicas=1)
    scenario = dataclasses.replace(scenario, run=run)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run_scenario(scenario, Path(tmp) / "run", write_metadata=False)
        except ValueError as exc:
            try:
                from semsim.simulator.trace import TraceValueError
            except ImportError:  # before the trace writer had its finite check
                TraceValueError = ()  # noqa: N806
            if isinstance(exc, TraceValueError):
                return "caught-at-write", str(exc)[:200]
            raise
        parts = sorted((Path(tmp) / "run" / "traces").glob("*.parquet"))
        df = pd.concat([pd.read_parquet(p) for p in parts])
    for c in FINITE:
        if c in df and not np.isfinite(df[c].to_numpy(dtype=float)).all():
            return "accepted-invalid", f"non-finite {c}"
    for c in SNR:
        if c in df and (np.abs(df[c].to_numpy(dtype=float)) > MAX_ABS_SNR_DB).any():
            return "accepted-invalid", f"|{c}| > {MAX_ABS_SNR_DB} dB"
    return "ran", ""


def _case(path: str, overrides: list[str], conn, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    warnings.simplefilter("ignore")  # numpy overflow warnings of accepted-invalid runs
    from semsim.simulator.errors import ScenarioError
    from semsim.simulator.scenario import load_scenario

    try:
        scenario = load_scenario(path, overrides)
        if scenario.codec.name != "reference":
            result = ("valid", scenario.codec.name)
        else:
            result = _short_run(scenario)
    except ScenarioError as exc:
        result = ("named", str(exc)[:300] if exc.path else "(no key) " + str(exc)[:300])
    except BaseException as exc:  # noqa: BLE001 - counting every other exception
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        result = ("traceback", f"{type(exc).__name__}: {str(exc)[:200]} "
                               f"[{Path(frame.filename).name}:{frame.lineno}]")
    conn.send(result)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--memory-gb", type=float, default=3.0, help="address-space limit per case")
    ap.add_argument("--show", type=int, default=5, help="examples printed per outcome")
    args = ap.parse_args(argv)

    import semsim.simulator.engine  # noqa: F401 - imported once, shared by every fork
    from semsim.simulator.codecs import CODECS
    from semsim.simulator.sources import SOURCES

    for registry in (CODECS, SOURCES):
        for name in registry.names():
            registry.module(name)

    texts = {p: p.read_text() for p in SCENARIOS}
    datas = {p: yaml.safe_load(t) for p, t in texts.items()}
    ctx = multiprocessing.get_context("fork")
    counts: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            rng = random.Random(args.seed * 1_000_003 + i)
            src = SCENARIOS[i % len(SCENARIOS)]
            text, overrides, desc = mutate(rng, datas[src], texts[src])
            path = Path(tmp) / f"case{i}.yaml"
            path.write_text(text)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_case, args=(str(path), overrides, send,
                                                   int(args.memory_gb * 2**30)))
            proc.start()
            send.close()
            if recv.poll(args.timeout):
                try:
                    outcome, detail = recv.recv()
                except EOFError:
                    outcome, detail = "traceback", "child died"
            else:
                outcome, detail = "hang", ""
            proc.kill()
            proc.join()
            path.unlink()
            counts[outcome] += 1
            if len(examples[outcome]) < args.show:
                examples[outcome].append(f"{src.name}: {desc}: {detail}")
    wall = time.perf_counter() - started
    bad = counts["traceback"] + counts["hang"] + counts["accepted-invalid"]
    print(f"cases tried: {args.cases} (seed {args.seed}, {wall:.0f} s)")
    for k in ("named", "valid", "ran", "traceback", "hang", "accepted-invalid",
              "caught-at-write"):
        print(f"  {k:17s} {counts[k]}")
    for k in ("traceback", "hang", "accepted-invalid", "caught-at-write"):
        for line in examples.get(k, []):
            print(f"  [{k}] {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
