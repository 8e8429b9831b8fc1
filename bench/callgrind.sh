#!/usr/bin/env bash
# Instructions per request, per thread, under valgrind's callgrind (steady on a noisy machine):
#   bench/callgrind.sh [DIST] [N]      (DIST defaults to dist, N to 3000; needs valgrind)
#   BENCH_KEY=governed bench/callgrind.sh ...   the requests use the benchmarks' virtual key
#                                               (bench/lib/governed-key.mjs), not the master key
#   BENCH_CALLGRIND_KEEP=DIR bench/callgrind.sh ...  keep the profiles (and the gateway's
#                                               --perf-basic-prof map, naming JIT code) in DIR
# Runs the gateway under callgrind on one thread (--single-threaded), sends 3,000 warm-up requests
# (BENCH_CALLGRIND_WARMUP), zeroes the counters, sends N more and dumps: the instructions over those
# N requests alone, per request, with the JIT compilation still going on apart. A run takes a few
# minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${1:-dist}
N=${2:-3000}
WARMUP=${BENCH_CALLGRIND_WARMUP:-3000}
MASTER=sk-sy-bench-master-key-0123456789abcdef
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -f "$DIST/main.js" ] || { echo "$DIST/main.js is missing (npm run build)" >&2; exit 1; }
if [ -n "${BENCH_CALLGRIND_KEEP:-}" ]; then
  WORK=$BENCH_CALLGRIND_KEEP; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
# vgdb (behind callgrind_control) names its files after $HOST, which the gateway's own HOST sets.
export HOST=127.0.0.1
control() { callgrind_control --vgdb-prefix="$WORK/vgdb" "$@" > /dev/null 2>&1; }

node bench/upstream.mjs --port=0 > "$WORK/upstream.out" & UP=$!
for _ in $(seq 50); do grep -q listening "$WORK/upstream.out" 2>/dev/null && break; sleep 0.1; done
UPORT=$(grep -o '"port":[0-9]*' "$WORK/upstream.out" | cut -d: -f2)
cat > "$WORK/switchyard.yaml" <<YAML
auth: { master_key: $MASTER }
storage: { url: "sqlite://$WORK/switchyard.db" }
providers:
  oai: { type: openai, api_key: sk-bench-upstream, base_url: "http://127.0.0.1:$UPORT/v1" }
models:
  gpt-4o-mini: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
YAML
PORT=$((20000 + RANDOM % 20000))
PORT=$PORT valgrind --tool=callgrind --separate-threads=yes --vgdb=yes --vgdb-prefix="$WORK/vgdb" --callgrind-out-file="$WORK/cg.out" \
  node --single-threaded --perf-basic-prof "$DIST/main.js" start --config "$WORK/switchyard.yaml" > /dev/null 2> "$WORK/valgrind.err" & GW=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health/ready" > /dev/null && break; sleep 0.2; done
# The virtual key is created either way (the admin calls warm shared code up); only BENCH_KEY=governed uses it.
KEY=$(node --input-type=module -e "import { governedKey } from './bench/lib/governed-key.mjs'; console.log(await governedKey('http://127.0.0.1:$PORT', '$MASTER', 'gpt-4o-mini'))")
[ "${BENCH_KEY:-master}" = governed ] || KEY=$MASTER
node bench/lib/sequential.mjs "http://127.0.0.1:$PORT/v1/chat/completions" "$WARMUP" "$KEY"
control -z "$GW"
node bench/lib/sequential.mjs "http://127.0.0.1:$PORT/v1/chat/completions" "$N" "$KEY"
control -d "$GW"
kill -INT $GW; wait $GW 2>/dev/null || true
kill $UP 2>/dev/null || true
mv "/tmp/perf-$GW.map" "$WORK/perf.map" 2>/dev/null || true

echo "instructions per request ($DIST, ${BENCH_KEY:-master} key, $N requests after $WARMUP warm-up):"
# One thread does everything (--single-threaded: garbage collection and compilation included).
file="$WORK/cg.out.1-01"
total=$(grep -E '^(summary|totals):' "$file" | head -1 | awk '{print $2}')
# TurboFan still compiles in the window under valgrind (it runs ~50x slower, and timers fire that
# much more often per request): its share is printed apart so runs can be compared without it.
inclusive() { callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null | grep -F "$1" | head -1 | awk '{gsub(",", "", $1); print $1}'; }
compile=$(inclusive 'Runtime_CompileOptimized('); compile=${compile:-0}
gc=$(inclusive 'Heap::CollectGarbage('); gc=${gc:-0}
echo "  all work:                 $((total / N))"
echo "  of which JIT compilation: $((compile / N))"
echo "  of which GC pauses:       $((gc / N))"
echo "  all work but compilation: $(((total - compile) / N))"
