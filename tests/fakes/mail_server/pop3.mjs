// The test mail server's POP3 side (RFC 1939, 2449, 2595, 5034, 3206): Pop3Session.

import { createHash } from "node:crypto";
import {
  CR,
  CRLF,
  decodeBase64,
  EMPTY,
  endsWithCrlf,
  LF,
  POP3_LINE_LIMIT,
  SASL_LINE_LIMIT,
  SASL_MECHANISMS,
  SaslExchange,
  Session,
  stuffDots,
} from "./common.mjs";

// ---------------------------------------------------------------------------------------------
// POP3

export class Pop3Session extends Session {
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
