#!/usr/bin/env bash
# Starts a private Postfix + Dovecot pair on loopback high ports for the
# integration tests. Idempotent: when both are already running with the same
# configuration, does nothing and exits 0. See README.md in this folder.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root "${BASH_SOURCE[0]}" "$@"

T0=$(date +%s%N)
HOST=127.0.0.1
STRICT_HOST=127.0.0.2
DOMAIN=mail.test
P_MX=10025 P_SUB=10587 P_SMTPS=10465 P_POP3=10110 P_POP3S=10995 P_LMTP=10024
STARTUP_TIMEOUT=${MAILWIRE_SERVERS_TIMEOUT:-30}

# login password (all stored {PLAIN} so CRAM-MD5 and APOP work for everyone)
USERS=(
  "alice@$DOMAIN alice-secret-1"
  "bob@$DOMAIN bob-secret-2"
  "carol@$DOMAIN carol-secret-3"
  "dave@$DOMAIN dave-secret-4"
  "erin@$DOMAIN erin-secret-5"
  "frank@$DOMAIN frank-secret-6" # examples (tests/examples_test.ts)
  "grace@$DOMAIN grace-secret-7" # the CLI's tests
  "heidi@$DOMAIN heidi-secret-8" # the CLI's tests
)

case "$STATE" in *[[:space:]]*) die "state dir path contains whitespace: $STATE" ;; esac
mkdir -p "$STATE"
lock_state

