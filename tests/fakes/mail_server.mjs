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
import { createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, fstatSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DEFAULT_USERS = Object.freeze({
  "alice@mail.test": "alice-secret-1",
  "bob@mail.test": "bob-secret-2",
  "carol@mail.test": "carol-secret-3",
});

const MIB = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from("\r\n");
const CRLF_DOT = Buffer.from("\r\n.");
const DOT_END = Buffer.from("\r\n.\r\n");
const DOT = Buffer.from(".");
const CR = 13;
const LF = 10;
const DOT_BYTE = 46;

const SMTP_LINE_LIMIT = 4096; // command lines, CRLF included
const POP3_LINE_LIMIT = 255; // RFC 2449 §4, CRLF included
const SASL_LINE_LIMIT = 12288; // RFC 4954 §4: AUTH lines and SASL responses
const MAX_RECIPIENTS = 1000;

const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;
const NON_ASCII = /[\u0080-\uffff]/;

/** A file of tests/fixtures/, found from the sources or from a compiled copy (.tmp/node-dist/). */
function fixturePath(name) {
  for (let dir = new URL("./", import.meta.url);; dir = new URL("../", dir)) {
    const file = new URL(`tests/fixtures/${name}`, dir);
    if (existsSync(file)) return fileURLToPath(file);
    if (new URL("../", dir).href === dir.href) {
      throw new Error(
        `test fixture ${name} not found above ${import.meta.url}`,
      );
    }
  }
}

function decodeBase64(text) {
  return BASE64.test(text) ? Buffer.from(text, "base64") : null;
}

/** Remove the first "." of every line that starts with one (RFC 5321 §4.5.2). */
export function unstuffDots(buf) {
  let start = buf.length > 0 && buf[0] === DOT_BYTE ? 1 : 0;
  let i = buf.indexOf(CRLF_DOT, start);
  if (start === 0 && i === -1) return buf;
  const parts = [];
  while (i !== -1) {
    parts.push(buf.subarray(start, i + 2));
    start = i + 3;
    i = buf.indexOf(CRLF_DOT, start);
  }
  parts.push(buf.subarray(start));
  return Buffer.concat(parts);
}

/** Add a "." before every line that starts with one (RFC 1939 §3). */
export function stuffDots(buf) {
  let i = buf.indexOf(CRLF_DOT);
  const first = buf.length > 0 && buf[0] === DOT_BYTE;
  if (!first && i === -1) return buf;
  const parts = first ? [DOT] : [];
  let from = 0;
  while (i !== -1) {
    parts.push(buf.subarray(from, i + 2), DOT);
    from = i + 2;
    i = buf.indexOf(CRLF_DOT, i + 3);
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

/** True when [start, end) holds an LF not preceded by CR, or a CR followed by something but LF.
 * `prev` is the byte before `start`; a CR at end - 1 is left to the caller (next byte unknown). */
function hasBareNewline(buf, start, end, prev) {
  for (
    let i = buf.indexOf(LF, start);
    i !== -1 && i < end;
    i = buf.indexOf(LF, i + 1)
  ) {
    if ((i === start ? prev : buf[i - 1]) !== CR) return true;
  }
  for (
    let i = buf.indexOf(CR, start);
    i !== -1 && i < end - 1;
    i = buf.indexOf(CR, i + 1)
  ) {
    if (buf[i + 1] !== LF) return true;
  }
  return false;
}

function endsWithCrlf(buf) {
  return buf.length >= 2 && buf[buf.length - 2] === CR &&
    buf[buf.length - 1] === LF;
}

// ---------------------------------------------------------------------------------------------
// SASL (shared by SMTP AUTH and POP3 AUTH): PLAIN, LOGIN, CRAM-MD5

export const SASL_MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"];

class SaslExchange {
  /** @param initial Buffer | null (null: no initial response given) */
  constructor(ctx, mechanism, initial) {
    this.ctx = ctx;
    this.mechanism = mechanism;
    this.username = null;
    this.challenge = null;
    this.initial = initial;
  }

  /** → { challenge: Buffer } | { done: true, user: string | null } | { error: string } */
  start() {
    const initial = this.initial;
    switch (this.mechanism) {
      case "PLAIN":
        return initial === null ? { challenge: EMPTY } : this.plain(initial);
      case "LOGIN":
        if (initial === null) return { challenge: Buffer.from("Username:") };
        this.username = initial.toString("utf8");
        return { challenge: Buffer.from("Password:") };
      case "CRAM-MD5": {
        if (initial !== null) {
          return { error: "cram-md5 takes no initial response" };
        }
        const random = randomBytes(8).readBigUInt64BE().toString();
        this.challenge = Buffer.from(
          `<${random}.${Date.now()}@${this.ctx.hostname}>`,
        );
        return { challenge: this.challenge };
      }
    }
    return { error: "unknown mechanism" };
  }

  step(response) {
    switch (this.mechanism) {
      case "PLAIN":
        return this.plain(response);
      case "LOGIN":
        if (this.username === null) {
          this.username = response.toString("utf8");
          return { challenge: Buffer.from("Password:") };
        }
        return {
          done: true,
          user: this.ctx.checkPassword(
            this.username,
            response.toString("utf8"),
          ),
        };
      case "CRAM-MD5": {
        const text = response.toString("utf8");
        const sp = text.lastIndexOf(" ");
        if (sp <= 0) return { done: true, user: null };
        const user = this.ctx.findUser(text.slice(0, sp));
        if (user === null) return { done: true, user: null };
        const expected = createHmac("md5", this.ctx.password(user)).update(
          this.challenge,
        ).digest("hex");
        return {
          done: true,
          user: expected === text.slice(sp + 1).toLowerCase() ? user : null,
        };
      }
    }
    return { error: "unknown mechanism" };
  }

  plain(message) {
    const parts = message.toString("utf8").split("\0");
    if (parts.length !== 3) return { done: true, user: null };
    const [authzid, authcid, password] = parts;
    const user = this.ctx.checkPassword(authcid, password);
    if (
      user !== null && authzid !== "" && this.ctx.findUser(authzid) !== user
    ) return { done: true, user: null };
    return { done: true, user };
  }
}

// ---------------------------------------------------------------------------------------------
// Connection plumbing shared by both protocols: buffered lines, batched replies, STARTTLS upgrade

class Session {
  constructor(ctx, socket, secure, protocol) {
    this.ctx = ctx;
    this.protocol = protocol;
    this.id = ++ctx.sessionCount;
    this.secure = secure;
    this.buf = EMPTY;
    this.out = [];
    this.outHasBytes = false;
    this.closed = false;
    this.stop = null; // null | "starttls" | "quit": ends the current input loop
    this.discarding = false; // inside an over-long line
    this.discardedAfterStartTls = 0;
    this.rawSockets = [];
    ctx.sessions.add(this);
    this.attach(socket);
  }

  attach(socket) {
    this.socket = socket;
    this.rawSockets.push(socket);
    socket.setNoDelay?.(true);
    this.onData = (chunk) => this.receive(chunk);
    this.onDrain = () => socket.resume();
    socket.on("data", this.onData);
    socket.on("drain", this.onDrain);
    socket.on("error", (err) => {
      if (!this.ctx.quiet) {
        console.error(
          `[${this.protocol}#${this.id}] socket error: ${err.message}`,
        );
      }
    });
    socket.on("close", () => this.onClose());
  }

  receive(chunk) {
    if (this.closed || this.stop !== null) return;
    let data = chunk;
    if (this.buf.length > 0) {
      data = Buffer.concat([this.buf, chunk]);
      this.buf = EMPTY;
    }
    this.feed(data);
    if (this.stop === "starttls") {
      this.discardedAfterStartTls = this.buf.length;
      this.buf = EMPTY;
      this.flush();
      this.upgrade();
    } else if (this.stop === "quit") {
      this.flush();
      this.socket.end();
    } else {
      this.flush();
    }
  }

  /** Split `data` into lines (CRLF) and hand them to handleLine(); modes that read raw bytes
   * override `rawMode` / `feedRaw`. Leaves an incomplete trailing line in this.buf. */
  feed(data) {
    let pos = 0;
    while (pos < data.length && this.stop === null) {
      if (this.rawMode()) {
        pos = this.feedRaw(data, pos);
        continue;
      }
      const lf = data.indexOf(LF, pos);
      const limit = this.lineLimit(data, pos);
      if (lf === -1) {
        if (this.discarding) return;
        if (data.length - pos > limit) {
          this.discarding = true;
          this.lineTooLong();
          return;
        }
        this.buf = pos === 0 ? data : data.subarray(pos);
        return;
      }
      const next = lf + 1;
      if (this.discarding) {
        this.discarding = false;
        pos = next;
        continue;
      }
      if (lf === pos || data[lf - 1] !== CR) {
        pos = next;
        this.bareLf();
        continue;
      }
      if (next - pos > limit) {
        pos = next;
        this.lineTooLong();
        continue;
      }
      const line = data.toString("utf8", pos, lf - 1);
      pos = next;
      if (this.ctx.logging) this.ctx.log(this, "client", line);
      this.handleLine(line);
    }
  }

  rawMode() {
    return false;
  }

  send(line) {
    this.out.push(line + "\r\n");
    if (this.ctx.logging) this.ctx.log(this, "server", line);
  }

  sendBytes(bytes) {
    this.out.push(bytes);
    this.outHasBytes = true;
  }

  flush() {
    const out = this.out;
    if (out.length === 0 || this.closed) return;
    this.out = [];
    const socket = this.socket;
    let ok = true;
    if (!this.outHasBytes) {
      ok = socket.write(out.length === 1 ? out[0] : out.join(""));
    } else {
      this.outHasBytes = false;
      socket.cork();
      let text = "";
      for (const part of out) {
        if (typeof part === "string") {
          text += part;
        } else {
          if (text !== "") ok = socket.write(text) && ok;
          text = "";
          ok = socket.write(part) && ok;
        }
      }
      if (text !== "") ok = socket.write(text) && ok;
      socket.uncork();
    }
    if (!ok) socket.pause(); // resumed on "drain": a client that doesn't read stops being read
  }

  upgrade() {
    const raw = this.socket;
    raw.removeListener("data", this.onData);
    raw.removeListener("drain", this.onDrain);
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.ctx.secureContext,
    });
    // Deno's node:tls only starts server-side handshakes from its own tls.Server (deno#31759):
    // without this the ClientHello arrives as plain data. Node must not get this call.
    if (globalThis.Deno !== undefined && typeof secure._start === "function") {
      secure._start();
    }
    secure.once("secure", () => {
      this.secure = true;
    });
    this.secure = true; // nothing is read in clear from here on
    this.stop = null;
    this.attach(secure);
    this.afterUpgrade();
  }

  onClose() {
    if (this.closed) return;
    this.closed = true;
    this.ctx.sessions.delete(this);
    this.cleanup();
  }

  destroy() {
    for (const s of this.rawSockets) s.destroy();
    this.onClose();
  }

  cleanup() {}
}

// ---------------------------------------------------------------------------------------------
// SMTP

const MODE_COMMAND = 0;
const MODE_DATA = 1;
const MODE_BDAT = 2;
const MODE_AUTH = 3;

class SmtpSession extends Session {
  constructor(ctx, socket, secure) {
    super(ctx, socket, secure, "smtp");
    this.mode = MODE_COMMAND;
    this.resetSession();
    this.send(`220 ${ctx.hostname} ESMTP mailwire test server`);
    this.flush();
  }

  resetSession() {
    this.greeting = null; // null | "helo" | "ehlo"
    this.user = null;
    this.sasl = null;
    this.resetTransaction();
  }

  resetTransaction() {
    this.tx = null; // { from, params, rcpts: Set<user>, bdat: Buffer[] | null, bdatSize }
  }

  afterUpgrade() {
    this.mode = MODE_COMMAND;
    this.resetSession();
  }

  rawMode() {
    return this.mode === MODE_DATA || this.mode === MODE_BDAT;
  }

  feedRaw(data, pos) {
    return this.mode === MODE_DATA
      ? this.feedData(data, pos)
      : this.feedBdat(data, pos);
  }

  lineLimit(data, pos) {
    if (this.mode === MODE_AUTH) return SASL_LINE_LIMIT;
    const b = data[pos];
    if ((b === 65 || b === 97) && data.length - pos >= 5) {
      const word = data.toString("latin1", pos, pos + 5).toUpperCase();
      if (word === "AUTH ") return SASL_LINE_LIMIT;
    }
    return SMTP_LINE_LIMIT;
  }

  lineTooLong() {
    if (this.mode === MODE_AUTH) {
      this.sasl = null;
      this.mode = MODE_COMMAND;
    }
    this.send("500 5.5.2 line too long");
  }

  bareLf() {
    if (this.mode === MODE_AUTH) {
      this.sasl = null;
      this.mode = MODE_COMMAND;
    }
    this.send("500 5.5.2 bare lf not allowed, lines end with crlf");
  }

  handleLine(line) {
    if (this.mode === MODE_AUTH) return this.authResponse(line);
    if (line.includes("\0")) return this.send("500 5.5.2 nul not allowed");
    const sp = line.indexOf(" ");
    const verb = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp === -1 ? "" : line.slice(sp + 1);
    switch (verb) {
      case "EHLO":
        return this.ehlo(arg);
      case "HELO":
        return this.helo(arg);
      case "STARTTLS":
        return this.startTls(arg);
      case "AUTH":
        return this.auth(arg);
      case "MAIL":
        return this.mail(arg);
      case "RCPT":
        return this.rcpt(arg);
      case "DATA":
        return this.data(arg);
      case "BDAT":
        return this.bdat(arg);
      case "RSET":
        if (arg !== "") return this.send("501 5.5.4 syntax: rset");
        this.resetTransaction();
        return this.send("250 2.0.0 ok");
      case "NOOP":
        return this.send("250 2.0.0 ok");
      case "VRFY":
        if (arg === "") return this.send("501 5.5.4 syntax: vrfy <address>");
        return this.send(
          "252 2.5.0 cannot vrfy user, but will accept message and attempt delivery",
        );
      case "EXPN":
        return this.send("502 5.5.1 expn not implemented");
      case "HELP":
        return this.send("214 2.0.0 mailwire test server, see rfc 5321");
      case "QUIT":
        this.send("221 2.0.0 bye");
        this.stop = "quit";
        return;
      case "":
        return this.send("500 5.5.2 empty command");
      default:
        return this.send("500 5.5.1 command not recognized");
    }
  }

  tlsRequiredButMissing() {
    return this.ctx.requireTls && !this.secure;
  }

  authAllowed() {
    return !this.tlsRequiredButMissing();
  }

  ehlo(arg) {
    if (arg === "" || arg.includes(" ")) {
      return this.send("501 5.5.4 syntax: ehlo <domain>");
    }
    const ctx = this.ctx;
    this.greeting = "ehlo";
    this.resetTransaction();
    const lines = [
      `${ctx.hostname} greets ${arg}`,
      "PIPELINING",
      `SIZE ${ctx.maxMessageSize}`,
      "8BITMIME",
      "SMTPUTF8",
      "ENHANCEDSTATUSCODES",
      "CHUNKING",
      "DSN",
    ];
    if (ctx.starttls && !this.secure) lines.push("STARTTLS");
    if (this.authAllowed()) lines.push(`AUTH ${SASL_MECHANISMS.join(" ")}`);
    for (let i = 0; i < lines.length; i++) {
      this.send(`250${i === lines.length - 1 ? " " : "-"}${lines[i]}`);
    }
  }

  helo(arg) {
    if (arg === "" || arg.includes(" ")) {
      return this.send("501 5.5.4 syntax: helo <domain>");
    }
    this.greeting = "helo";
    this.resetTransaction();
    this.send(`250 ${this.ctx.hostname}`);
  }

  startTls(arg) {
    if (!this.ctx.starttls) {
      return this.send("502 5.5.1 starttls not available");
    }
    if (arg !== "") return this.send("501 5.5.4 syntax: starttls");
    if (this.secure) return this.send("503 5.5.1 tls already active");
    if (this.greeting !== "ehlo") return this.send("503 5.5.1 send ehlo first");
    this.send("220 2.0.0 ready to start tls");
    this.stop = "starttls";
  }

  auth(arg) {
    if (this.greeting !== "ehlo") return this.send("503 5.5.1 send ehlo first");
    if (this.tlsRequiredButMissing()) {
      return this.send("530 5.7.0 must issue starttls first");
    }
    if (this.user !== null) return this.send("503 5.5.1 already authenticated");
    if (this.tx !== null) {
      return this.send(
        "503 5.5.1 auth not permitted during a mail transaction",
      );
    }
    const parts = arg.split(" ");
    if (parts.length > 2 || parts[0] === "") {
      return this.send("501 5.5.4 syntax: auth <mechanism> [initial-response]");
    }
    const mechanism = parts[0].toUpperCase();
    if (!SASL_MECHANISMS.includes(mechanism)) {
      return this.send("504 5.5.4 unrecognized authentication type");
    }
    let initial = null;
    if (parts.length === 2) {
      initial = parts[1] === "=" ? EMPTY : decodeBase64(parts[1]);
      if (initial === null || parts[1] === "") {
        return this.send("501 5.5.2 cannot decode initial response");
      }
    }
    this.sasl = new SaslExchange(this.ctx, mechanism, initial);
    this.saslResult(this.sasl.start());
  }

  authResponse(line) {
    if (line === "*") {
      this.mode = MODE_COMMAND;
      this.sasl = null;
      return this.send("501 5.0.0 authentication cancelled");
    }
    const response = decodeBase64(line);
    if (response === null) {
      this.mode = MODE_COMMAND;
      this.sasl = null;
      return this.send("501 5.5.2 cannot decode response");
    }
    this.saslResult(this.sasl.step(response));
  }

  saslResult(result) {
    if (result.challenge !== undefined) {
      this.mode = MODE_AUTH;
      return this.send(`334 ${result.challenge.toString("base64")}`);
    }
    this.mode = MODE_COMMAND;
    this.sasl = null;
    if (result.error !== undefined) {
      return this.send(`501 5.5.4 ${result.error}`);
    }
    if (result.user === null) {
      return this.send("535 5.7.8 authentication credentials invalid");
    }
    this.user = result.user;
    this.send("235 2.7.0 authentication successful");
  }

  /** "FROM:<addr> params" → { address, params: Map } | reply string */
  parsePath(arg, keyword, allowEmpty) {
    const head = arg.slice(0, keyword.length + 1).toUpperCase();
    if (head !== `${keyword}:`) {
      return `501 5.5.4 syntax: ${
        keyword === "FROM" ? "mail from:<address>" : "rcpt to:<address>"
      }`;
    }
    let rest = arg.slice(keyword.length + 1);
    if (rest.startsWith(" ")) rest = rest.slice(1); // "FROM: <a>" is common enough to accept
    if (!rest.startsWith("<")) {
      return "501 5.5.4 address must be enclosed in <>";
    }
    const close = rest.indexOf(">");
    if (close === -1) return "501 5.5.4 address must be enclosed in <>";
    const address = rest.slice(1, close);
    const tail = rest.slice(close + 1);
    if (tail !== "" && !tail.startsWith(" ")) {
      return "501 5.5.4 syntax error after address";
    }
    const params = new Map();
    for (const word of tail.split(" ")) {
      if (word === "") continue;
      const eq = word.indexOf("=");
      const key = (eq === -1 ? word : word.slice(0, eq)).toUpperCase();
      if (params.has(key)) {
        return `501 5.5.4 duplicate parameter ${key.toLowerCase()}`;
      }
      params.set(key, eq === -1 ? null : word.slice(eq + 1));
    }
    if (params.size > 0 && this.greeting !== "ehlo") {
      return "555 5.5.4 parameters need ehlo";
    }
    if (address === "") {
      return allowEmpty ? { address, params } : "501 5.1.3 empty address";
    }
    const at = address.lastIndexOf("@");
    const local = address.slice(0, at);
    const domain = address.slice(at + 1);
    const badLocal = local.startsWith('"')
      ? !/^"(?:[^"\\]|\\.)*"$/.test(local)
      : /[\s<>()[\],;:\\"]/.test(local);
    if (
      at <= 0 || domain === "" || /[\s@<>()[\],;:\\"]/.test(domain) ||
      badLocal || local.startsWith("@")
    ) {
      return `501 ${keyword === "FROM" ? "5.1.7" : "5.1.3"} bad address syntax`;
    }
    return { address, params };
  }

  mail(arg) {
    if (this.greeting === null) {
      return this.send("503 5.5.1 send ehlo or helo first");
    }
    if (this.tlsRequiredButMissing()) {
      return this.send("530 5.7.0 must issue starttls first");
    }
    if (this.ctx.auth && this.user === null) {
      return this.send("530 5.7.0 authentication required");
    }
    if (this.tx !== null) return this.send("503 5.5.1 nested mail command");
    const parsed = this.parsePath(arg, "FROM", true);
    if (typeof parsed === "string") return this.send(parsed);
    const { address, params } = parsed;
    for (const [key, value] of params) {
      switch (key) {
        case "SIZE":
          if (value === null || !/^\d{1,20}$/.test(value)) {
            return this.send("501 5.5.4 bad size parameter");
          }
          if (Number(value) > this.ctx.maxMessageSize) {
            return this.send(
              "552 5.3.4 message size exceeds fixed maximum message size",
            );
          }
          break;
        case "BODY":
          if (value === null) return this.send("501 5.5.4 bad body parameter");
          if (!["7BIT", "8BITMIME"].includes(value.toUpperCase())) {
            return this.send("555 5.5.4 unsupported body type");
          }
          break;
        case "SMTPUTF8":
          if (value !== null) {
            return this.send("501 5.5.4 smtputf8 takes no value");
          }
          break;
        case "RET":
          if (
            value === null || !["FULL", "HDRS"].includes(value.toUpperCase())
          ) {
            return this.send("501 5.5.4 bad ret parameter");
          }
          break;
        case "ENVID":
          if (value === null || value.length > 100 || !XTEXT.test(value)) {
            return this.send("501 5.5.4 bad envid parameter");
          }
          break;
        case "AUTH":
          if (value === null || !XTEXT.test(value)) {
            return this.send("501 5.5.4 bad auth parameter");
          }
          break;
        default:
          return this.send(
            `555 5.5.4 unsupported parameter ${key.toLowerCase()}`,
          );
      }
    }
    if (NON_ASCII.test(address) && !params.has("SMTPUTF8")) {
      return this.send("553 5.6.7 non-ascii address needs smtputf8");
    }
    this.tx = {
      from: address,
      params,
      rcpts: new Set(),
      rcptParams: [],
      bdat: null,
      bdatSize: 0,
      smtputf8: params.has("SMTPUTF8"),
    };
    this.send("250 2.1.0 ok");
  }

  rcpt(arg) {
    if (this.tx === null) return this.send("503 5.5.1 need mail command");
    const parsed = this.parsePath(arg, "TO", false);
    if (typeof parsed === "string") return this.send(parsed);
    const { address, params } = parsed;
    for (const [key, value] of params) {
      switch (key) {
        case "NOTIFY": {
          const values = value === null ? [] : value.toUpperCase().split(",");
          const ok = values.length > 0 &&
            (values.length === 1 && values[0] === "NEVER" ||
              values.every((v) =>
                  v === "SUCCESS" || v === "FAILURE" || v === "DELAY"
                ) && new Set(values).size === values.length);
          if (!ok) return this.send("501 5.5.4 bad notify parameter");
          break;
        }
        case "ORCPT": {
          const semi = value === null ? -1 : value.indexOf(";");
          if (
            semi <= 0 || !/^[A-Za-z0-9-]+$/.test(value.slice(0, semi)) ||
            !XTEXT.test(value.slice(semi + 1))
          ) {
            return this.send("501 5.5.4 bad orcpt parameter");
          }
          break;
        }
        default:
          return this.send(
            `555 5.5.4 unsupported parameter ${key.toLowerCase()}`,
          );
      }
    }
    if (NON_ASCII.test(address) && !this.tx.smtputf8) {
      return this.send("553 5.6.7 non-ascii address needs smtputf8");
    }
    const user = this.ctx.findUser(address);
    if (user === null) return this.send("550 5.1.1 user unknown");
    if (this.tx.rcpts.size >= MAX_RECIPIENTS) {
      return this.send("452 4.5.3 too many recipients");
    }
    this.tx.rcpts.add(user);
    this.tx.rcptParams.push({ address, params });
    this.send("250 2.1.5 ok");
  }

  data(arg) {
    if (arg !== "") return this.send("501 5.5.4 syntax: data");
    if (this.tx === null) return this.send("503 5.5.1 need mail command");
    if (this.tx.bdat !== null) {
      return this.send("503 5.5.1 data not allowed after bdat");
    }
    if (this.tx.rcpts.size === 0) {
      return this.send("554 5.5.1 no valid recipients");
    }
    this.send("354 end data with <cr><lf>.<cr><lf>");
    this.mode = MODE_DATA;
    this.body = {
      chunks: [],
      size: 0,
      tail: CRLF,
      dots: false,
      bare: false,
      pendingCr: false,
    };
  }

  /** Body bytes until CRLF.CRLF, found with Buffer#indexOf across chunk boundaries. */
  feedData(data, pos) {
    const b = this.body;
    const ctx = this.ctx;
    const chunk = pos === 0 ? data : data.subarray(pos);
    const tail = b.tail;
    const win = Buffer.concat([tail, chunk.subarray(0, 4)]);
    // start of the terminator in chunk coordinates; negative when it began in the tail
    let found = true;
    let term = win.indexOf(DOT_END);
    if (term !== -1 && term < tail.length) term -= tail.length;
    else if ((term = chunk.indexOf(DOT_END)) === -1) found = false;
    if (!b.dots) {
      const wq = win.indexOf(CRLF_DOT);
      if (
        wq !== -1 && wq < tail.length && (!found || wq - tail.length < term)
      ) b.dots = true;
      else {
        const q = chunk.indexOf(CRLF_DOT);
        if (q !== -1 && (!found || q < term)) b.dots = true;
      }
    }
    const end = found ? term + 2 : chunk.length; // content end in chunk coordinates
    if (ctx.strictNewlines && !b.bare) {
      if (b.pendingCr && chunk.length > 0 && chunk[0] !== LF) b.bare = true;
      else if (
        end > 0 && hasBareNewline(chunk, 0, end, tail[tail.length - 1])
      ) b.bare = true;
      b.pendingCr = !found && chunk.length > 0 &&
        chunk[chunk.length - 1] === CR;
    }
    if (!found) {
      b.size += chunk.length;
      if (b.size > ctx.maxMessageSize) b.chunks = null;
      else if (ctx.store) b.chunks.push(chunk);
      b.tail = chunk.length >= 4
        ? chunk.subarray(chunk.length - 4)
        : win.subarray(Math.max(0, win.length - 4));
      return data.length;
    }
    if (end > 0 && b.chunks !== null && ctx.store) {
      b.chunks.push(chunk.subarray(0, end));
    }
    const size = b.size + end;
    this.mode = MODE_COMMAND;
    this.body = null;
    if (size > ctx.maxMessageSize) {
      this.send("552 5.3.4 message size exceeds fixed maximum message size");
    } else if (b.bare) {
      this.send("554 5.6.0 bare cr or lf in message, lines end with crlf");
    } else {
      let content = null;
      if (ctx.store) {
        content = b.chunks.length === 1
          ? b.chunks[0]
          : Buffer.concat(b.chunks, size);
        if (content.length !== size) content = content.subarray(0, size);
        if (b.dots) content = unstuffDots(content);
      }
      this.deliver(content, size);
    }
    this.resetTransaction();
    return pos + term + 5;
  }

  bdat(arg) {
    const m = /^(\d{1,15})(?: (LAST))?$/i.exec(arg);
    if (m === null) return this.send("501 5.5.4 syntax: bdat <size> [last]");
    // the chunk is always read (RFC 3030 §2: stay in sync), refused afterwards if out of order
    const size = Number(m[1]);
    this.chunk = { size, remaining: size, last: m[2] !== undefined, parts: [] };
    if (this.chunk.remaining === 0) return this.bdatDone();
    this.mode = MODE_BDAT;
  }

  feedBdat(data, pos) {
    const c = this.chunk;
    const take = Math.min(c.remaining, data.length - pos);
    if (this.ctx.store) c.parts.push(data.subarray(pos, pos + take));
    c.remaining -= take;
    if (c.remaining === 0) {
      this.mode = MODE_COMMAND;
      this.bdatDone();
    }
    return pos + take;
  }

  bdatDone() {
    const c = this.chunk;
    this.chunk = null;
    const tx = this.tx;
    if (this.greeting !== "ehlo") return this.send("503 5.5.1 send ehlo first");
    if (tx === null) return this.send("503 5.5.1 need mail command");
    if (tx.rcpts.size === 0) return this.send("554 5.5.1 no valid recipients");
    const size = c.size;
    if (tx.bdat === null) tx.bdat = [];
    tx.bdatSize += size;
    if (tx.bdatSize > this.ctx.maxMessageSize) {
      this.resetTransaction();
      return this.send(
        "552 5.3.4 message size exceeds fixed maximum message size",
      );
    }
    for (const p of c.parts) tx.bdat.push(p);
    if (!c.last) return this.send(`250 2.0.0 ${size} octets received`);
    const content = this.ctx.store ? Buffer.concat(tx.bdat, tx.bdatSize) : null;
    this.deliver(content, tx.bdatSize);
    this.resetTransaction();
  }

  deliver(content, size) {
    const ctx = this.ctx;
    const tx = this.tx;
    const id = ctx.nextQueueId();
    ctx.stats.messages++;
    ctx.stats.bytes += size;
    if (ctx.store) {
      for (const user of tx.rcpts) ctx.mailbox(user).push(content);
    }
    ctx.onMessage?.({
      id,
      from: tx.from,
      to: [...tx.rcpts],
      recipients: tx.rcptParams,
      mailParams: tx.params,
      data: content,
      size,
    });
    this.send(`250 2.0.0 ok queued as ${id}`);
  }
}

// ---------------------------------------------------------------------------------------------
// POP3

class Pop3Session extends Session {
  constructor(ctx, socket, secure) {
    super(ctx, socket, secure, "pop3");
    const pid = globalThis.process?.pid ?? 0;
    this.timestamp = `<${pid}.${Date.now()}.${this.id}@${ctx.hostname}>`;
    this.state = "authorization";
    this.pendingUser = null;
    this.user = null;
    this.messages = null; // snapshot at login
    this.deleted = null; // boolean[]
    this.sasl = null;
    this.send(`+OK mailwire test server ready ${this.timestamp}`);
    this.flush();
  }

  afterUpgrade() {
    this.pendingUser = null;
    this.sasl = null;
  }

  lineLimit() {
    return this.sasl !== null ? SASL_LINE_LIMIT : POP3_LINE_LIMIT;
  }

  lineTooLong() {
    this.sasl = null;
    this.send("-ERR line too long");
  }

  bareLf() {
    this.sasl = null;
    this.send("-ERR bare lf not allowed, lines end with crlf");
  }

  plaintextAllowed() {
    return !this.ctx.requireTls || this.secure;
  }

  handleLine(line) {
    if (this.sasl !== null) return this.authResponse(line);
    const sp = line.indexOf(" ");
    const verb = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp === -1 ? "" : line.slice(sp + 1);
    if (verb === "CAPA") return this.capa();
    if (verb === "QUIT") return this.quit();
    if (verb === "NOOP" && this.state === "transaction") {
      return this.send("+OK");
    }
    if (this.state === "authorization") {
      switch (verb) {
        case "STLS":
          return this.stls(arg);
        case "USER":
          return this.userCommand(arg);
        case "PASS":
          return this.pass(arg);
        case "APOP":
          return this.apop(arg);
        case "AUTH":
          return this.auth(arg);
        case "STAT":
        case "LIST":
        case "RETR":
        case "DELE":
        case "RSET":
        case "TOP":
        case "UIDL":
        case "NOOP":
          return this.send("-ERR command not valid in this state");
      }
      return this.send("-ERR unknown command");
    }
    switch (verb) {
      case "STAT":
        return this.stat(arg);
      case "LIST":
        return this.list(arg);
      case "UIDL":
        return this.uidl(arg);
      case "RETR":
        return this.retr(arg);
      case "TOP":
        return this.top(arg);
      case "DELE":
        return this.dele(arg);
      case "RSET":
        if (arg !== "") return this.send("-ERR syntax: rset");
        this.deleted.fill(false);
        return this.send(`+OK ${this.count()} messages`);
      case "STLS":
      case "USER":
      case "PASS":
      case "APOP":
      case "AUTH":
        return this.send("-ERR command not valid in this state");
    }
    return this.send("-ERR unknown command");
  }

  capa() {
    const lines = ["+OK capability list follows", "TOP", "UIDL"];
    if (this.plaintextAllowed()) {
      lines.push("USER", `SASL ${SASL_MECHANISMS.join(" ")}`);
    }
    lines.push("RESP-CODES", "AUTH-RESP-CODE", "PIPELINING");
    if (this.ctx.starttls && !this.secure && this.state === "authorization") {
      lines.push("STLS");
    }
    lines.push("IMPLEMENTATION mailwire-test", ".");
    for (const line of lines) this.send(line);
  }

  stls(arg) {
    if (!this.ctx.starttls) return this.send("-ERR stls not available");
    if (arg !== "") return this.send("-ERR syntax: stls");
    if (this.secure) {
      return this.send("-ERR command not permitted when tls active");
    }
    this.send("+OK begin tls");
    this.stop = "starttls";
  }

  userCommand(arg) {
    if (!this.plaintextAllowed()) {
      return this.send(
        "-ERR [AUTH] plaintext authentication disallowed without tls, use stls",
      );
    }
    if (arg === "") return this.send("-ERR syntax: user <name>");
    this.pendingUser = arg;
    this.send("+OK send pass");
  }

  pass(arg) {
    if (!this.plaintextAllowed()) {
      return this.send(
        "-ERR [AUTH] plaintext authentication disallowed without tls, use stls",
      );
    }
    if (this.pendingUser === null) {
      return this.send("-ERR no username given, send user first");
    }
    const user = this.ctx.checkPassword(this.pendingUser, arg);
    this.pendingUser = null;
    this.login(user, "+OK logged in");
  }

  apop(arg) {
    const m = /^(\S+) ([0-9A-Fa-f]{32})$/.exec(arg);
    if (m === null) return this.send("-ERR syntax: apop <name> <digest>");
    let user = this.ctx.findUser(m[1]);
    if (user !== null) {
      const expected = createHash("md5").update(
        this.timestamp + this.ctx.password(user),
      ).digest("hex");
      if (expected !== m[2].toLowerCase()) user = null;
    }
    this.login(user, "+OK logged in");
  }

  auth(arg) {
    if (arg === "") {
      // RFC 1734-era listing, still sent by some clients
      this.send("+OK sasl mechanisms follow");
      for (const mech of SASL_MECHANISMS) this.send(mech);
      return this.send(".");
    }
    if (!this.plaintextAllowed()) {
      return this.send(
        "-ERR [AUTH] authentication disallowed without tls, use stls",
      );
    }
    const parts = arg.split(" ");
    if (parts.length > 2 || parts[0] === "") {
      return this.send("-ERR syntax: auth <mechanism> [initial-response]");
    }
    const mechanism = parts[0].toUpperCase();
    if (!SASL_MECHANISMS.includes(mechanism)) {
      return this.send("-ERR unsupported authentication mechanism");
    }
    let initial = null;
    if (parts.length === 2) {
      initial = parts[1] === "=" ? EMPTY : decodeBase64(parts[1]);
      if (initial === null || parts[1] === "") {
        return this.send("-ERR cannot decode initial response");
      }
    }
    this.sasl = new SaslExchange(this.ctx, mechanism, initial);
    this.saslResult(this.sasl.start());
  }

  authResponse(line) {
    if (line === "*") {
      this.sasl = null;
      return this.send("-ERR authentication cancelled");
    }
    const response = decodeBase64(line);
    if (response === null) {
      this.sasl = null;
      return this.send("-ERR cannot decode response");
    }
    this.saslResult(this.sasl.step(response));
  }

  saslResult(result) {
    if (result.challenge !== undefined) {
      return this.send(`+ ${result.challenge.toString("base64")}`);
    }
    this.sasl = null;
    if (result.error !== undefined) return this.send(`-ERR ${result.error}`);
    this.login(result.user, "+OK authenticated");
  }

  login(user, ok) {
    if (user === null) return this.send("-ERR [AUTH] invalid credentials");
    const ctx = this.ctx;
    if (ctx.locks.has(user)) return this.send("-ERR [IN-USE] mailbox locked");
    ctx.locks.add(user);
    this.user = user;
    this.state = "transaction";
    this.messages = ctx.mailbox(user).slice();
    this.deleted = new Array(this.messages.length).fill(false);
    this.send(ok);
  }

  cleanup() {
    if (this.user !== null) this.ctx.locks.delete(this.user);
  }

  count() {
    let n = 0;
    for (const d of this.deleted) if (!d) n++;
    return n;
  }

  /** "3" → index 2, or a reply string when the argument is bad or the message is gone */
  message(arg) {
    if (!/^[1-9]\d{0,9}$/.test(arg)) return "-ERR invalid message number";
    const i = Number(arg) - 1;
    if (i >= this.messages.length) return "-ERR no such message";
    if (this.deleted[i]) return `-ERR message ${arg} already deleted`;
    return i;
  }

  stat(arg) {
    if (arg !== "") return this.send("-ERR syntax: stat");
    let n = 0;
    let size = 0;
    this.messages.forEach((m, i) => {
      if (!this.deleted[i]) {
        n++;
        size += m.length;
      }
    });
    this.send(`+OK ${n} ${size}`);
  }

  list(arg) {
    if (arg !== "") {
      const i = this.message(arg);
      if (typeof i === "string") return this.send(i);
      return this.send(`+OK ${i + 1} ${this.messages[i].length}`);
    }
    let size = 0;
    const lines = [];
    this.messages.forEach((m, i) => {
      if (!this.deleted[i]) {
        size += m.length;
        lines.push(`${i + 1} ${m.length}`);
      }
    });
    this.send(`+OK ${lines.length} messages (${size} octets)`);
    for (const line of lines) this.send(line);
    this.send(".");
  }

  uidl(arg) {
    if (arg !== "") {
      const i = this.message(arg);
      if (typeof i === "string") return this.send(i);
      return this.send(`+OK ${i + 1} ${this.ctx.uid(this.messages[i])}`);
    }
    this.send("+OK unique-id listing follows");
    this.messages.forEach((m, i) => {
      if (!this.deleted[i]) this.send(`${i + 1} ${this.ctx.uid(m)}`);
    });
    this.send(".");
  }

  sendMessage(status, bytes) {
    this.send(status);
    this.sendBytes(stuffDots(bytes));
    if (bytes.length > 0 && !endsWithCrlf(bytes)) this.sendBytes(CRLF);
    this.send(".");
  }

  retr(arg) {
    const i = this.message(arg);
    if (typeof i === "string") return this.send(i);
    const m = this.messages[i];
    this.sendMessage(`+OK ${m.length} octets`, m);
  }

  top(arg) {
    const a = /^(\S+) (\d{1,10})$/.exec(arg);
    if (a === null) return this.send("-ERR syntax: top <msg> <lines>");
    const i = this.message(a[1]);
    if (typeof i === "string") return this.send(i);
    const m = this.messages[i];
    let pos;
    if (m[0] === CR && m[1] === LF) pos = 2; // no header section at all
    else {
      const h = m.indexOf("\r\n\r\n");
      pos = h === -1 ? m.length : h + 4;
    }
    for (let n = Number(a[2]); n > 0 && pos < m.length; n--) {
      const lf = m.indexOf(LF, pos);
      pos = lf === -1 ? m.length : lf + 1;
    }
    this.sendMessage("+OK top of message follows", m.subarray(0, pos));
  }

  dele(arg) {
    const i = this.message(arg);
    if (typeof i === "string") return this.send(i);
    this.deleted[i] = true;
    this.send(`+OK message ${i + 1} deleted`);
  }

  quit() {
    if (this.state === "transaction") {
      // UPDATE state (RFC 1939 §6): only now do deletions become real
      const box = this.ctx.mailbox(this.user);
      const gone = new Set();
      this.deleted.forEach((deleted, i) => {
        if (deleted) gone.add(i);
      });
      if (gone.size > 0) {
        // the lock only lets SMTP append, so the snapshot is still box's prefix; check anyway
        const prefix = this.messages.every((m, i) => box[i] === m);
        if (prefix) {
          let w = 0;
          for (let r = 0; r < box.length; r++) {
            if (!gone.has(r)) box[w++] = box[r];
          }
          box.length = w;
        } else {
          const doomed = new Set(this.messages.filter((_, i) => gone.has(i)));
          let w = 0;
          for (let r = 0; r < box.length; r++) {
            if (!doomed.has(box[r])) box[w++] = box[r];
          }
          box.length = w;
        }
      }
      this.ctx.locks.delete(this.user);
      this.user = null;
      this.state = "update";
      this.send(
        `+OK mailwire test server signing off (${box.length} messages left)`,
      );
    } else {
      this.send("+OK mailwire test server signing off");
    }
    this.stop = "quit";
  }
}

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
