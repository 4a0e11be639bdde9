#!/usr/bin/env bash
# Engine (TorchSharp) vs the PyTorch peer ../shared/bench/torch_ref.py: same model, shapes and training step.
# The two programs run alternately, one (config, mode) at a time, in the same environment, and a table of
# .NET / PyTorch ratios is printed at the end.
#
# Environment knobs (all optional):
#   MALLOC=hugetlb|default   glibc malloc for BOTH sides (default: hugetlb = GLIBC_TUNABLES=glibc.malloc.hugetlb=1;
#                            "default" leaves GLIBC_TUNABLES unset). See docs/benchmarks.md for why it matters.
#   ROUNDS=N                 rounds over the 4 pairs (default 2); odd rounds run PyTorch first, even rounds .NET first
#   FIRST_ROUND=N            number of the first round (default 1), to continue an earlier run in another OUT_DIR
#   CONFIGS=small,medium     MODES=full,lora     THREADS=2
#   SMALL_WARMUP=3 SMALL_STEPS=10 MEDIUM_WARMUP=2 MEDIUM_STEPS=4   (torch_ref.py's defaults)
#   OUT_DIR=DIR              where the JSONL files go (default: a fresh temp folder)
#   TORCH_REF=PATH           the peer script (default: ../shared/bench/torch_ref.py, relative to the repo root)
#   SKIP_INSTALL=1 SKIP_BUILD=1
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

MALLOC=${MALLOC:-hugetlb}
ROUNDS=${ROUNDS:-2}
FIRST_ROUND=${FIRST_ROUND:-1}
CONFIGS=${CONFIGS:-small,medium}
MODES=${MODES:-full,lora}
THREADS=${THREADS:-2}
SMALL_WARMUP=${SMALL_WARMUP:-3}
SMALL_STEPS=${SMALL_STEPS:-10}
MEDIUM_WARMUP=${MEDIUM_WARMUP:-2}
MEDIUM_STEPS=${MEDIUM_STEPS:-4}
TORCH_REF_SET=${TORCH_REF:-}
TORCH_REF=${TORCH_REF:-../shared/bench/torch_ref.py}
OUT_DIR=${OUT_DIR:-$(mktemp -d -t lora-bench.XXXXXX)}
PY=/usr/bin/python3   # Debian's python3 has torch; a pyenv python3 on PATH may not

if [[ ! -f $TORCH_REF && -z ${TORCH_REF_SET:-} ]]; then
  # In a git worktree, ../shared is next to the main checkout rather than next to this folder.
  common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  [[ -n $common && -f $common/../../shared/bench/torch_ref.py ]] && TORCH_REF=$common/../../shared/bench/torch_ref.py
fi
[[ -f $TORCH_REF ]] || { echo "peer script not found: $TORCH_REF (run from a checkout next to shared/)" >&2; exit 1; }

# --- the peer's Debian packages ---------------------------------------------------------------
if [[ ${SKIP_INSTALL:-0} != 1 ]]; then
  missing=()
  for p in python3-torch python3-numpy libopenblas0-openmp; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "installing ${missing[*]}" >&2
    "${sudo[@]}" apt-get install -y "${missing[@]}" || { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y "${missing[@]}"; }
  fi
fi

# --- the .NET side ---------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  dotnet build src/Cli -c Release -v quiet -nologo >&2
fi
cli="$repo/src/Cli/bin/Release/net10.0/LoraService.Cli"
[[ -x $cli ]] || { echo "missing $cli (build src/Cli -c Release)" >&2; exit 1; }

# --- one environment for both ----------------------------------------------------------------
# glibc reads GLIBC_TUNABLES only at process start, so it is exported here, before either program starts.
unset GLIBC_TUNABLES
case $MALLOC in
  hugetlb) export GLIBC_TUNABLES=glibc.malloc.hugetlb=1 ;;
  default) ;;
  *) echo "MALLOC must be hugetlb or default" >&2; exit 2 ;;
esac
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

py_jsonl="$OUT_DIR/pytorch.jsonl"
net_jsonl="$OUT_DIR/dotnet.jsonl"
: >"$py_jsonl"; : >"$net_jsonl"
echo "results: $OUT_DIR  (MALLOC=$MALLOC GLIBC_TUNABLES=${GLIBC_TUNABLES:-<unset>} threads=$THREADS rounds=$ROUNDS)" >&2

steps=(--small-warmup "$SMALL_WARMUP" --small-steps "$SMALL_STEPS" --medium-warmup "$MEDIUM_WARMUP" --medium-steps "$MEDIUM_STEPS")

tag() {  # adds the round and the CPU pressure seen by the run (other jobs on the machine) to each JSON line
  "$PY" -c '
import json, sys
cpu = open("/proc/pressure/cpu").readline().split()  # some avg10=.. avg60=.. avg300=.. total=..
extra = {"round": int(sys.argv[1]), "cpu_pressure_avg60": float(cpu[2].split("=")[1]),
         "loadavg_1m": float(open("/proc/loadavg").read().split()[0])}
for line in sys.stdin:
    print(json.dumps({**json.loads(line), **extra}))' "$1"
}
run_py() {  # config mode round
  "$PY" "$TORCH_REF" --configs "$1" --modes "$2" --threads "$THREADS" --malloc "$MALLOC" --no-peak "${steps[@]}" \
    | grep '"impl"' | tag "$3" \
    >>"$py_jsonl"
}
run_net() {
  "$cli" bench --configs "$1" --modes "$2" --threads "$THREADS" "${steps[@]}" \
    | tag "$3" \
    >>"$net_jsonl"
}

IFS=, read -ra cfgs <<<"$CONFIGS"
IFS=, read -ra mds <<<"$MODES"
for ((round = FIRST_ROUND; round < FIRST_ROUND + ROUNDS; round++)); do
  for c in "${cfgs[@]}"; do
    for m in "${mds[@]}"; do
      if ((round % 2)); then run_py "$c" "$m" "$round"; run_net "$c" "$m" "$round"
      else run_net "$c" "$m" "$round"; run_py "$c" "$m" "$round"; fi
      echo "round $round $c/$m done" >&2
    done
  done
done

# --- ratio table (medians over rounds) ---------------------------------------------------------
echo
"$PY" "$repo/bench/table.py" "$py_jsonl" "$net_jsonl"
echo "raw: $py_jsonl $net_jsonl" >&2
