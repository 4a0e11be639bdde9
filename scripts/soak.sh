#!/usr/bin/env bash
# Soak: the fault-injection test (tests/EndToEnd.Tests/FaultInjection) with LORA_FAULTS_PROFILE=soak, repeating
# rounds of faults for LORA_FAULTS_MINUTES (default 30) against a throwaway PostgreSQL that `./lora.sh test` starts.
#   scripts/soak.sh                      # random seed, 30 minutes
#   LORA_FAULTS_SEED=123 LORA_FAULTS_MINUTES=10 scripts/soak.sh
# Prints the seed first and a summary line last (jobs, faults injected, invariant violations); exits non-zero on a violation.
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_FAULTS_PROFILE=soak
export LORA_FAULTS_MINUTES=${LORA_FAULTS_MINUTES:-30}
export LORA_FAULTS_SEED=${LORA_FAULTS_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
report=$(mktemp /tmp/lora-soak.XXXXXX)
export LORA_FAULTS_REPORT=$report
echo "fault-injection seed=$LORA_FAULTS_SEED profile=soak minutes=$LORA_FAULTS_MINUTES (replay: LORA_FAULTS_SEED=$LORA_FAULTS_SEED scripts/soak.sh)"
# The schedule's log as it happens; the test's own output (and a failure's full report) comes from dotnet test.
tail -n +1 -F "$report" 2>/dev/null & tailer=$!
trap 'kill "$tailer" 2>/dev/null || true' EXIT
status=0
# xunit's per-test timeout does not apply; give the run the soak time plus room for the last round.
timeout $(( LORA_FAULTS_MINUTES * 60 + 900 )) ./lora.sh test --filter "FullyQualifiedName~FaultInjection.FaultInjectionTests" >"$report.test" 2>&1 || status=$?
kill "$tailer" 2>/dev/null || true
[ "$status" -eq 0 ] || grep -E "Failed |Error Message" -A 40 "$report.test" | head -80 || true
summary=$(grep -E "^\[[0-9:.]+\] fault-injection seed=.*invariant violations" "$report" | tail -1 | sed 's/^\[[^]]*\] //')
echo "${summary:-fault-injection seed=$LORA_FAULTS_SEED: no summary (the run stopped early, exit $status); see $report.test}"
rm -f "$report"
[ "$status" -eq 0 ] && rm -f "$report.test"
exit "$status"