# --- 1. packages -------------------------------------------------------------
install_packages() {
  local need=()
  [ -x /usr/sbin/postfix ] || need+=(postfix)
  [ -x /usr/sbin/dovecot ] || need+=(dovecot-core)
  [ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
  [ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  # Test-only verifiers: dkimpy (message/ DKIM signatures), Python's email package.
  /usr/bin/python3 -c 'import dkim' >/dev/null 2>&1 || need+=(python3-dkim)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing: ${need[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string $DOMAIN" | debconf-set-selections
  # Keep the package scripts from starting system-wide daemons we don't use
  # (temporary policy-rc.d, only if the machine has none).
  local policy=/usr/sbin/policy-rc.d rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${need[@]}" >/dev/null; } || rc=$?
  if trap -p EXIT | grep -q policy-rc.d; then rm -f "$policy"; trap - EXIT; fi
  [ $rc -eq 0 ] || die "apt-get install ${need[*]} failed"
}
install_packages

for u in postfix dovecot dovenull; do
  id "$u" >/dev/null 2>&1 || die "system user '$u' missing (should come with the packages)"
done
getent group postdrop >/dev/null || die "group 'postdrop' missing (should come with postfix)"
if ! id "$VMAIL_USER" >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$VMAIL_USER"
fi
VMAIL_UID=$(id -u "$VMAIL_USER")
VMAIL_GID=$(id -g "$VMAIL_USER")

# --- 2. directories ----------------------------------------------------------
mkdir -p "$STATE" "$PFX_ETC" "$PFX_QUEUE" "$PFX_DATA" "$DOV_DIR" "$DOV_BASE" \
  "$DOV_DIR/lib" "$CA_DIR" "$LOG_DIR" "$PID_DIR" "$MAIL_ROOT"
chmod 755 "$STATE" "$STATE/postfix" "$PFX_ETC" "$PFX_QUEUE" "$DOV_DIR" "$CA_DIR" "$LOG_DIR"
chown root:root "$PFX_ETC" "$PFX_QUEUE"
chown postfix:postfix "$PFX_DATA" && chmod 700 "$PFX_DATA"
chown "$VMAIL_USER:$VMAIL_USER" "$MAIL_ROOT" && chmod 755 "$MAIL_ROOT"
# Readable Maildirs (Dovecot derives new files' mode from the mailbox dir), so
# tests running as an ordinary user can look at delivered files directly.
for u in "${USERS[@]}"; do
  a="${u%% *}" && h="$MAIL_ROOT/${a#*@}/${a%%@*}"
  for d in "$MAIL_ROOT/${a#*@}" "$h" "$h/Maildir" "$h/Maildir/cur" "$h/Maildir/new" "$h/Maildir/tmp"; do
    install -d -o "$VMAIL_USER" -g "$VMAIL_USER" -m 0755 "$d"
  done
done
# postfix (smtpd, lmtp) and dovecot's unprivileged processes must reach sockets
# and files under the state dir.
if ! runuser -u postfix -- test -x "$DOV_DIR"; then
  die "user 'postfix' cannot traverse $DOV_DIR; every parent directory needs o+x"
fi

# --- 3. throwaway CA + server certificate ------------------------------------
make_certs() {
  local d="$CA_DIR"
  if [ ! -s "$d/ca.pem" ] || [ ! -s "$d/ca-key.pem" ] ||
    ! openssl x509 -in "$d/ca.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    rm -f "$d"/*.pem "$d"/*.srl "$d/server.ext"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout "$d/ca-key.pem" -out "$d/ca.pem" -subj "/CN=mailwire test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fi
  cat >"$d/server.ext.new" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = DNS:localhost,DNS:$DOMAIN,IP:127.0.0.1,IP:$STRICT_HOST,IP:::1
EOF
  if [ ! -s "$d/server.pem" ] || [ ! -s "$d/server-key.pem" ] ||
    ! cmp -s "$d/server.ext.new" "$d/server.ext" ||
    ! openssl x509 -in "$d/server.pem" -noout -checkend 86400 >/dev/null 2>&1 ||
    ! openssl verify -CAfile "$d/ca.pem" "$d/server.pem" >/dev/null 2>&1; then
    mv "$d/server.ext.new" "$d/server.ext"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$d/server-key.pem" \
      -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -sha256 -days 825 -in "$d/server.csr" -CA "$d/ca.pem" \
      -CAkey "$d/ca-key.pem" -CAcreateserial -extfile "$d/server.ext" \
      -out "$d/server.pem" 2>/dev/null
    rm -f "$d/server.csr"
  fi
  rm -f "$d/server.ext.new"
  chmod 600 "$d/ca-key.pem" "$d/server-key.pem"
  chmod 644 "$d/ca.pem" "$d/server.pem"
}
make_certs

# --- 4. configuration (rendered to *.new, compared with what is running) -----
render_postfix() {
  cat >"$PFX_ETC/main.cf.new" <<EOF
# Generated by tests/servers/start.sh -- do not edit.
compatibility_level = 3.6
syslog_name = mailwire-test
maillog_file = $LOG_DIR/postfix.log
maillog_file_prefixes = $LOG_DIR
queue_directory = $PFX_QUEUE
data_directory = $PFX_DATA
mail_owner = postfix
setgid_group = postdrop

myhostname = $DOMAIN
mydomain = $DOMAIN
myorigin = $DOMAIN
mydestination =
mynetworks =
inet_interfaces = $HOST
inet_protocols = ipv4
smtpd_banner = \$myhostname ESMTP mailwire-test
biff = no
append_dot_mydomain = no
local_header_rewrite_clients =
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
relay_domains =

# Nothing ever leaves the machine: every non-mail.test recipient bounces.
local_transport = error:5.1.1 no local delivery in tests
default_transport = error:5.7.1 no outside mail in tests
relay_transport = error:5.7.1 no outside mail in tests
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no

# mail.test users go to Dovecot over LMTP.
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$PFX_ETC/vmailbox
virtual_alias_maps =
virtual_transport = lmtp:unix:$DOV_DIR/lmtp
recipient_delimiter = +
smtpd_reject_unlisted_recipient = yes
# Deliver long lines as they came (Postfix 3.7 folds lines over 998 bytes on
# LMTP output by default); round-trip tests send lines far longer than 2048.
lmtp_line_length_limit = 0
smtp_line_length_limit = 0

message_size_limit = 31457280
mailbox_size_limit = 0
virtual_mailbox_limit = 0
smtputf8_enable = yes

# Test friendliness: no tarpitting, no per-client limits on loopback, quick retries.
smtpd_error_sleep_time = 0s
in_flow_delay = 0s
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h

smtpd_tls_cert_file = $CA_DIR/server.pem
smtpd_tls_key_file = $CA_DIR/server-key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database =
smtp_tls_security_level = none
lmtp_tls_security_level = none

smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOV_DIR/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = no
broken_sasl_auth_clients = no

smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
EOF

  # All services unchained (chroot = n) so absolute paths work everywhere.
  cat >"$PFX_ETC/master.cf.new" <<EOF
# Generated by tests/servers/start.sh -- do not edit.
# service type  private unpriv  chroot  wakeup  maxproc command
$HOST:$P_MX inet n - n - - smtpd
  -o syslog_name=mailwire-test/mx
  -o smtpd_tls_security_level=may
  -o smtpd_sasl_auth_enable=no
  -o smtpd_relay_restrictions=reject_unauth_destination
$HOST:$P_SUB inet n - n - - smtpd
  -o syslog_name=mailwire-test/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
$HOST:$P_SMTPS inet n - n - - smtpd
  -o syslog_name=mailwire-test/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
  -o smtputf8_enable=no
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

  : >"$PFX_ETC/vmailbox.new"
  local u
  for u in "${USERS[@]}"; do
    printf '%s OK\n' "${u%% *}" >>"$PFX_ETC/vmailbox.new"
  done
}

render_dovecot() {
  local dh=""
  [ -s /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
  cat >"$DOV_CONF.new" <<EOF
# Generated by tests/servers/start.sh -- do not edit.
instance_name = mailwire-test
base_dir = $DOV_BASE
state_dir = $DOV_DIR/lib
log_path = $LOG_DIR/dovecot.log
info_log_path = $LOG_DIR/dovecot.log
hostname = $DOMAIN
protocols = pop3 lmtp
listen = $HOST
shutdown_clients = yes

ssl = yes
ssl_cert = <$CA_DIR/server.pem
ssl_key = <$CA_DIR/server-key.pem
$dh

disable_plaintext_auth = yes
login_trusted_networks =
auth_mechanisms = plain login cram-md5 apop
auth_username_format = %Lu
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DOV_DIR/users
}
userdb {
  driver = passwd-file
  args = $DOV_DIR/users
  default_fields = uid=$VMAIL_USER gid=$VMAIL_USER home=$MAIL_ROOT/%d/%n
}
first_valid_uid = $VMAIL_UID
last_valid_uid = $VMAIL_UID
first_valid_gid = $VMAIL_GID
last_valid_gid = $VMAIL_GID

mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
pop3_client_workarounds =
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

service pop3-login {
  inet_listener pop3 {
    address = $HOST
    port = $P_POP3
  }
  # Same service on a second loopback address: connections to it come from
  # 127.0.0.1, so Dovecot does not treat them as "secured" (see README).
  inet_listener pop3strict {
    address = $STRICT_HOST
    port = $P_POP3
  }
  inet_listener pop3s {
    address = $HOST
    port = $P_POP3S
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $P_LMTP
  }
  unix_listener $DOV_DIR/lmtp {
    mode = 0666
  }
}
# No auth penalty (per-IP delay of 2..15 s after failed logins; tests fail on
# purpose). mode 0 = no socket; the auth process then silently skips penalties.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener $DOV_DIR/auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF

  : >"$DOV_DIR/users.new"
  local u
  for u in "${USERS[@]}"; do
    printf '%s:{PLAIN}%s::::::\n' "${u%% *}" "${u#* }" >>"$DOV_DIR/users.new"
  done
}

render_postfix
render_dovecot

# Fingerprint of everything that affects the running daemons.
fingerprint() {
  cat "$PFX_ETC/main.cf.new" "$PFX_ETC/master.cf.new" "$PFX_ETC/vmailbox.new" \
    "$DOV_CONF.new" "$DOV_DIR/users.new" "$CA_DIR/server.pem" | sha256sum | cut -d' ' -f1
}
NEW_FP="$(fingerprint)"
OLD_FP="$(cat "$STATE/config.sha256" 2>/dev/null || true)"

probe_specs() {
  echo "smtp-mx=$HOST:$P_MX:plain:220"
  echo "smtp-submission=$HOST:$P_SUB:plain:220"
  echo "smtp-smtps=$HOST:$P_SMTPS:tls:220"
  echo "pop3=$HOST:$P_POP3:plain:+OK"
  echo "pop3-strict=$STRICT_HOST:$P_POP3:plain:+OK"
  echo "pop3s=$HOST:$P_POP3S:tls:+OK"
  echo "lmtp-tcp=$HOST:$P_LMTP:plain:220"
  echo "lmtp-unix=unix:$DOV_DIR/lmtp:plain:220"
}
probe() {
  # shellcheck disable=SC2046
  node "$SERVERS_DIR/probe.mjs" "$CA_DIR/ca.pem" "$1" $(probe_specs)
}

write_env() {
  local users_json="" u sep=""
  for u in "${USERS[@]}"; do
    users_json+="$sep    { \"address\": \"${u%% *}\", \"login\": \"${u%% *}\", \"password\": \"${u#* }\", \"maildir\": \"$MAIL_ROOT/$DOMAIN/$(printf '%s' "${u%%@*}")/Maildir\" }"
    sep=$',\n'
  done
  cat >"$STATE/env.json.tmp" <<EOF
{
  "caFile": "$CA_DIR/ca.pem",
  "host": "$HOST",
  "servername": "localhost",
  "altNames": ["localhost", "$DOMAIN", "127.0.0.1", "$STRICT_HOST", "::1"],
  "domain": "$DOMAIN",
  "smtp": { "mx": $P_MX, "submission": $P_SUB, "smtps": $P_SMTPS },
  "pop3": { "plain": $P_POP3, "pop3s": $P_POP3S },
  "pop3Strict": { "host": "$STRICT_HOST", "plain": $P_POP3 },
  "lmtp": { "tcp": $P_LMTP, "unix": "$DOV_DIR/lmtp" },
  "users": [
$users_json
  ],
  "unknownUser": "nobody@$DOMAIN",
  "foreignRecipient": "someone@example.org",
  "maildirRoot": "$MAIL_ROOT",
  "maxMessageSize": 31457280,
  "mechanisms": {
    "smtp": {
      "mx": [],
      "submissionBeforeTls": [],
      "submission": ["PLAIN", "LOGIN", "CRAM-MD5"],
      "smtps": ["PLAIN", "LOGIN", "CRAM-MD5"]
    },
    "pop3": {
      "sasl": ["PLAIN", "LOGIN", "CRAM-MD5"],
      "user": true,
      "apop": true,
      "strictBeforeTls": ["CRAM-MD5"]
    }
  },
  "pop3PlainAuthBeforeTls": true,
  "logs": { "postfix": "$LOG_DIR/postfix.log", "dovecot": "$LOG_DIR/dovecot.log" }
}
EOF
  chmod 644 "$STATE/env.json.tmp"
  mv "$STATE/env.json.tmp" "$STATE/env.json"
}

summary() {
  local ms=$((($(date +%s%N) - T0) / 1000000))
  echo "servers: $1 in ${ms} ms: smtp mx=$HOST:$P_MX submission=$P_SUB smtps=$P_SMTPS," \
    "pop3=$P_POP3 pop3s=$P_POP3S lmtp=$P_LMTP+unix; env=$STATE/env.json"
}

# --- 5. already running with the same config? ---------------------------------
if [ "$NEW_FP" = "$OLD_FP" ] &&
  is_ours postfix "$(recorded_pid postfix)" && is_ours dovecot "$(recorded_pid dovecot)" &&
  probe 5 2>/dev/null; then
  rm -f "$PFX_ETC"/*.new "$DOV_CONF.new" "$DOV_DIR/users.new"
  write_env
  summary "already running"
  exit 0
fi

# Anything of ours still running (partially, or with an older config) goes.
stop_instance postfix
stop_instance dovecot

for f in "$PFX_ETC/main.cf" "$PFX_ETC/master.cf" "$PFX_ETC/vmailbox" "$DOV_CONF" "$DOV_DIR/users"; do
  mv "$f.new" "$f"
done
chown root:root "$PFX_ETC"/* "$DOV_CONF"
chmod 644 "$PFX_ETC"/* "$DOV_CONF"
chown root:dovecot "$DOV_DIR/users" && chmod 640 "$DOV_DIR/users"
rm -f "$STATE/config.sha256"

fail() {
  echo "servers: ERROR: $1" >&2
  local f
  for f in "$LOG_DIR/postfix.log" "$LOG_DIR/dovecot.log" "$LOG_DIR/postfix-start.log" "$LOG_DIR/dovecot-start.log"; do
    [ -s "$f" ] && { echo "--- tail $f" >&2; tail -n 20 "$f" >&2; }
  done
  # don't leave a half-started pair behind (state and logs are kept)
  stop_instance postfix
  stop_instance dovecot
  exit 1
}

# --- 6. start Dovecot (Postfix needs its auth + LMTP sockets) ----------------
# Fresh runtime dir: a stale anvil-auth-penalty socket would make the auth
# process fail (ECONNREFUSED) instead of skipping penalties (ENOENT).
rm -rf "$DOV_BASE" && mkdir -p "$DOV_BASE"
if ! /usr/sbin/dovecot -c "$DOV_CONF" >"$LOG_DIR/dovecot-start.log" 2>&1 9>&-; then
  fail "dovecot failed to start"
fi
for _ in $(seq 1 50); do [ -s "$DOV_BASE/master.pid" ] && break; sleep 0.1; done
DPID="$(cat "$DOV_BASE/master.pid" 2>/dev/null || true)"
is_ours dovecot "$DPID" || fail "dovecot master did not come up"
echo "$DPID" >"$PID_DIR/dovecot.pid"

# --- 7. start Postfix ---------------------------------------------------------
# The first "postfix start" runs post-install create-missing, which creates the
# queue subdirectories with the ownership listed in Postfix's own postfix-files.
# Later starts skip those integrity checks (~2 s) via Postfix's quick-start flag.
rm -f "$PFX_QUEUE/pid/master.pid"
[ -d "$PFX_QUEUE/maildrop" ] && [ -d "$PFX_QUEUE/public" ] && touch "$PFX_QUEUE/quick-start"
if ! /usr/sbin/postfix -c "$PFX_ETC" start >"$LOG_DIR/postfix-start.log" 2>&1 9>&-; then
  fail "postfix failed to start"
fi
for _ in $(seq 1 50); do [ -s "$PFX_QUEUE/pid/master.pid" ] && break; sleep 0.1; done
PPID_="$(tr -d ' ' 2>/dev/null <"$PFX_QUEUE/pid/master.pid" || true)"
is_ours postfix "$PPID_" || fail "postfix master did not come up"
echo "$PPID_" >"$PID_DIR/postfix.pid"

# --- 8. wait for every listener ------------------------------------------------
if ! probe "$STARTUP_TIMEOUT"; then
  fail "listeners not ready within ${STARTUP_TIMEOUT}s"
fi
echo "$NEW_FP" >"$STATE/config.sha256"
write_env
summary "started"
