#!/usr/bin/env bash
# Stops the Postfix + Dovecot instances started by start.sh (by the master pids
# recorded in .tmp/servers/pids/; never touches a system-wide instance).
# State (mail, queue, CA, logs) is kept; remove .tmp/servers for a clean slate.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root "${BASH_SOURCE[0]}" "$@"

[ -d "$STATE" ] || { echo "servers: nothing to stop"; exit 0; }
lock_state
stop_instance postfix
stop_instance dovecot
rm -f "$STATE/config.sha256"
echo "servers: stopped"
