#!/usr/bin/env bash
# Instructions per request, per thread, under valgrind's callgrind (steady on a noisy machine):
#   bench/callgrind.sh [DIST] [N]      (DIST defaults to dist, N to 3000; needs valgrind)
# Runs the gateway under callgrind twice — 1,000 warm-up requests, then N more or none — and
# prints each thread's instructions per request: (run with N − run without) / N, so start-up and
# warm-up cancel out. Each run takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${1:-dist}
N=${2:-3000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -f "$DIST/main.js" ] || { echo "$DIST/main.js is missing (npm run build)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

run() { # $1 = measured requests; writes $WORK/run-$1/cg.out*
  local out="$WORK/run-$1"; mkdir -p "$out"
  node bench/upstream.mjs --port=0 > "$out/upstream.out" & local up=$!
  for _ in $(seq 50); do grep -q listening "$out/upstream.out" 2>/dev/null && break; sleep 0.1; done
  local uport; uport=$(grep -o '"port":[0-9]*' "$out/upstream.out" | cut -d: -f2)
  cat > "$out/switchyard.yaml" <<YAML
auth: { master_key: sk-sy-bench-master-key-0123456789abcdef }
providers:
  oai: { type: openai, api_key: sk-bench-upstream, base_url: "http://127.0.0.1:$uport/v1" }
models:
  gpt-4o-mini: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
YAML
  local port=$((20000 + RANDOM % 20000))
  PORT=$port HOST=127.0.0.1 valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.out" \
    node "$DIST/main.js" start --config "$out/switchyard.yaml" > /dev/null 2> "$out/valgrind.err" & local gw=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null && break; sleep 0.2; done
  node bench/lib/sequential.mjs "http://127.0.0.1:$port/v1/chat/completions" $((1000 + $1))
  kill -INT $gw; wait $gw 2>/dev/null || true
  kill $up 2>/dev/null || true
}

total() { grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'; }

run 0
run "$N"
echo "instructions per request ($DIST, $N requests after 1,000 warm-up):"
sum=0
for file in "$WORK/run-$N"/cg.out-*; do
  thread=${file##*-}
  base="$WORK/run-0/cg.out-$thread"
  [ -f "$base" ] || continue
  per=$(( ($(total "$file") - $(total "$base")) / N ))
  sum=$((sum + per))
  [ "$per" -gt 100 ] && echo "  thread $thread: $per"
done
echo "  all threads: $sum"
