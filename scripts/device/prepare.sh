#!/usr/bin/env bash
# Builds, here, what scripts/device/check.sh needs on a device machine, into .device-kit/ (ignored by git; name it in
# the device run's carry):
#   fixtures/    tiny checkpoints of each family with a PEFT adapter, a merged export and this engine's logits
#   cli.tar.xz   the CLI published self-contained for linux-x64, without libtorch: the device's PyTorch brings its own
#   cuda-job/    a bf16 tiny checkpoint, the sample datasets and a spec for a short LoRA run on CUDA
set -euo pipefail
cd "$(dirname "$0")/../.."
kit=.device-kit
rm -rf "$kit"
mkdir -p "$kit/cuda-job"
dotnet publish src/Cli -c Release -r linux-x64 --self-contained -o "$kit/publish" -nologo -v q
cli="$kit/publish/LoraService.Cli"
"$cli" parity-fixtures --out "$kit/fixtures"
"$cli" create-model --arch llama --out "$kit/cuda-job/model" --hidden 256 --layers 4 --heads 8 --kv-heads 4 --dtype bfloat16
"$cli" samples --out "$kit/cuda-job/samples"
cat > "$kit/cuda-job/spec.json" <<'SPEC'
{ "base_model": "model", "training_dataset": "samples/arith-train.jsonl", "validation_dataset": "samples/arith-valid.jsonl",
  "lora": { "rank": 16 }, "hyperparameters": { "learning_rate": 0.002, "max_steps": 60, "max_sequence_length": 64 },
  "evaluation": { "target": ["samples/arith-em.jsonl"], "source": ["samples/source-mc.jsonl"], "every_n_steps": 30, "max_examples": 50 },
  "export_merged": true }
SPEC
# libtorch's CPU build stays here (it alone is over the carry limit).
(cd "$kit/publish" && rm -f libtorch*.so libc10*.so libgomp*.so* libshm.so libaoti*.so libbackend_with_compiler.so \
    libjitbackend_test.so libnnapi_backend.so)
tar -C "$kit" -cJf "$kit/cli.tar.xz" publish
rm -rf "$kit/publish"
du -sh "$kit"
