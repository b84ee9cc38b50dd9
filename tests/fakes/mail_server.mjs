// An embedded, in-memory SMTP + POP3 test mail server for mailwire's tests, demo and benchmark.
//
// Plain Node ESM using only node:net, node:tls, node:crypto, node:fs and node:url, so it runs under
// `node` and can be imported in-process from Deno and Bun. Not a mail server for anything real:
// messages live in memory (`mailboxes`), credentials are in the clear, the TLS keys are test fixtures.
//
// Library:
//   const server = await startMailServer({ users: { "alice@mail.test": "alice-secret-1" } });
//   // server.smtpPort, server.pop3Port, server.mailboxes.get("alice@mail.test") ...
//   await server.close();
//
// CLI (prints one JSON line with the ports once listening, exits on SIGTERM/SIGINT or when stdin ends):
//   node tests/fakes/mail_server.mjs [--no-auth] [--no-tls] [--port N] [--help]
//
// Protocol behaviour (RFC 5321/3207/4954/2920/3030/1870/6152/6531/3461/2034 on the SMTP side,
// RFC 1939/2449/2595/5034/3206 on the POP3 side) is strict on purpose: the clients under test should
// meet a server that refuses what the RFCs do not allow (bare LF, over-long lines, AUTH before TLS,
// out-of-order commands), and the benchmark should meet a sink that is never the bottleneck.

import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import { fstatSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_USERS, fixturePath, MIB } from "./mail_server/common.mjs";
import { SmtpSession } from "./mail_server/smtp.mjs";
import { Pop3Session } from "./mail_server/pop3.mjs";

export {
  DEFAULT_USERS,
  SASL_MECHANISMS,
  stuffDots,
  unstuffDots,
} from "./mail_server/common.mjs";

// ---------------------------------------------------------------------------------------------
// Server

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const onError = (err) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.removeListener("error", onError);
      resolve(server.address().port);
    });
  });
}

