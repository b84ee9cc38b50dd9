#!/usr/bin/env bash
# The whole suite: static gates, real Postfix + Dovecot, then every test on
# Deno, on Bun and (compiled by tsc, tsconfig.node.json) on Node, the workerd
# suite (tests/workerd/) and the Node consumer test (tests/node_consumer/).
# Exits non-zero if anything fails. Used by `npm test`.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
fail=0
started=$SECONDS
step() { printf '\n== %s (at %ss)\n' "$*" "$((SECONDS - started))"; }
gate() { # name, command...
  local name=$1; shift
  step "$name"
  if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; fail=1; fi
}

gate "deno fmt --check" $bin/deno fmt --check
gate "deno lint" $bin/deno lint
# Every TypeScript file, examples in doc comments included. Left to their own
# checkers: Workers code (cloudflare:sockets types; tests/workerd/tsconfig.json)
# and the Bun example (Bun globals; run for real by tests/examples_test.ts).
check_files=$(git ls-files '*.ts' | grep -v -e '^tests/workerd/' -e '^examples/worker\.ts$' -e '^examples/bun_server\.ts$')
# shellcheck disable=SC2086
gate "deno check --doc (every file)" $bin/deno check --doc $check_files
gate "deno check --doc-only README.md" $bin/deno check --doc-only README.md
gate "deno doc --lint" $bin/deno doc --lint mod.ts smtp/mod.ts pop3/mod.ts auth/mod.ts tls/mod.ts message/mod.ts cli/mod.ts
gate "deno publish --dry-run" $bin/deno publish --dry-run --allow-dirty

step "real servers (Postfix + Dovecot)"
if ! bash tests/servers/start.sh; then
  echo "FAILED: the real mail servers did not start; the integration suite cannot run"
  fail=1
fi

mkdir -p .tmp
step "deno test"
$bin/deno test -A --doc 2>&1 | tee .tmp/deno-test.log
deno_rc=${PIPESTATUS[0]}
[ "$deno_rc" -eq 0 ] || fail=1

step "bun test"
$bin/bun test --timeout 60000 2>&1 | tee .tmp/bun-test.log
bun_rc=${PIPESTATUS[0]}
[ "$bun_rc" -eq 0 ] || fail=1

step "node --test (test servers)"
node --test --test-force-exit tests/fakes/ 2>&1 | tee .tmp/node-test.log
node_rc=${PIPESTATUS[0]}
[ "$node_rc" -eq 0 ] || fail=1

step "node --test (compiled)"
# Node 20 cannot run .ts: type-check and compile the library and its tests to
# .tmp/node-dist/, then run every compiled *_test.js. tls/deno.ts needs the
# Deno namespace's types: `deno types`, minus its Deno-only lib references.
rm -rf .tmp/node-dist .tmp/deno-types
mkdir -p .tmp/deno-types
{
  $bin/deno types | grep -v '^/// <reference' >.tmp/deno-types/deno.d.ts &&
    $bin/tsc -p tsconfig.node.json &&
    node --test --test-force-exit --test-concurrency=1 \
      $(find .tmp/node-dist -name '*_test.js' | sort)
} 2>&1 | tee .tmp/node-compiled-test.log
nodec_rc=${PIPESTATUS[0]}
[ "$nodec_rc" -eq 0 ] || fail=1

step "workerd (cloudflareConnector, the Workers example)"
# Bundles without nodejs_compat; the shared connector cases, a real round trip
# and examples/worker.ts run in workerd (node_modules/.bin/workerd).
{
  $bin/tsc -p tests/workerd/tsconfig.json &&
    $bin/bun tests/workerd/run.ts
} 2>&1 | tee .tmp/workerd-test.log
workerd_rc=${PIPESTATUS[0]}
[ "$workerd_rc" -eq 0 ] || fail=1

step "node consumer (the package as installed from JSR's npm layer)"
node tests/node_consumer/run.mjs 2>&1 | tee .tmp/node-consumer-test.log
consumer_rc=${PIPESTATUS[0]}
[ "$consumer_rc" -eq 0 ] || fail=1

strip() { sed -e 's/\x1b\[[0-9;]*m//g' "$1"; }
dp=$(strip .tmp/deno-test.log | grep -E '^(ok|FAILED) \|' | tail -1 | sed -E 's/.*\| ([0-9]+) passed.*\| ([0-9]+) failed.*/\1 \2/')
bp=$(strip .tmp/bun-test.log | grep -E '^ *[0-9]+ pass$' | tail -1 | tr -dc 0-9)
bf=$(strip .tmp/bun-test.log | grep -E '^ *[0-9]+ fail$' | tail -1 | tr -dc 0-9)
np=$(strip .tmp/node-test.log | grep -E '^. pass [0-9]+' | tail -1 | tr -dc 0-9)
nf=$(strip .tmp/node-test.log | grep -E '^. fail [0-9]+' | tail -1 | tr -dc 0-9)
ncp=$(strip .tmp/node-compiled-test.log | grep -E '^# pass [0-9]+$' | tail -1 | tr -dc 0-9)
ncf=$(strip .tmp/node-compiled-test.log | grep -E '^# fail [0-9]+$' | tail -1 | tr -dc 0-9)
wp=$(strip .tmp/workerd-test.log | grep -E '^workerd: [0-9]+ passed, [0-9]+ failed$' | tail -1 | sed -E 's/workerd: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
cp=$(strip .tmp/node-consumer-test.log | grep -E '^node consumer: [0-9]+ passed, [0-9]+ failed$' | tail -1 | sed -E 's/node consumer: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
read -r dpass dfail <<<"${dp:-0 1}"
read -r wpass wfail <<<"${wp:-0 1}"
read -r cpass cfail <<<"${cp:-0 1}"
printf '\n== summary\ndeno: %s passed, %s failed (exit %s)\nbun: %s passed, %s failed (exit %s)\nnode (test servers): %s passed, %s failed (exit %s)\nnode (compiled): %s passed, %s failed (exit %s)\nworkerd: %s passed, %s failed (exit %s)\nnode consumer: %s passed, %s failed (exit %s)\n' \
  "$dpass" "$dfail" "$deno_rc" "${bp:-0}" "${bf:-1}" "$bun_rc" "${np:-0}" "${nf:-1}" "$node_rc" "${ncp:-0}" "${ncf:-1}" "$nodec_rc" \
  "$wpass" "$wfail" "$workerd_rc" "$cpass" "$cfail" "$consumer_rc"
total_pass=$((dpass + ${bp:-0} + ${np:-0} + ${ncp:-0} + wpass + cpass))
total_fail=$((dfail + ${bf:-0} + ${nf:-0} + ${ncf:-1} + wfail + cfail))
if [ "$fail" -ne 0 ] && [ "$total_fail" -eq 0 ]; then total_fail=1; fi
echo "whole suite: $((SECONDS - started)) s"
echo "$total_pass passed, $total_fail failed"
exit "$fail"
