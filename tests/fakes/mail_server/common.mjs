// The test mail server's shared parts: limits, dot and line-end helpers, SASL (PLAIN, LOGIN, CRAM-MD5), and the connection plumbing (mail_server.mjs).

import tls from "node:tls";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DEFAULT_USERS = Object.freeze({
  "alice@mail.test": "alice-secret-1",
  "bob@mail.test": "bob-secret-2",
  "carol@mail.test": "carol-secret-3",
});

export const MIB = 1024 * 1024;
export const EMPTY = Buffer.alloc(0);
export const CRLF = Buffer.from("\r\n");
export const CRLF_DOT = Buffer.from("\r\n.");
export const DOT_END = Buffer.from("\r\n.\r\n");
export const DOT = Buffer.from(".");
export const CR = 13;
export const LF = 10;
export const DOT_BYTE = 46;

export const SMTP_LINE_LIMIT = 4096; // command lines, CRLF included
export const POP3_LINE_LIMIT = 255; // RFC 2449 §4, CRLF included
export const SASL_LINE_LIMIT = 12288; // RFC 4954 §4: AUTH lines and SASL responses
export const MAX_RECIPIENTS = 1000;

export const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;
export const NON_ASCII = /[\u0080-\uffff]/;

/** A file of tests/fixtures/, found from the sources or from a compiled copy (.tmp/node-dist/). */
export function fixturePath(name) {
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

export function decodeBase64(text) {
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
export function hasBareNewline(buf, start, end, prev) {
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

export function endsWithCrlf(buf) {
  return buf.length >= 2 && buf[buf.length - 2] === CR &&
    buf[buf.length - 1] === LF;
}

// ---------------------------------------------------------------------------------------------
// SASL (shared by SMTP AUTH and POP3 AUTH): PLAIN, LOGIN, CRAM-MD5

export const SASL_MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"];

export class SaslExchange {
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

export class Session {
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
