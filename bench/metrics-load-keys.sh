#!/usr/bin/env bash
# Load benchmark with the default per-key rate limits on: many API keys polling GET /api/v1/jobs/{id}/metrics?after=<recent
# step> on a job with 10,000 metric points, against a real API host (Release) and PostgreSQL on loopback. Not run in CI.
# Two API instances on the same database, measured alternately in one sitting:
#   reference  rate limits off (RateLimits__PermitLimit=0), 1 key        (the figure of bench/metrics-load.sh)
#   few keys   default limits (6,000 a minute per key and group), KEYS keys: each key is refused (429) past 100/s
#   many keys  default limits, MANY_KEYS other keys: each stays under its limit, so nothing is refused
# Prints one JSON line per run (wrk: served 2xx polls/s, refused 429/s, p50/p99 of all answers).
# Usage: bench/metrics-load-keys.sh [seconds=15] [connections=64] [rounds=2]; KEYS=50 MANY_KEYS=1000
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
connections=${2:-64}
rounds=${3:-2}
few=${KEYS:-50}
many=${MANY_KEYS:-1000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
source <(sed -n '/^pg_bin()/,/^}/p;/^as_pg()/p;/^log()/p;/^start_postgres()/,/^}/p;/^pg_tool()/p;/^stop_postgres()/p;/^free_port()/p' lora.sh)
pg_user=postgres
dir=$(mktemp -d /tmp/lora-bench-keys.XXXXXX); chmod 755 "$dir"  # the postgres user must reach the cluster inside
pg_port=$(free_port); on_port=$(free_port); off_port=$(free_port)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; stop_postgres "$dir/pg"; rm -rf "$dir"' EXIT
start_postgres "$dir/pg" "$pg_port"
as_pg "$(pg_tool createdb)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" lora
admin="lsk_be0c4a12_$(head -c18 /dev/urandom | base64 | tr '+/' '--')"

dotnet build src/Api -c Release -nologo -v q >/dev/null
start_api() { # PORT LOG [extra env...]
  local port=$1 log=$2; shift 2
  env ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=$pg_user;Database=lora;Maximum Pool Size=100" \
    Auth__AdminKey="$admin" Lora__ArtifactsPath="$dir/artifacts" Lora__ModelsPath="$dir/models" \
    Serilog__MinimumLevel__Default=Warning ASPNETCORE_URLS="http://127.0.0.1:$port" "$@" \
    dotnet src/Api/bin/Release/net10.0/LoraService.Api.dll >"$dir/$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return; sleep 1; done
  cat "$dir/$log" >&2; return 1
}
start_api "$on_port" api-defaults.log
start_api "$off_port" api-unlimited.log RateLimits__PermitLimit=0

job=$(cat /proc/sys/kernel/random/uuid)
as_pg "$(pg_tool psql)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d lora -q -v ON_ERROR_STOP=1 -v job="$job" < bench/seed-metrics-job.sql

# Keys of the job's tenant, issued through the API as an operator would.
api="http://127.0.0.1:$on_port"
tenant=$(curl -fsS -H "Authorization: Bearer $admin" "$api/api/v1/me" | jq -er '.tenant_id // .tenantId')
for i in $(seq 1 $((many + few))); do
  curl -fsS -H "Authorization: Bearer $admin" -H "Content-Type: application/json" -d "{\"name\": \"bench-$i\"}" \
    "$api/api/v1/tenants/$tenant/keys" | jq -er '.key'
done >"$dir/keys-all"
# Apart, so the windows the few-keys run uses up do not refuse the many-keys run.
head -n "$many" "$dir/keys-all" >"$dir/keys-many"
tail -n "$few" "$dir/keys-all" >"$dir/keys-few"
echo "$admin" >"$dir/keys-one"

echo "{\"points\": 10000, \"connections\": $connections, \"seconds\": $seconds, \"wrk_threads\": 2, \"cores\": $(nproc), \"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
poll() { # NAME PORT KEYS_FILE
  local name=$1 port=$2 keys=$3
  JOB_ID=$job KEYS_FILE=$keys AFTER=1990 wrk -t2 -c"$connections" -d3s -s bench/metrics-poll-keys.lua "http://127.0.0.1:$port" >/dev/null
  printf '{"run": "%s", ' "$name"
  JOB_ID=$job KEYS_FILE=$keys AFTER=1990 wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/metrics-poll-keys.lua "http://127.0.0.1:$port" | tail -1 | cut -c2-
}
for round in $(seq 1 "$rounds"); do
  poll reference "$off_port" "$dir/keys-one"
  poll "few keys" "$on_port" "$dir/keys-few"
  poll "many keys" "$on_port" "$dir/keys-many"
done