function closeServer(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Start the SMTP + POP3 test server.
 * @param {object} [options]
 * @param {string} [options.host="127.0.0.1"]
 * @param {number} [options.smtpPort=0]  0 = pick a free port
 * @param {number} [options.pop3Port=0]
 * @param {number} [options.smtpsPort=0]  only with implicit
 * @param {number} [options.pop3sPort=0]  only with implicit
 * @param {string} [options.cert]  PEM; default tests/fixtures/localhost.pem
 * @param {string} [options.key]  PEM; default tests/fixtures/localhost-key.pem
 * @param {Record<string,string>|Map<string,string>} [options.users]  address → password
 * @param {boolean} [options.starttls=true]  offer STARTTLS / STLS
 * @param {boolean} [options.requireTls=true]  refuse AUTH/MAIL (SMTP) and USER/PASS/AUTH (POP3) in clear
 * @param {boolean} [options.auth=true]  require AUTH before MAIL
 * @param {boolean} [options.quiet=true]  false: print the transcript and socket errors to stderr
 * @param {number} [options.maxMessageSize=52428800]
 * @param {boolean} [options.implicit=false]  also listen for implicit-TLS SMTPS and POP3S
 * @param {boolean} [options.strictNewlines=true]  refuse DATA bodies holding a bare CR or LF (554)
 * @param {boolean} [options.store=true]  false: count messages but keep nothing (benchmark sink)
 * @param {boolean} [options.transcript=false]  true: record every command/reply line in `transcript`
 * @param {(direction: "client"|"server", line: string, info: {protocol: string, session: number}) => void} [options.onLine]
 * @param {(message: object) => void} [options.onMessage]  called for every accepted message
 * @param {string} [options.hostname="mail.test"]
 */
export async function startMailServer(options = {}) {
  const {
    host = "127.0.0.1",
    smtpPort = 0,
    pop3Port = 0,
    smtpsPort = 0,
    pop3sPort = 0,
    users = DEFAULT_USERS,
    starttls = true,
    requireTls = true,
    auth = true,
    quiet = true,
    maxMessageSize = 50 * MIB,
    implicit = false,
    strictNewlines = true,
    store = true,
    transcript = false,
    onLine,
    onMessage,
    hostname = "mail.test",
  } = options;
  const cert = options.cert ??
    readFileSync(fixturePath("localhost.pem"), "utf8");
  const key = options.key ??
    readFileSync(fixturePath("localhost-key.pem"), "utf8");

  const passwords = new Map(); // canonical address → password
  const index = new Map(); // lower-case address → canonical address
  const mailboxes = new Map();
  for (
    const [name, password] of users instanceof Map
      ? users
      : Object.entries(users)
  ) {
    passwords.set(name, String(password));
    index.set(name.toLowerCase(), name);
    mailboxes.set(name, []);
  }

  const lines = transcript ? [] : undefined;
  const uids = new WeakMap();
  let uidCount = 0;
  let queueCount = 0;
  const queuePrefix = randomBytes(3).toString("hex").toUpperCase();

  const ctx = {
    hostname,
    requireTls,
    starttls,
    auth,
    quiet,
    maxMessageSize,
    strictNewlines,
    store,
    onMessage,
    secureContext: tls.createSecureContext({ cert, key }),
    sessions: new Set(),
    sessionCount: 0,
    locks: new Set(),
    stats: { messages: 0, bytes: 0 },
    logging: onLine !== undefined || transcript || !quiet,
    log(session, direction, line) {
      const info = { protocol: session.protocol, session: session.id };
      if (lines !== undefined) lines.push({ ...info, direction, line });
      if (!quiet) {
        console.error(
          `[${info.protocol}#${info.session}] ${
            direction === "client" ? "C" : "S"
          }: ${line}`,
        );
      }
      onLine?.(direction, line, info);
    },
    findUser(name) {
      return index.get(String(name).toLowerCase()) ?? null;
    },
    password(user) {
      return passwords.get(user);
    },
    checkPassword(name, password) {
      const user = this.findUser(name);
      return user !== null && passwords.get(user) === password ? user : null;
    },
    mailbox(user) {
      let box = mailboxes.get(user);
      if (box === undefined) mailboxes.set(user, box = []);
      return box;
    },
    uid(message) {
      let uid = uids.get(message);
      if (uid === undefined) {
        uids.set(message, uid = `mw${queuePrefix}${(++uidCount).toString(36)}`);
      }
      return uid;
    },
    nextQueueId() {
      return `${queuePrefix}${
        (++queueCount).toString(16).toUpperCase().padStart(6, "0")
      }`;
    },
  };

  const servers = [];
  const makePlain = (Session) =>
    net.createServer(
      { noDelay: true },
      (socket) => new Session(ctx, socket, false),
    );
  const makeImplicit = (Session) => {
    const server = tls.createServer(
      { cert, key },
      (socket) => new Session(ctx, socket, true),
    );
    server.on("tlsClientError", (err) => {
      if (!quiet) console.error(`[tls] client error: ${err.message}`);
    });
    return server;
  };
  const result = {
    host,
    mailboxes,
    stats: ctx.stats,
    users: passwords,
    locks: ctx.locks,
  };
  try {
    const smtp = makePlain(SmtpSession);
    servers.push(smtp);
    result.smtpPort = await listen(smtp, smtpPort, host);
    const pop3 = makePlain(Pop3Session);
    servers.push(pop3);
    result.pop3Port = await listen(pop3, pop3Port, host);
    if (implicit) {
      const smtps = makeImplicit(SmtpSession);
      servers.push(smtps);
      result.smtpsPort = await listen(smtps, smtpsPort, host);
      const pop3s = makeImplicit(Pop3Session);
      servers.push(pop3s);
      result.pop3sPort = await listen(pop3s, pop3sPort, host);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  if (lines !== undefined) result.transcript = lines;

  let closing = null;
  result.close = () => {
    closing ??= (async () => {
      const done = Promise.all(servers.map(closeServer));
      for (const session of [...ctx.sessions]) session.destroy();
      await done;
    })();
    return closing;
  };
  return result;
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node tests/fakes/mail_server.mjs [options]

Starts the in-memory SMTP + POP3 test server and prints one JSON line
({"smtpPort":..,"pop3Port":..,...}) to stdout once listening. Runs until SIGTERM/SIGINT, or until
stdin ends when stdin is a pipe (so a dying parent takes the server with it).

  --no-auth            MAIL without AUTH is accepted
  --no-tls             no STARTTLS/STLS offered; AUTH, USER/PASS allowed in clear
  --optional-tls       STARTTLS/STLS offered but not required
  --implicit           also open implicit-TLS SMTPS and POP3S ports
  --port N             SMTP port (default: a free one)
  --pop3-port N        POP3 port (default: a free one)
  --smtps-port N, --pop3s-port N
  --host H             listen address (default 127.0.0.1)
  --max-size N         SIZE limit in bytes (default 52428800)
  --no-store           keep no messages, only count them (benchmark sink)
  --lax-newlines       accept bare CR/LF inside DATA
  --user ADDR:PASS     add a user (repeatable; replaces the default users)
  --watch-stdin / --no-watch-stdin   force exiting when stdin ends on or off
  --verbose            print the transcript to stderr
`;

function parseArgs(argv) {
  const opts = { users: undefined };
  let watchStdin;
  const number = (flag, value) => {
    if (value === undefined || !/^\d+$/.test(value)) {
      throw new Error(`${flag} needs a number`);
    }
    return Number(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case "--no-auth":
        opts.auth = false;
        break;
      case "--no-tls":
        opts.starttls = false;
        opts.requireTls = false;
        break;
      case "--optional-tls":
        opts.requireTls = false;
        break;
      case "--implicit":
        opts.implicit = true;
        break;
      case "--port":
      case "--smtp-port":
        opts.smtpPort = number(arg, argv[++i]);
        break;
      case "--pop3-port":
        opts.pop3Port = number(arg, argv[++i]);
        break;
      case "--smtps-port":
        opts.smtpsPort = number(arg, argv[++i]);
        break;
      case "--pop3s-port":
        opts.pop3sPort = number(arg, argv[++i]);
        break;
      case "--host":
        opts.host = argv[++i];
        break;
      case "--max-size":
        opts.maxMessageSize = number(arg, argv[++i]);
        break;
      case "--no-store":
        opts.store = false;
        break;
      case "--lax-newlines":
        opts.strictNewlines = false;
        break;
      case "--verbose":
        opts.quiet = false;
        break;
      case "--watch-stdin":
        watchStdin = true;
        break;
      case "--no-watch-stdin":
        watchStdin = false;
        break;
      case "--user": {
        const value = argv[++i] ?? "";
        const colon = value.indexOf(":");
        if (colon <= 0) throw new Error("--user needs address:password");
        opts.users ??= {};
        opts.users[value.slice(0, colon)] = value.slice(colon + 1);
        break;
      }
      case "--help":
      case "-h":
        return { help: true };
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (opts.users === undefined) delete opts.users;
  return { opts, watchStdin };
}

function stdinIsPipe() {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

async function main(proc) {
  let parsed;
  try {
    parsed = parseArgs(proc.argv.slice(2));
  } catch (err) {
    proc.stderr.write(`mail_server: ${err.message}\n${USAGE}`);
    proc.exit(2);
  }
  if (parsed.help) {
    proc.stdout.write(USAGE);
    return;
  }
  let server = null;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => proc.exit(0), 2000).unref?.();
    if (server === null) proc.exit(0);
    else server.close().then(() => proc.exit(0));
  };
  proc.on("SIGTERM", stop);
  proc.on("SIGINT", stop);
  server = await startMailServer(parsed.opts);
  const info = { smtpPort: server.smtpPort, pop3Port: server.pop3Port };
  if (server.smtpsPort !== undefined) info.smtpsPort = server.smtpsPort;
  if (server.pop3sPort !== undefined) info.pop3sPort = server.pop3sPort;
  info.host = server.host;
  info.pid = proc.pid;
  proc.stdout.write(JSON.stringify(info) + "\n");
  if (parsed.watchStdin ?? stdinIsPipe()) {
    proc.stdin.on("end", stop);
    proc.stdin.on("close", stop);
    proc.stdin.on("error", stop);
    proc.stdin.resume();
  }
}

function isMain() {
  if (typeof import.meta.main === "boolean") return import.meta.main; // Deno, Bun, Node ≥ 24
  const script = globalThis.process?.argv?.[1];
  if (!script) return false;
  try {
    return realpathSync(script) ===
      realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(globalThis.process).catch((err) => {
    globalThis.process.stderr.write(`mail_server: ${err.message}\n`);
    globalThis.process.exit(1);
  });
}
