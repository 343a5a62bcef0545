#!/usr/bin/env bash
# One prepared run for a lent GPU machine, inside a time budget (seconds, default 420):
# environment, the CUDA tests, the DiffSem benchmark on the GPU and on its CPU, the engine on
# the GPU against the raw batched model calls (benchmarks/bench_gpu_engine.py), and the
# paper-width U-Net lever study (benchmarks/paper_width.py) with what time is left.
#   OUT=results/gpu_check bash benchmarks/gpu_check.sh 420
# Extra Python wheels (simpy, pytorch-msssim, threadpoolctl: e.g. `pip download --no-deps -d
# .whl simpy pytorch-msssim threadpoolctl`, carried as .whl) are installed from .whl/ when present, and
# the datasets are read from .gpu/data/ when present (else $SEMSIM_DATA / ../shared/data).
set -u
START=$(date +%s)
BUDGET=${1:-420}
OUT=${OUT:-results/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
# the semsim namespace without installing: semsim.simulator -> simulator/, semsim.models -> models/
mkdir -p /tmp/semsim-ns/semsim
ln -sfn "$PWD/simulator" /tmp/semsim-ns/semsim/simulator
ln -sfn "$PWD/models" /tmp/semsim-ns/semsim/models
export PYTHONPATH=/tmp/semsim-ns:$PWD:${PYTHONPATH:-}
if [ -d .gpu/data ]; then export SEMSIM_DATA=${SEMSIM_DATA:-$PWD/.gpu/data}; fi
elapsed() { echo $(( $(date +%s) - START )); }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
  echo "== CUDA tests"
  timeout 180 python3 -m pytest -q -p no:cacheprovider --timeout 150 -rs \
    tests/models/test_cuda.py tests/simulator/test_codecs_cuda.py tests/models/test_device.py
  echo "[$(elapsed) s]"
} 2>&1 | tee "$OUT/tests.txt"
{
  echo "== bench_diffsem cuda"
  timeout 90 python3 benchmarks/bench_diffsem.py --device cuda --reps 5 --unet-widths 128 \
    --out "$OUT/bench_diffsem_cuda.json"
  echo "[$(elapsed) s]"
  echo "== bench_gpu_engine cuda (the engine with batch_replicas vs raw batched calls, GPU utilisation)"
  timeout 150 python3 benchmarks/bench_gpu_engine.py --device cuda --replicas 32 \
    --packets 64 --batch 1024 --out "$OUT/bench_gpu_engine.json"
  echo "[$(elapsed) s]"
  echo "== bench_replicas cuda (replicas decoded together, codec.batch_replicas)"
  timeout 120 python3 benchmarks/bench_replicas.py --device cuda --replicas 32 --packets 16 \
    --batch 512 --out "$OUT/bench_replicas_cuda.json"
  echo "[$(elapsed) s]"
} > "$OUT/bench.txt" 2>&1
LEFT=$(( BUDGET - $(elapsed) - 150 ))
if [ "$LEFT" -gt 20 ]; then
  timeout $(( LEFT + 120 )) python3 benchmarks/paper_width.py --device cuda \
    --unet-budget-s "$LEFT" --out "$OUT" 2>&1 | grep -v "it/s\]" | tail -40
fi
{
  echo "== bench_diffsem cpu, all cores"
  timeout 60 python3 benchmarks/bench_diffsem.py --device cpu --threads 0 --reps 2 \
    --batches 1,64 --out "$OUT/bench_diffsem_cpu.json"
  echo "[$(elapsed) s]"
} >> "$OUT/bench.txt" 2>&1
tail -3 "$OUT/tests.txt"; grep -h "per_packet\|step_s\|replicas x\|target" "$OUT/bench.txt" | head -40
echo "total $(elapsed) s"
