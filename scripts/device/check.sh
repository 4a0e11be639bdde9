#!/usr/bin/env bash
# Runs on a device machine (Python with PyTorch for CUDA, transformers and peft; no .NET), from the repo root, with
# .device-kit from scripts/device/prepare.sh carried. Each part runs whatever the one before it did; everything goes
# to $OUT (8 files at most come back):
#   1. transformers and PEFT against this engine: hf_parity.py on the fixtures (CPU, float32)
#   2. the engine on CUDA through PyTorch's own libtorch: bench in bf16, and a short LoRA job on a bf16 checkpoint,
#      with the GPU's memory sampled every 250 ms
set -u
OUT=${OUT:-/tmp/device-check}
mkdir -p "$OUT"
kit=.device-kit
export PYTHONUNBUFFERED=1

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "peft", peft.__version__)'
} > "$OUT/env.txt" 2>&1

timeout 300 python3 scripts/device/hf_parity.py "$kit/fixtures" "$OUT/parity.json" > "$OUT/parity.log" 2>&1
echo "hf_parity exit $?" >> "$OUT/parity.log"

mkdir -p /tmp/cli && tar -xJf "$kit/cli.tar.xz" -C /tmp/cli
cli=/tmp/cli/publish/LoraService.Cli
TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/gpu-memory-mib.txt" 2>&1 &
sampler=$!
timeout 180 "$cli" bench --configs small,medium --modes full,lora --device cuda --dtype bfloat16 --out "$OUT/bench-cuda.jsonl" \
  > "$OUT/bench-cuda.log" 2>&1
echo "bench exit $?" >> "$OUT/bench-cuda.log"
timeout 150 "$cli" train "$kit/cuda-job/spec.json" --device cuda --out /tmp/cuda-job/out --work /tmp/cuda-job/work \
  > "$OUT/train-cuda.log" 2>&1
echo "train exit $?" >> "$OUT/train-cuda.log"
kill "$sampler" 2>/dev/null
cp /tmp/cuda-job/out/summary.json "$OUT/train-cuda-summary.json" 2>/dev/null
tail -n 30 "$OUT/env.txt" "$OUT/parity.log" "$OUT/bench-cuda.log" "$OUT/train-cuda.log"
