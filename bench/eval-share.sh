#!/usr/bin/env bash
# The share of the README quickstart job's time spent in evaluation, with batched evaluation (the defaults) and with
# evaluation one prompt / one sequence at a time (evaluation.batch_size 1). The same job runs through
# `LoraService.Cli train` (the engine the worker runs), the two variants alternating, ROUNDS times (default 2); the
# figures come from each run's summary.json (evaluation_seconds, training_seconds).
#
#   bench/eval-share.sh            # builds the CLI (Release), writes the quickstart model and data, runs, prints a table
#   ROUNDS=3 THREADS=1 SKIP_BUILD=1 OUT_DIR=/tmp/share bench/eval-share.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/eval-share.XXXXXX)}
cli=src/Cli/bin/Release/net10.0/LoraService.Cli

[ -n "${SKIP_BUILD:-}" ] || dotnet build src/Cli -c Release -nologo -v q
mkdir -p "$OUT_DIR"
[ -d "$OUT_DIR/samples" ] || $cli samples --out "$OUT_DIR/samples" >/dev/null
# The model ./lora.sh up prepares for the quickstart.
[ -d "$OUT_DIR/tiny-llama" ] || $cli create-model --arch llama --out "$OUT_DIR/tiny-llama" --hidden 64 --layers 2 --heads 4 --positions 256 >/dev/null

spec() { # $1 = extra evaluation fields
  cat <<JSON
{
  "base_model": "tiny-llama", "method": "lora", "name": "quickstart",
  "training_dataset": "samples/arith-train.jsonl", "validation_dataset": "samples/arith-valid.jsonl",
  "lora": { "rank": 8 },
  "hyperparameters": { "learning_rate": 0.002, "max_steps": 60, "batch_size": 8, "micro_batch_size": 8, "max_sequence_length": 32 },
  "evaluation": { "target": ["samples/arith-em.jsonl"], "source": ["samples/source-mc.jsonl"], "every_n_steps": 20, "max_examples": 20, "max_new_tokens": 12 $1 },
  "checkpoint_every": 20
}
JSON
}
spec "" > "$OUT_DIR/batched.json"
spec ', "batch_size": 1' > "$OUT_DIR/one-at-a-time.json"

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
run() { # $1 = variant, $2 = round
  local dir="$OUT_DIR/run-$1-$2"
  rm -rf "$dir"
  local start end
  start=$(date +%s.%N)
  $cli train "$OUT_DIR/$1.json" --out "$dir/out" --work "$dir/work" --quiet >"$dir.log" 2>&1 || { cat "$dir.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 - "$1" "$2" "$dir/out/summary.json" "$start" "$end" <<'PY' | tee -a "$OUT_DIR/results.jsonl"
import json, sys
variant, rnd, path, start, end = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
s = json.load(open(path))
ev, tr = s["evaluation_seconds"], s["training_seconds"]
print(json.dumps({"variant": variant, "round": rnd, "evaluation_s": round(ev, 2), "training_s": round(tr, 2),
                  "evaluation_share": round(ev / (ev + tr), 3), "process_s": round(end - start, 2)}))
PY
}
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 == 1 )); then run batched "$round"; run one-at-a-time "$round"; else run one-at-a-time "$round"; run batched "$round"; fi
done
python3 - "$OUT_DIR/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'variant':<14} {'eval s':>8} {'train s':>8} {'eval share':>10} {'process s':>9}   (medians over {len(rows)//2} rounds)")
for v in ("one-at-a-time", "batched"):
    r = [x for x in rows if x["variant"] == v]
    m = lambda k: statistics.median(x[k] for x in r)
    print(f"{v:<14} {m('evaluation_s'):>8.2f} {m('training_s'):>8.2f} {m('evaluation_share'):>10.1%} {m('process_s'):>9.2f}")
PY
