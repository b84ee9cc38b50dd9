// The help texts of `mailwire` and its commands, with the exit-code table.

import { EXIT_TABLE } from "./exit.ts";

const exits = EXIT_TABLE.map(([code, text]) =>
  `  ${String(code).padStart(3)}  ${text}`
).join("\n");

const CONNECTION = `Connection (every command):
  -s, --server HOST[:PORT]   the server ([v6]:port for IPv6)
  -p, --port N               the port (instead of :PORT)
      --tls MODE             starttls (default; implicit on 465/995), implicit, none
      --ca FILE              trust this CA (PEM; repeatable); on Node and Bun it
                             replaces the system's roots, on Deno it adds to them
      --servername NAME      verify the certificate for NAME (default: the host)
      --timeout DURATION     deadline of each step, e.g. 30, 30s, 500ms, 2m (default 30s)
      --transcript           print the session on stderr (credentials redacted)
  -h, --help                 this help`;

const CREDENTIALS = `Login:
  -u, --user NAME            log in as NAME
      --auth MECH            force a mechanism: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER
                             (default: the strongest offered)
      --password-env VAR     read the password from VAR (default MAILWIRE_PASSWORD);
                             unset: asked for without echo when on a terminal
      --password-insecure-argv PASSWORD
                             the password itself (visible in ps and history: warns)
      --xoauth2-token-cmd CMD
                             run CMD (a shell command) and use what it prints as the
                             OAuth 2 access token (XOAUTH2, or OAUTHBEARER with --auth)
      --allow-insecure-auth  allow credentials without TLS (--tls none): warns`;

/** `mailwire --help`. */
export const MAIN_HELP =
  `mailwire: send, fetch and probe mail from the command line

Usage:
  mailwire send  --server HOST[:PORT] --from ADDR --to ADDR [options]
  mailwire fetch --server HOST[:PORT] --user NAME (--maildir DIR | --eml-dir DIR | --list) [options]
  mailwire probe HOST[:PORT] [--protocol P] [--json]
  mailwire --version

Run "mailwire COMMAND --help" for a command's options.

Secure by default: certificates verified, TLS before any login, no password
on the command line unless you insist, transcripts redacted.

Exit codes:
${exits}
`;

/** `mailwire send --help`. */
export const SEND_HELP =
  `mailwire send: send a test message, a composed message, a raw .eml, or many

Usage:
  mailwire send --server HOST[:PORT] --from ADDR --to ADDR [options]
  mailwire send --server HOST[:PORT] --eml FILE|- [--from ADDR] [--to ADDR]

Message:
  -f, --from ADDR            author and envelope sender ("Name <addr>" allowed)
  -t, --to ADDR              recipient (repeatable; commas allowed)
      --cc ADDR, --bcc ADDR  more recipients (Bcc never appears in the headers)
      --subject TEXT         the subject (default "mailwire test")
      --body TEXT            the text body (default: a short test text)
      --body-file FILE|-     the text body from a file, or stdin
      --html TEXT, --html-file FILE|-
                             an HTML body (with a text body: multipart/alternative)
      --attach FILE          attach a file (repeatable)
      --header "Name: value" an extra header (repeatable)
      --eml FILE|-           send this message as is; the envelope comes from its
                             headers unless --from/--to are given
      --local-name NAME      the name sent with EHLO (default localhost)
      --dry-run              print the envelope and the message; send nothing

Bulk:
      --count N              send N messages (to each recipient of --recipients)
      --connections N        over up to N connections at once (default 1, at most 100;
                             each pipelines up to 100 messages)
      --recipients FILE      one message per address in FILE (one a line, # comments)
      --progress MODE        auto (a bar on a terminal, plain lines otherwise), bar,
                             plain, none
                             In bulk sends, {n} and {total} in the subject and body
                             become the message number and the count.

${CONNECTION}

${CREDENTIALS}

Examples:
  MAILWIRE_PASSWORD=... mailwire send -s smtp.example.com:587 -u me@example.com \\
      -f me@example.com -t you@example.com --subject hi --body "Hello"
  mailwire send -s mx.example.com:25 --tls starttls -f me@example.com -t you@example.com
  mailwire send -s localhost:2525 --tls none --eml message.eml --transcript
  mailwire send -s smtp.example.com -u me --count 500 -f me@example.com -t sink@example.com \\
      --subject "load {n}/{total}"

Exit codes:
${exits}
`;

/** `mailwire fetch --help`. */
export const FETCH_HELP =
  `mailwire fetch: save a POP3 mailbox to a Maildir or .eml files

Usage:
  mailwire fetch --server HOST[:PORT] --user NAME --maildir DIR [--delete]
  mailwire fetch --server HOST[:PORT] --user NAME --eml-dir DIR
  mailwire fetch --server HOST[:PORT] --user NAME --list [--json]

Every message is written to a temporary file, synced to disk, read back and
checked (size and SHA-256) before it counts as saved. Saved UIDLs are kept in
DIR/.mailwire-fetch.jsonl: running again fetches only what is new, and an
interrupted run (Ctrl-C, a crash) resumes without duplicates. Nothing is
deleted from the server unless you pass --delete, and then only messages
saved and verified (deletions are committed by the final QUIT).

Options:
  -l, --list                 list the messages (number, UIDL, size); save nothing
      --json                 with --list: JSON
      --maildir DIR          save into the Maildir DIR (tmp/, new/, cur/ created)
      --eml-dir DIR          save as DIR/<UIDL>.eml (unsafe characters %-encoded)
      --delete               delete saved messages from the server
      --keep                 keep every message on the server (the default)
      --limit N              fetch at most N new messages this run
      --progress MODE        auto, bar, plain, none (as for send)
                             Ctrl-C once: finish the message under way, then stop.

${CONNECTION}

${CREDENTIALS}

Examples:
  MAILWIRE_PASSWORD=... mailwire fetch -s pop.example.com:995 -u me@example.com --maildir ~/Mail/inbox
  mailwire fetch -s pop.example.com -u me@example.com --list

Exit codes:
${exits}
`;

/** `mailwire probe --help`. */
export const PROBE_HELP =
  `mailwire probe: what a mail server offers, before and after TLS, and a verdict

Usage:
  mailwire probe HOST[:PORT] [--protocol P] [--json] [--ca FILE] [--servername NAME]

Shows the greeting, EHLO/LHLO or CAPA before and after STARTTLS/STLS, the TLS
version and cipher, the certificate chain (subject, issuer, names, validity,
verification), the AUTH mechanisms, SIZE, PIPELINING, CHUNKING, SMTPUTF8 and
DSN, and one verdict line. It never logs in and never sends a message.

The protocol comes from --protocol, else the port (25 smtp, 587 submission,
465 smtps, 24 lmtp, 110 pop3, 995 pop3s), else the greeting (read in clear
text and over TLS at once). Exits 0 on an OK or WARN verdict, 4 when TLS fails (no
TLS where it is needed, a certificate that does not verify).

Options:
      --protocol P           smtp, submission, smtps, lmtp, pop3, pop3s
      --json                 the whole result as JSON
      --tls none             don't try STARTTLS/STLS; --tls implicit: TLS first
      --local-name NAME      the name sent with EHLO/LHLO (default localhost)

${
    CONNECTION.replace(/ {2}-s, --server[^\n]*\n/, "").replace(
      / {2}-p, --port[^\n]*\n/,
      "",
    )
  }

Examples:
  mailwire probe smtp.example.com:587
  mailwire probe mail.example.com:995 --json
  mailwire probe 127.0.0.1:2525 --protocol lmtp --transcript

Exit codes:
${exits}
`;
