#!/usr/bin/env bash
# Load benchmark: 64 connections polling GET /api/v1/jobs/{id}/metrics?after=<recent step> on a job with 10,000
# metric points, against the API alone (Release build, embedded PostgreSQL on loopback). Prints wrk's figures as JSON.
# Usage: bench/metrics-load.sh [seconds=20] [connections=64]
# METRICS_CACHE_MS=0 turns off the API's shared 0.5 s answer, so every poll is a database query.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-64}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
source <(sed -n '/^pg_bin()/,/^}/p;/^as_pg()/p;/^log()/p;/^start_postgres()/,/^}/p;/^pg_tool()/p;/^stop_postgres()/p;/^free_port()/p' lora.sh)
pg_user=postgres
pg_dir=$(mktemp -d /tmp/lora-bench-pg.XXXXXX)
pg_port=$(free_port); api_port=$(free_port)
api_pid=""
trap '[ -n "$api_pid" ] && kill $api_pid 2>/dev/null; wait 2>/dev/null; stop_postgres "$pg_dir"; rm -rf "$pg_dir"' EXIT
start_postgres "$pg_dir" "$pg_port"
as_pg "$(pg_tool createdb)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" lora
key="lsk_be0c4a11_$(head -c18 /dev/urandom | base64 | tr '+/' '--')"

dotnet build src/Api -c Release -nologo -v q >/dev/null
ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=$pg_user;Database=lora;Maximum Pool Size=100" \
Auth__AdminKey="$key" Lora__ArtifactsPath="$pg_dir/artifacts" Lora__ModelsPath="$pg_dir/models" \
Serilog__MinimumLevel__Default=Warning Metrics__CacheMilliseconds=${METRICS_CACHE_MS:-500} ASPNETCORE_URLS="http://127.0.0.1:$api_port" \
  dotnet src/Api/bin/Release/net10.0/LoraService.Api.dll >"$pg_dir/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$api_port/health/ready" >/dev/null 2>&1 && break; sleep 1; done

job=$(cat /proc/sys/kernel/random/uuid)
as_pg "$(pg_tool psql)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d lora -q -v ON_ERROR_STOP=1 -v job="$job" < bench/seed-metrics-job.sql
echo "{\"cache_ms\": ${METRICS_CACHE_MS:-500}, \"points\": $(as_pg "$(pg_tool psql)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d lora -tAc "SELECT count(*) FROM metric_points"), \"connections\": $connections, \"seconds\": $seconds, \"threads\": 2}"
# Warm up (JIT, connection pool, caches), then measure.
JOB_ID=$job API_KEY=$key AFTER=1990 wrk -t2 -c"$connections" -d5s -s bench/metrics-poll.lua "http://127.0.0.1:$api_port" >/dev/null
JOB_ID=$job API_KEY=$key AFTER=1990 wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/metrics-poll.lua "http://127.0.0.1:$api_port" | tail -1
