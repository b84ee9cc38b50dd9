// The test mail server's SMTP side (RFC 5321, 3207, 4954, 2920, 3030, 1870, 6152, 6531, 3461, 2034): SmtpSession.

import {
  CR,
  CRLF,
  CRLF_DOT,
  decodeBase64,
  DOT_END,
  EMPTY,
  hasBareNewline,
  LF,
  MAX_RECIPIENTS,
  NON_ASCII,
  SASL_LINE_LIMIT,
  SASL_MECHANISMS,
  SaslExchange,
  Session,
  SMTP_LINE_LIMIT,
  unstuffDots,
  XTEXT,
} from "./common.mjs";

// ---------------------------------------------------------------------------------------------
// SMTP

const MODE_COMMAND = 0;
const MODE_DATA = 1;
const MODE_BDAT = 2;
const MODE_AUTH = 3;

export class SmtpSession extends Session {
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
