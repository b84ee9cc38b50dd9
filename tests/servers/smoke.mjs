// Smoke test for the servers started by start.sh, using only node:net/node:tls
// (independent of the library under test). Run: node tests/servers/smoke.mjs
// Sends mail through every entry point, reads it back over POP3, and deletes
// what it sent. Exits non-zero on the first failed expectation.
import net from "node:net";
import tls from "node:tls";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = JSON.parse(
  readFileSync(join(here, "../../.tmp/servers/env.json"), "utf8"),
);
const ca = readFileSync(env.caFile);
const [alice, bob, carol] = env.users;
const token = randomUUID().slice(0, 8);
const verbose = process.argv.includes("-v");

let failures = 0;
function check(cond, what, detail = "") {
  if (cond) console.log(`ok   ${what}`);
  else {
    failures++;
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`);
  }
}

class Conn {
  static open(opts, implicitTls = false) {
    return new Promise((resolve, reject) => {
      const sock = implicitTls
        ? tls.connect({ ...opts, ca, servername: "localhost" })
        : net.connect(opts);
      sock.once(
        implicitTls ? "secureConnect" : "connect",
        () => resolve(new Conn(sock)),
      );
      sock.once("error", reject);
    });
  }
  constructor(sock) {
    this.attach(sock);
  }
  attach(sock) {
    this.sock = sock;
    this.buf = "";
    this.waiters = [];
    sock.setEncoding("utf8");
    sock.on("data", (d) => {
      this.buf += d;
      this.pump();
    });
    sock.on("error", (e) => (this.error = e));
    sock.on("close", () => {
      this.closed = true;
      this.pump();
    });
  }
  pump() {
    while (this.waiters.length) {
      const nl = this.buf.indexOf("\r\n");
      if (nl < 0) {
        if (this.closed) {
          this.waiters.shift().reject(
            this.error ?? new Error("connection closed"),
          );
        } else return;
        continue;
      }
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      if (verbose) console.log(`  S: ${line}`);
      this.waiters.shift().resolve(line);
    }
  }
  line() {
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error("timeout waiting for server")),
        10000,
      );
      this.waiters.push({
        resolve: (l) => (clearTimeout(t), resolve(l)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.pump();
    });
  }
  send(s) {
    if (verbose) {
      console.log(`  C: ${s.length > 200 ? s.slice(0, 200) + "..." : s}`);
    }
    this.sock.write(s + "\r\n");
  }
  // SMTP/LMTP reply: { code, lines: [text...], text }
  async reply() {
    const lines = [];
    for (;;) {
      const l = await this.line();
      lines.push(l.slice(4));
      if (l[3] !== "-") {
        return { code: Number(l.slice(0, 3)), lines, text: lines.join("\n") };
      }
    }
  }
  cmd(s) {
    this.send(s);
    return this.reply();
  }
  pop(s) {
    if (s !== undefined) this.send(s);
    return this.line();
  }
  async popMulti(s) {
    const first = await this.pop(s);
    if (!first.startsWith("+OK")) return { first, lines: [] };
    const lines = [];
    for (;;) {
      const l = await this.line();
      if (l === ".") return { first, lines };
      lines.push(l.startsWith("..") ? l.slice(1) : l);
    }
  }
  starttls() {
    return new Promise((resolve, reject) => {
      this.sock.removeAllListeners("data");
      const s = tls.connect(
        { socket: this.sock, ca, servername: "localhost" },
        () => {
          this.attach(s);
          resolve();
        },
      );
      s.once("error", reject);
    });
  }
  close() {
    this.sock.destroy();
  }
}

const smtpAt = (port, implicit = false) =>
  Conn.open({ host: env.host, port }, implicit);
const ehloKeywords = (r) =>
  r.lines.slice(1).map((l) => l.split(" ")[0].toUpperCase());
const authMechs = (r) => {
  const l = r.lines.find((x) => /^AUTH /i.test(x));
  return l ? l.split(" ").slice(1) : [];
};
const b64 = (s) => Buffer.from(s, "utf8").toString("base64");
const message = (from, to, subject, extraHeaders = "") =>
  [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    `Message-ID: <${randomUUID()}@mail.test>`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    ...(extraHeaders ? [extraHeaders] : []),
    "",
    "Hello from the mailwire server smoke test.",
    ".leading dot line",
    "",
  ].join("\r\n");
const dotStuff = (m) =>
  m.split("\r\n").map((l) => (l.startsWith(".") ? "." + l : l)).join("\r\n");

async function sendData(c, msg) {
  const r = await c.cmd("DATA");
  if (r.code !== 354) return r;
  c.sock.write(dotStuff(msg) + ".\r\n");
  return c.reply();
}

function authPlain(c, u) {
  return c.cmd(`AUTH PLAIN ${b64(`\0${u.login}\0${u.password}`)}`);
}
async function authCram(
  c,
  u,
  prefix = "AUTH CRAM-MD5",
  cont = (x) => x.slice(4),
) {
  c.send(prefix);
  const ch = await c.line();
  const challenge = Buffer.from(cont(ch), "base64").toString();
  const digest = createHmac("md5", u.password).update(challenge).digest("hex");
  c.send(b64(`${u.login} ${digest}`));
  return c.line();
}

const FEATURES = [
  "PIPELINING",
  "SIZE",
  "8BITMIME",
  "SMTPUTF8",
  "DSN",
  "CHUNKING",
  "ENHANCEDSTATUSCODES",
];
function checkFeatures(name, r) {
  const kw = ehloKeywords(r);
  for (const f of FEATURES) {
    check(kw.includes(f), `${name}: EHLO advertises ${f}`, kw.join(","));
  }
  check(r.lines.includes("SIZE 31457280"), `${name}: SIZE 31457280`);
}

const t0 = Date.now();
let sentAt = 0;

// --- mx (10025) ----------------------------------------------------------------
{
  const c = await smtpAt(env.smtp.mx);
  const g = await c.reply();
  check(g.code === 220, "mx: greeting 220", g.text);
  let r = await c.cmd("EHLO client.test");
  checkFeatures("mx", r);
  check(ehloKeywords(r).includes("STARTTLS"), "mx: STARTTLS offered");
  check(!ehloKeywords(r).includes("AUTH"), "mx: no AUTH before TLS");
  r = await c.cmd("STARTTLS");
  check(r.code === 220, "mx: STARTTLS 220", r.text);
  await c.starttls();
  r = await c.cmd("EHLO client.test");
  check(
    !ehloKeywords(r).includes("AUTH"),
    "mx: no AUTH after TLS either",
    r.text,
  );
  check(!ehloKeywords(r).includes("STARTTLS"), "mx: no STARTTLS after TLS");
  r = await c.cmd("MAIL FROM:<sender@example.org>");
  check(r.code === 250, "mx: MAIL FROM foreign sender accepted", r.text);
  r = await c.cmd(`RCPT TO:<${env.foreignRecipient}>`);
  check(
    r.code === 554 && /^5\.7\.1 /.test(r.text) &&
      /Relay access denied/.test(r.text),
    "mx: relay to example.org denied 554 5.7.1",
    r.text,
  );
  console.log(`     -> ${r.code} ${r.text}`);
  r = await c.cmd(`RCPT TO:<${env.unknownUser}>`);
  check(
    r.code === 550 && /^5\.1\.1 /.test(r.text),
    "mx: unknown user 550 5.1.1",
    r.text,
  );
  console.log(`     -> ${r.code} ${r.text}`);
  r = await c.cmd(`RCPT TO:<${alice.address}>`);
  check(r.code === 250, "mx: RCPT alice accepted", r.text);
  r = await sendData(
    c,
    message("sender@example.org", alice.address, `smoke-${token} mx`),
  );
  check(r.code === 250, "mx: DATA accepted", r.text);
  await c.cmd("QUIT");
  c.close();
}

// --- submission (10587) -----------------------------------------------------------
{
  const c = await smtpAt(env.smtp.submission);
  await c.reply();
  let r = await c.cmd("EHLO client.test");
  checkFeatures("submission", r);
  check(ehloKeywords(r).includes("STARTTLS"), "submission: STARTTLS offered");
  check(authMechs(r).length === 0, "submission: no AUTH before TLS", r.text);
  r = await c.cmd("MAIL FROM:<alice@mail.test>");
  check(r.code === 530, "submission: MAIL before STARTTLS refused 530", r.text);
  console.log(`     -> ${r.code} ${r.text}`);
  r = await c.cmd("AUTH PLAIN " + b64(`\0${alice.login}\0${alice.password}`));
  console.log(`     AUTH before TLS -> ${r.code} ${r.text}`);
  r = await c.cmd("STARTTLS");
  await c.starttls();
  r = await c.cmd("EHLO client.test");
  check(
    authMechs(r).join(" ") === "PLAIN LOGIN CRAM-MD5",
    "submission: AUTH PLAIN LOGIN CRAM-MD5 after TLS",
    authMechs(r).join(" "),
  );
  checkFeatures("submission+tls", r);
  r = await c.cmd("MAIL FROM:<alice@mail.test>");
  const r2 = await c.cmd(`RCPT TO:<${bob.address}>`);
  check(
    r2.code >= 500,
    "submission: unauthenticated RCPT refused",
    `${r.code} / ${r2.code} ${r2.text}`,
  );
  console.log(
    `     unauth MAIL -> ${r.code} ${r.text}; RCPT -> ${r2.code} ${r2.text}`,
  );
  await c.cmd("RSET");
  r = await authPlain(c, { login: alice.login, password: "wrong" });
  check(r.code === 535, "submission: bad password 535", r.text);
  console.log(`     -> ${r.code} ${r.text}`);
  r = await authPlain(c, alice);
  check(r.code === 235, "submission: AUTH PLAIN alice 235", r.text);
  r = await c.cmd(`MAIL FROM:<${alice.address}> BODY=8BITMIME SIZE=1000`);
  check(r.code === 250, "submission: MAIL after AUTH", r.text);
  r = await c.cmd(`RCPT TO:<${alice.address}> NOTIFY=NEVER`);
  check(r.code === 250, "submission: RCPT alice (NOTIFY=NEVER)", r.text);
  r = await sendData(
    c,
    message(alice.address, alice.address, `smoke-${token} submission`),
  );
  check(r.code === 250, "submission: DATA queued", r.text);
  sentAt = Date.now();
  // foreign recipient, even when authenticated: refused at RCPT (error transport)
  r = await c.cmd(`MAIL FROM:<${alice.address}>`);
  r = await c.cmd(`RCPT TO:<${env.foreignRecipient}>`);
  check(
    r.code === 550 && /^5\.7\.1 /.test(r.text),
    "submission: foreign RCPT refused even when authenticated",
    `${r.code} ${r.text}`,
  );
  console.log(`     -> ${r.code} ${r.text}`);
  await c.cmd("RSET");
  await c.cmd("QUIT");
  c.close();
}

// --- smtps (10465): CRAM-MD5, LOGIN, BDAT, SMTPUTF8 ----------------------------
{
  const c = await smtpAt(env.smtp.smtps, true);
  const g = await c.reply();
  check(g.code === 220, "smtps: TLS greeting 220", g.text);
  let r = await c.cmd("EHLO client.test");
  checkFeatures("smtps", r);
  check(
    authMechs(r).join(" ") === "PLAIN LOGIN CRAM-MD5",
    "smtps: AUTH PLAIN LOGIN CRAM-MD5",
    authMechs(r).join(" "),
  );
  const l = await authCram(c, bob);
  check(l.startsWith("235"), "smtps: AUTH CRAM-MD5 bob", l);
  r = await c.cmd(`MAIL FROM:<jörg@exämple.org> SMTPUTF8 BODY=8BITMIME`);
  check(r.code === 250, "smtps: MAIL SMTPUTF8 with UTF-8 sender", r.text);
  r = await c.cmd(`RCPT TO:<${alice.address}>`);
  const msg = message(
    "jörg@exämple.org",
    alice.address,
    `smoke-${token} bdat utf8 Grüße ✓`,
  );
  const bytes = Buffer.from(msg, "utf8");
  c.send(`BDAT ${bytes.length} LAST`);
  c.sock.write(bytes);
  r = await c.reply();
  check(
    r.code === 250,
    "smtps: BDAT LAST accepted (UTF-8 header and sender)",
    r.text,
  );
  await c.cmd("QUIT");
  c.close();
}
{
  const c = await smtpAt(env.smtp.smtps, true);
  await c.reply();
  await c.cmd("EHLO client.test");
  c.send("AUTH LOGIN");
  let l = await c.line();
  c.send(b64(carol.login));
  l = await c.line();
  c.send(b64(carol.password));
  l = await c.line();
  check(l.startsWith("235"), "smtps: AUTH LOGIN carol", l);
  await c.cmd("QUIT");
  c.close();
}

// --- LMTP tcp + unix ------------------------------------------------------------------
for (
  const [name, opts] of [["lmtp tcp", { host: env.host, port: env.lmtp.tcp }], [
    "lmtp unix",
    { path: env.lmtp.unix },
  ]]
) {
  const c = await Conn.open(opts);
  const g = await c.reply();
  check(g.code === 220, `${name}: greeting`, g.text);
  let r = await c.cmd("LHLO client.test");
  check(r.code === 250, `${name}: LHLO`, r.lines.join(","));
  console.log(`     LHLO -> ${r.lines.slice(1).join(", ")}`);
  r = await c.cmd(`MAIL FROM:<lmtp@example.org>`);
  r = await c.cmd(`RCPT TO:<${env.unknownUser}>`);
  check(r.code === 550, `${name}: unknown user refused`, `${r.code} ${r.text}`);
  console.log(`     -> ${r.code} ${r.text}`);
  r = await c.cmd(`RCPT TO:<${carol.address}>`);
  check(r.code === 250, `${name}: RCPT carol`, r.text);
  r = await c.cmd(`RCPT TO:<${alice.address}>`);
  check(r.code === 250, `${name}: RCPT alice`, r.text);
  r = await c.cmd("DATA");
  check(r.code === 354, `${name}: DATA 354`, r.text);
  c.sock.write(
    dotStuff(
      message("lmtp@example.org", carol.address, `smoke-${token} ${name}`),
    ) + ".\r\n",
  );
  const a = await c.reply();
  const b = await c.reply();
  check(
    a.code === 250 && b.code === 250,
    `${name}: one 250 per recipient after DATA`,
    `${a.text} | ${b.text}`,
  );
  await c.cmd("QUIT");
  c.close();
}

// --- POP3 -------------------------------------------------------------------------
async function popLogin(u, how) {
  const c = how === "pop3s"
    ? await Conn.open({ host: env.host, port: env.pop3.pop3s }, true)
    : await Conn.open({ host: env.host, port: env.pop3.plain });
  const greeting = await c.pop();
  if (how === "stls" || how === "stls-cram" || how === "stls-plain") {
    const r = await c.pop("STLS");
    if (!r.startsWith("+OK")) throw new Error(`STLS: ${r}`);
    await c.starttls();
  }
  let res;
  if (how === "apop") {
    const ts = greeting.match(/<[^>]+>/)[0];
    res = await c.pop(
      `APOP ${u.login} ${
        createHash("md5").update(ts + u.password).digest("hex")
      }`,
    );
  } else if (how === "stls-cram") {
    res = await authCram(c, u, "AUTH CRAM-MD5", (x) => x.slice(2));
  } else if (how === "stls-plain") {
    res = await c.pop(`AUTH PLAIN ${b64(`\0${u.login}\0${u.password}`)}`);
  } else {
    const r = await c.pop(`USER ${u.login}`);
    res = r.startsWith("+OK") ? await c.pop(`PASS ${u.password}`) : r;
  }
  return { c, greeting, res };
}

{
  const c = await Conn.open({ host: env.host, port: env.pop3.plain });
  const g = await c.pop();
  check(
    g.startsWith("+OK") && /<[^>]+@[^>]+>/.test(g),
    "pop3: greeting with APOP timestamp",
    g,
  );
  const capa = await c.popMulti("CAPA");
  console.log(`     CAPA (plain) -> ${capa.lines.join(" | ")}`);
  check(capa.lines.includes("STLS"), "pop3: STLS in CAPA");
  await c.pop("STLS");
  await c.starttls();
  const capa2 = await c.popMulti("CAPA");
  console.log(`     CAPA (after STLS) -> ${capa2.lines.join(" | ")}`);
  await c.pop("QUIT");
  c.close();
}
{
  const { c, res } = await popLogin(alice, "plain");
  console.log(`     USER/PASS without TLS on ${env.host} -> ${res}`);
  check(
    res.startsWith("+OK") === env.pop3PlainAuthBeforeTls,
    `pop3: USER/PASS before STLS ${
      env.pop3PlainAuthBeforeTls ? "allowed" : "refused"
    } (env.pop3PlainAuthBeforeTls)`,
    res,
  );
  await c.pop("QUIT");
  c.close();
}
{
  const c = await Conn.open({
    host: env.pop3Strict.host,
    port: env.pop3Strict.plain,
  });
  const g = await c.pop();
  const capa = await c.popMulti("CAPA");
  console.log(
    `     CAPA (${env.pop3Strict.host}, no TLS) -> ${capa.lines.join(" | ")}`,
  );
  check(
    !capa.lines.includes("USER") && capa.lines.includes("SASL CRAM-MD5"),
    "pop3 strict: no USER, SASL CRAM-MD5 only before STLS",
  );
  let r = await c.pop(`USER ${alice.login}`);
  check(r.startsWith("-ERR"), "pop3 strict: USER refused before STLS", r);
  console.log(`     -> ${r}`);
  r = await c.pop(`AUTH PLAIN ${b64(`\0${alice.login}\0${alice.password}`)}`);
  check(r.startsWith("-ERR"), "pop3 strict: AUTH PLAIN refused before STLS", r);
  console.log(`     -> ${r}`);
  const ts = g.match(/<[^>]+>/)[0];
  r = await c.pop(
    `APOP ${bob.login} ${
      createHash("md5").update(ts + bob.password).digest("hex")
    }`,
  );
  console.log(`     APOP before STLS -> ${r}`);
  await c.pop("QUIT");
  c.close();
  const c2 = await Conn.open({
    host: env.pop3Strict.host,
    port: env.pop3Strict.plain,
  });
  await c2.pop();
  await c2.pop("STLS");
  await c2.starttls();
  const capa2 = await c2.popMulti("CAPA");
  check(
    capa2.lines.includes("USER") &&
      capa2.lines.includes("SASL PLAIN LOGIN CRAM-MD5"),
    "pop3 strict: USER + SASL PLAIN LOGIN CRAM-MD5 after STLS",
    capa2.lines.join(" | "),
  );
  r = await c2.pop(`USER ${alice.login}`);
  r = await c2.pop(`PASS ${alice.password}`);
  check(r.startsWith("+OK"), "pop3 strict: USER/PASS after STLS", r);
  await c2.pop("QUIT");
  c2.close();
}
{
  const { c, res } = await popLogin(bob, "apop");
  check(res.startsWith("+OK"), "pop3: APOP bob", res);
  await c.pop("QUIT");
  c.close();
}
{
  const { c, res } = await popLogin(carol, "stls-cram");
  check(res.startsWith("+OK"), "pop3: STLS + AUTH CRAM-MD5 carol", res);
  await c.pop("QUIT");
  c.close();
}
{
  const { c, res } = await popLogin(
    { login: alice.login, password: "nope" },
    "stls",
  );
  check(res.startsWith("-ERR"), "pop3: wrong password -ERR", res);
  console.log(`     -> ${res}`);
  c.close();
}

// wait for delivery (via Postfix -> LMTP) and read back, then delete our messages
async function collect(u, how, expectSubjects, deadlineMs) {
  const start = Date.now();
  for (;;) {
    const { c, res } = await popLogin(u, how);
    if (!res.startsWith("+OK")) throw new Error(`${u.login} login: ${res}`);
    const list = await c.popMulti("UIDL");
    const found = new Map();
    for (const entry of list.lines) {
      const [n, uidl] = entry.split(" ");
      const top = await c.popMulti(`TOP ${n} 0`);
      const subj = top.lines.find((l) => /^Subject: /i.test(l)) ?? "";
      const hit = expectSubjects.find((s) => subj.includes(s));
      if (hit || subj.includes(`smoke-${token}`)) {
        found.set(hit ?? subj, { n, uidl, headers: top.lines });
      }
    }
    const missing = expectSubjects.filter((s) => !found.has(s));
    if (missing.length === 0 || Date.now() - start > deadlineMs) {
      return { c, found, missing, ms: Date.now() - start };
    }
    await c.pop("QUIT");
    c.close();
    await new Promise((r) => setTimeout(r, 100));
  }
}

{
  // delivery latency: submission 250 -> visible over POP3
  const { c, missing } = await collect(alice, "stls", [
    `smoke-${token} submission`,
  ], 15000);
  check(
    missing.length === 0,
    `delivery: submission -> LMTP -> POP3 visible ${
      Date.now() - sentAt
    } ms after DATA 250`,
  );
  await c.pop("QUIT");
  c.close();
}
{
  const want = [
    `smoke-${token} mx`,
    `smoke-${token} submission`,
    `smoke-${token} bdat`,
    `smoke-${token} lmtp tcp`,
    `smoke-${token} lmtp unix`,
  ];
  const { c, found, missing } = await collect(alice, "stls", want, 15000);
  check(
    missing.length === 0,
    `pop3: alice received all test messages`,
    `missing ${missing}`,
  );
  const sub = found.get(`smoke-${token} submission`);
  if (sub) {
    check(
      /^[0-9a-f]{16}$/.test(sub.uidl),
      "pop3: UIDL format %08Xu%08Xv (16 lowercase hex)",
      sub.uidl,
    );
    const full = await c.popMulti(`RETR ${sub.n}`);
    check(
      full.lines.includes(".leading dot line"),
      "pop3: RETR un-stuffs leading dot",
    );
    const head = full.lines.slice(0, full.lines.indexOf("")).filter((h) =>
      !/^[ \t]/.test(h)
    );
    console.log(
      `     delivered header fields: ${
        head.map((h) => h.split(":")[0]).join(", ")
      }`,
    );
  }
  const utf = found.get(`smoke-${token} bdat`);
  if (utf) {
    console.log(
      `     UTF-8 subject arrived as: ${
        utf.headers.find((h) => /^Subject/.test(h))
      }`,
    );
  }
  for (const { n } of found.values()) await c.pop(`DELE ${n}`);
  const q = await c.pop("QUIT");
  check(q.startsWith("+OK"), "pop3: QUIT commits deletes", q);
  const after = await popLogin(alice, "stls");
  const left = await after.c.popMulti("UIDL");
  const gone = new Set([...found.values()].map((f) => f.uidl));
  check(
    !left.lines.some((l) => gone.has(l.split(" ")[1])),
    "pop3: deleted messages gone",
  );
  await after.c.pop("QUIT");
  after.c.close();
  c.close();
}
for (const [u, how] of [[carol, "pop3s"]]) {
  const want = [`smoke-${token} lmtp tcp`, `smoke-${token} lmtp unix`];
  const { c, missing } = await collect(u, how, want, 5000);
  check(
    missing.length === 0,
    "pop3s: carol received LMTP messages",
    `missing ${missing}`,
  );
  const list = await c.popMulti("UIDL");
  for (const entry of list.lines) {
    const n = entry.split(" ")[0];
    const top = await c.popMulti(`TOP ${n} 0`);
    if (top.lines.some((l) => l.includes(`smoke-${token}`))) {
      await c.pop(`DELE ${n}`);
    }
  }
  await c.pop("QUIT");
  c.close();
}

console.log(
  `${failures === 0 ? "PASS" : `FAILED (${failures})`} in ${
    Date.now() - t0
  } ms`,
);
process.exit(failures === 0 ? 0 : 1);
