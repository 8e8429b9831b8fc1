#!/usr/bin/env bash
# Instructions per governed admission + x-ratelimit headers + settlement, in-process, under
# valgrind's callgrind (counters zeroed after the warm-up; the same figure run after run):
#   bench/callgrind-admission.sh [DIST] [N]      (DIST defaults to build, N to 20000)
# The loop is bench/lib/admission-loop.mjs (the benchmarks' virtual key, 10 rules).
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${1:-build}
N=${2:-20000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -f "$DIST/main.js" ] || { echo "$DIST/main.js is missing (npm run build)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
control() { callgrind_control --vgdb-prefix="$WORK/vgdb" "$@" > /dev/null 2>&1; }
waitFor() { until grep -q "$1" "$WORK/loop.out" 2>/dev/null; do sleep 0.5; done; }

valgrind --tool=callgrind --separate-threads=yes --vgdb=yes --vgdb-prefix="$WORK/vgdb" --callgrind-out-file="$WORK/cg.out" \
  node bench/lib/admission-loop.mjs "$DIST" "$N" "$WORK/gate" > "$WORK/loop.out" 2> "$WORK/valgrind.err" & LOOP=$!
waitFor ready
control -z "$LOOP"
touch "$WORK/gate"
waitFor done
control -d "$LOOP"
touch "$WORK/gate"
wait $LOOP
main=$(grep -E '^(summary|totals):' "$WORK/cg.out.1-01" | head -1 | awk '{print $2}')
echo "instructions per admission + headers + settlement ($DIST, main thread, $N after warm-up): $((main / N))"
