# Shared helpers for tests/servers/start.sh and stop.sh (sourced, not executed).
# shellcheck shell=bash

SERVERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SERVERS_DIR/../.." && pwd)"
STATE="$REPO_DIR/.tmp/servers"

PFX_ETC="$STATE/postfix/etc"
PFX_QUEUE="$STATE/postfix/queue"
PFX_DATA="$STATE/postfix/data"
DOV_DIR="$STATE/dovecot"
DOV_CONF="$DOV_DIR/dovecot.conf"
DOV_BASE="$DOV_DIR/run"
CA_DIR="$STATE/ca"
LOG_DIR="$STATE/logs"
PID_DIR="$STATE/pids"
MAIL_ROOT="$STATE/mail"

VMAIL_USER="mailwire-vmail"

log() { printf 'servers: %s\n' "$*" >&2; }
die() { printf 'servers: ERROR: %s\n' "$*" >&2; exit 1; }

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      exec sudo -n bash "$1" "${@:2}"
    fi
    die "must run as root (or with passwordless sudo)"
  fi
}

# is_ours KIND PID: true when PID is alive and is the master process of *our*
# instance (not a system-wide one, not a recycled pid).
is_ours() {
  local kind="$1" pid="$2"
  [ -n "$pid" ] && is_alive "$pid" || return 1
  case "$kind" in
    postfix)
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "master" ] || return 1
      tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "MAIL_CONFIG=$PFX_ETC"
      ;;
    dovecot)
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "dovecot" ] || return 1
      tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-c $DOV_CONF"
      ;;
    *) return 1 ;;
  esac
}

# is_alive PID: running and not a zombie.
is_alive() {
  local st
  st="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "${st%% *}" != "Z" ]
}

# lock_state: serialize start.sh/stop.sh runs (parallel test runners).
lock_state() {
  # fd 9 must not leak into the daemons (they would hold the lock forever)
  exec 9>"$STATE/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 120 9 || die "timed out waiting for another start/stop to finish"
  fi
}

recorded_pid() { cat "$PID_DIR/$1.pid" 2>/dev/null || true; }

# children PID: direct children of PID (space separated).
children() {
  local pid="$1" stat
  for stat in /proc/[0-9]*/stat; do
    # field 4 is ppid; comm (field 2) may contain spaces, so strip up to ") "
    local rest
    rest="$(sed 's/^.*) //' "$stat" 2>/dev/null)" || continue
    set -- $rest
    [ "${2:-}" = "$pid" ] && { local c="${stat#/proc/}"; printf '%s ' "${c%/stat}"; }
  done
  return 0
}

# stop_instance KIND: SIGTERM the recorded master (and wait for it and its
# children to exit, bounded); SIGKILL leftovers of exactly those pids.
stop_instance() {
  local kind="$1" pid kids p i
  pid="$(recorded_pid "$kind")"
  if ! is_ours "$kind" "$pid"; then
    # pid record lost? the daemon's own pid file (inside our state dir) will do,
    # still subject to the is_ours check.
    case "$kind" in
      postfix) pid="$(tr -d ' ' 2>/dev/null <"$PFX_QUEUE/pid/master.pid" || true)" ;;
      dovecot) pid="$(cat "$DOV_BASE/master.pid" 2>/dev/null || true)" ;;
    esac
    if ! is_ours "$kind" "$pid"; then
      rm -f "$PID_DIR/$kind.pid"
      return 0
    fi
  fi
  kids="$(children "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do # 15 s
    local alive=""
    for p in $pid $kids; do is_alive "$p" && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $pid $kids; do
    if is_alive "$p"; then
      log "$kind: pid $p still alive after 15 s, sending SIGKILL"
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -f "$PID_DIR/$kind.pid"
}
