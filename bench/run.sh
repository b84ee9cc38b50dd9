#!/usr/bin/env bash
# npm run bench: the benchmark on Deno, then on Bun (client pinned to CPU 0,
# the servers to CPU 1 when taskset exists); results in .tmp/bench-*.json.
# Extra arguments go to bench/run.ts (e.g. --reps 3, --only "POP3", --rtt 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
mkdir -p .tmp
pin=()
if command -v taskset >/dev/null; then
  pin=(taskset -c 0)
  export BENCH_SINK_CPU=1
fi
"${pin[@]}" $bin/deno run -A --v8-flags=--expose-gc bench/run.ts --json .tmp/bench-deno.json "$@"
"${pin[@]}" $bin/bun bench/run.ts --json .tmp/bench-bun.json "$@"
