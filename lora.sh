#!/usr/bin/env bash
# LoraService: `./lora.sh up` runs the service (embedded PostgreSQL + API + CPU worker); `./lora.sh test` runs every test.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
data_dir=${LORA_DATA_DIR:-$root/.data}
api_url=${LORA_API_URL:-http://127.0.0.1:5080}
worker_url=${LORA_WORKER_URL:-http://127.0.0.1:5081}
pg_port=${LORA_PG_PORT:-55432}
pg_user=postgres

log() { printf '\033[1m[lora]\033[0m %s\n' "$*" >&2; }

pg_bin() {
  local dir
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then dirname "$(command -v initdb)"; return; fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

# Installs what a fresh Debian/Ubuntu machine lacks: PostgreSQL, patchelf + g++ (TorchSharp fix), Chromium (browser tests).
ensure_packages() {
  local want=()
  [ -n "$(pg_bin)" ] || want+=(postgresql)
  command -v patchelf >/dev/null || want+=(patchelf)
  command -v g++ >/dev/null || want+=(g++)
  if [ "${1:-}" = test ]; then command -v chromium >/dev/null || want+=(chromium); fi
  [ ${#want[@]} -eq 0 ] && return
  log "installing ${want[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
}

# PostgreSQL refuses to run as root: run it as the postgres user (or as ourselves when not root).
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }

# start_postgres DIR PORT: creates the cluster on first use; listens on loopback and a socket inside DIR.
start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  [ "$(id -u)" -eq 0 ] || pg_user=$(id -un)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$pg_user" "$dir" && chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir" -U "$pg_user" --auth=trust --encoding=UTF8 --no-instructions >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then log "PostgreSQL in $dir is already running"; return; fi
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
}

# Client tools may live apart from the server binaries (e.g. /usr/bin/psql).
pg_tool() { command -v "$1" 2>/dev/null || echo "$(pg_bin)/$1"; }

stop_postgres() { as_pg "$(pg_bin)/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true; }

# supervise NAME COMMAND...: runs COMMAND and restarts it when it exits, with a growing back-off;
# gives up (returns 1) after 5 restarts within a minute. TERM stops the command and the supervisor.
supervise() {
  local name=$1 child=0 code now n restarts=()
  shift
  trap 'trap - TERM INT; [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while :; do
    "$@" & child=$!
    code=0; wait "$child" || code=$?
    child=0
    now=$(date +%s)
    n=0; local recent=()
    for t in "${restarts[@]}"; do [ $((now - t)) -lt 60 ] && recent+=("$t") && n=$((n + 1)); done
    restarts=("${recent[@]}")
    if [ "$n" -ge 5 ]; then
      log "$name exited (code $code) after $n restarts within a minute; giving up"
      return 1
    fi
    restarts+=("$now")
    log "$name exited (code $code); restarting in $((n + 1)) s"
    sleep $((n + 1)) & wait $! || true
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cmd_up() {
  ensure_packages
  mkdir -p "$data_dir/models" "$data_dir/artifacts"
  pids=() pg_dir=""
  cleanup() {
    log "stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "$pg_dir" ] && stop_postgres "$pg_dir"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  if [ -z "${ConnectionStrings__Postgres:-}" ]; then
    pg_dir="$data_dir/postgres"
    log "starting embedded PostgreSQL on 127.0.0.1:$pg_port ($pg_dir)"
    start_postgres "$pg_dir" "$pg_port"
    as_pg "$(pg_tool psql)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='lora'" | grep -q 1 \
      || as_pg "$(pg_tool createdb)" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" lora
    export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=$pg_user;Database=lora"
  else
    log "using the configured ConnectionStrings__Postgres"
  fi

  if [ -z "${Auth__AdminKey:-}" ]; then
    [ -f "$data_dir/admin-key" ] || (umask 077; echo "lsk_$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')_$(head -c24 /dev/urandom | base64 | tr '+/' '--' | tr -d '=\n')" > "$data_dir/admin-key")
    export Auth__AdminKey=$(cat "$data_dir/admin-key")
  fi
  export Lora__ModelsPath=${Lora__ModelsPath:-$data_dir/models}
  export Lora__ArtifactsPath=${Lora__ArtifactsPath:-$data_dir/artifacts}
  # Webhook receivers on this machine over http (a deployment keeps both off: https to public addresses only).
  export Webhooks__AllowInsecureUrls=${Webhooks__AllowInsecureUrls:-true}
  export Webhooks__AllowPrivateAddresses=${Webhooks__AllowPrivateAddresses:-true}

  log "building"
  dotnet build LoraService.sln -c Release -v q -nologo >/dev/null
  local cli="dotnet src/Cli/bin/Release/net10.0/LoraService.Cli.dll"
  # Quickstart material: generated sample datasets and a tiny random base model (no weights are downloaded).
  [ -d "$data_dir/samples" ] || $cli samples --out "$data_dir/samples" >/dev/null
  [ -d "$Lora__ModelsPath/tiny-llama" ] || $cli create-model --arch llama --out "$Lora__ModelsPath/tiny-llama" --hidden 64 --layers 2 --heads 4 --positions 256 >/dev/null
  # Each host runs from its output folder, so it finds its appsettings.json and static files.
  # Each runs under a supervisor that restarts it when it exits (a killed worker must not stop the API or PostgreSQL).
  supervise api bash -c "cd src/Api/bin/Release/net10.0 && ASPNETCORE_URLS=$api_url exec dotnet LoraService.Api.dll" & pids+=($!)
  # Transparent huge pages for glibc malloc: CPU training spends most of its time faulting freed memory back in otherwise.
  ASPNETCORE_URLS=$worker_url Worker__Device=${Worker__Device:-cpu} GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1} \
    supervise worker bash -c 'cd src/Worker/bin/Release/net10.0 && exec dotnet LoraService.Worker.dll' & pids+=($!)

  for _ in $(seq 1 120); do
    curl -fs "$api_url/health/ready" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fs "$api_url/health/ready" >/dev/null || { log "the API did not become ready"; exit 1; }
  # The worker registers the models folder once the API has created the tables: wait for it, so the quickstart's first call lists tiny-llama.
  local models=""
  for _ in $(seq 1 120); do
    models=$(curl -fs -H "Authorization: Bearer $Auth__AdminKey" "$api_url/api/v1/models" 2>/dev/null || true)
    [[ $models == *'"tiny-llama"'* ]] && break
    sleep 1
  done
  [[ $models == *'"tiny-llama"'* ]] || { log "the worker did not register the base model tiny-llama within 120 s (GET /api/v1/models: ${models:-no answer}); see the worker's log above"; exit 1; }
  log "API        $api_url   (Swagger UI: $api_url/swagger, queue dashboard: $api_url/hangfire)"
  log "worker     $worker_url/health/ready"
  log "dashboard  $api_url/dashboard/"
  log "admin key  $Auth__AdminKey   (stored in $data_dir/admin-key)"
  log "samples    $data_dir/samples/*.jsonl; base model tiny-llama in $Lora__ModelsPath"
  log "Ctrl-C stops everything"
  # A supervisor returns only when it gave up on its process.
  wait -n "${pids[@]}" || true
  log "stopping everything: a supervised process kept exiting"
  exit 1
}

cmd_test() {
  ensure_packages test
  local port status=0
  test_pg_dir=$(mktemp -d /tmp/lora-test-pg.XXXXXX)
  port=$(free_port)
  trap 'stop_postgres "$test_pg_dir"; rm -rf "$test_pg_dir"' EXIT
  log "starting throwaway PostgreSQL on 127.0.0.1:$port"
  start_postgres "$test_pg_dir" "$port"
  export LORA_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=$pg_user"

  dotnet tool restore >/dev/null
  dotnet build LoraService.sln -nologo -v q
  log "checking that the EF Core model has no pending changes"
  dotnet ef migrations has-pending-model-changes --project src/Domain --no-build >/dev/null \
    || { log "the EF Core model changed without a migration: dotnet ef migrations add <Name> --project src/Domain --output-dir Persistence/Migrations"; exit 1; }

  local out; out=$(mktemp)
  dotnet test LoraService.sln --no-build -nologo "$@" 2>&1 | tee "$out" || status=$?
  # One plain closing line across all test assemblies.
  awk '/(Passed|Failed)! +- +Failed:/ { gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
       END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$out"
  rm -f "$out"
  return $status
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) echo "usage: ./lora.sh up | test [dotnet test args]" >&2; exit 2 ;;
esac
