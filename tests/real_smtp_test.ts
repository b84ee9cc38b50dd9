/**
 * SMTP and LMTP against the real Postfix and Dovecot from tests/servers/.
 * Runs unchanged on Deno and Bun. Delivered bytes are read back from the
 * Maildir (Dovecot stores LF line ends; compared after normalising).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LmtpClient,
  SmtpAuthenticationError,
  SmtpClient,
  type SmtpClientOptions,
  SmtpNotSupportedError,
  SmtpRecipientsRefusedError,
} from "../smtp/mod.ts";
import { AuthError } from "../auth/mod.ts";
import { TlsError } from "../tls/mod.ts";
import type { LogEntry } from "../io/log.ts";
import { fixture } from "./fakes/scripted.ts";
import {
  endsWith,
  realCa,
  realEnv,
  token,
  waitForDelivery,
} from "./real/env.ts";

const env = realEnv();
const ca = realCa(env);
const [alice, bob, carol] = env.users;
const enc = new TextEncoder();
const dec = new TextDecoder();

function submission(extra: Partial<SmtpClientOptions> = {}): SmtpClientOptions {
  return {
    hostname: env.host,
    port: env.smtp.submission,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 15_000,
    auth: { username: alice.login, password: alice.password },
    ...extra,
  };
}

function message(id: string, body = "Hello from mailwire.\r\n"): string {
  return `From: Alice <${alice.address}>\r\nTo: Bob <${bob.address}>\r\n` +
    `Subject: ${id}\r\n${stamp(id)}\r\n${body}`;
}

/** Date and Message-ID, so Postfix adds no header of its own to the block. */
function stamp(id: string): string {
  return `Date: ${new Date().toUTCString().replace("GMT", "+0000")}\r\n` +
    `Message-ID: <${id}@mail.test>\r\n`;
}

/** Maildir copy (LF) must end with what we sent (CRLF), normalised. */
function assertDelivered(delivered: Uint8Array, sent: string) {
  const lf = sent.replace(/\r\n/g, "\n");
  assert.ok(
    endsWith(delivered, enc.encode(lf)),
    `delivered message ends with the sent bytes\n--- got tail:\n${
      dec.decode(delivered.subarray(Math.max(0, delivered.length - 300)))
    }`,
  );
}

test("mx: EHLO advertises the extensions mailwire uses", async () => {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.mx,
    tls: "none",
    timeout: 10_000,
  });
  for (
    const ext of [
      "PIPELINING",
      "SIZE",
      "8BITMIME",
      "SMTPUTF8",
      "DSN",
      "CHUNKING",
      "ENHANCEDSTATUSCODES",
      "STARTTLS",
    ]
  ) assert.ok(c.hasExtension(ext), ext);
  assert.equal(c.features.get("SIZE"), String(env.maxMessageSize));
  assert.equal(c.secure, false);
  assert.equal((await c.noop()).code, 250);
});

test("mx: STARTTLS with the test CA, then EHLO again", async () => {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.mx,
    caCerts: [ca],
    servername: env.servername,
    timeout: 10_000,
  });
  assert.equal(c.secure, true);
  assert.equal(c.hasExtension("STARTTLS"), false, "features re-read after tls");
  assert.ok(c.hasExtension("PIPELINING"));
});

test("untrusted certificate: no CA given → TlsError (verification on by default)", async () => {
  await assert.rejects(
    SmtpClient.connect({
      hostname: env.host,
      port: env.smtp.mx,
      servername: env.servername,
      timeout: 10_000,
    }),
    TlsError,
  );
});

test("certificate for another name → TlsError", async () => {
  await assert.rejects(
    SmtpClient.connect({
      hostname: env.host,
      port: env.smtp.mx,
      caCerts: [ca],
      servername: "wrong.test",
      timeout: 10_000,
    }),
    TlsError,
  );
});

test("a CA that did not sign the server's certificate → TlsError", async () => {
  await assert.rejects(
    SmtpClient.connect({
      hostname: env.host,
      port: env.smtp.smtps,
      tls: "implicit",
      caCerts: [fixture("other-ca.pem")],
      servername: env.servername,
      timeout: 10_000,
    }),
    TlsError,
  );
});

test("submission in clear: the client refuses before asking (AuthError); allowed, Postfix offers no AUTH", async () => {
  // The client's own refusal (TLS before AUTH), whatever the server offers:
  // against a fake that does offer AUTH in clear it is the catalogue's case
  // "AUTH offered in clear, allowInsecureAuth off" (tests/hostile/).
  const log: LogEntry[] = [];
  const refused = await SmtpClient.connect(
    submission({ tls: "none", logger: (e) => log.push(e) }),
  ).then(() => null, (e) => e);
  assert.ok(refused instanceof AuthError, String(refused));
  assert.equal(refused.phase, "auth");
  assert.match(refused.message, /without tls/);
  // Postfix's side (smtpd_tls_auth_only): no AUTH before TLS at all.
  const offered = await SmtpClient.connect(
    submission({
      tls: "none",
      allowInsecureAuth: true,
      logger: (e) => log.push(e),
    }),
  ).then(() => null, (e) => e);
  assert.ok(offered instanceof SmtpNotSupportedError, String(offered));
  assert.match(offered.message, /does not offer auth/);
  assert.ok(
    !log.some((e) => e.direction === "client" && e.text.startsWith("AUTH")),
    "no AUTH command ever sent",
  );
  assert.ok(!log.some((e) => e.text.includes(alice.password)));
});

for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5"]) {
  test(`submission: STARTTLS + AUTH ${mechanism}, send, delivered byte-identical`, async () => {
    const id = token(`auth-${mechanism.toLowerCase()}`);
    const log: LogEntry[] = [];
    await using c = await SmtpClient.connect(
      submission({
        auth: { username: alice.login, password: alice.password, mechanism },
        logger: (e) => log.push(e),
      }),
    );
    assert.equal(c.authenticated, true);
    const sent = message(id);
    const result = await c.sendMail({
      from: alice.address,
      to: [bob.address],
      data: sent,
    });
    assert.equal(result.reply.code, 250);
    assert.deepEqual(result.accepted, [bob.address]);
    assert.equal(result.refused.size, 0);
    assertDelivered(await waitForDelivery(bob, id), sent);
    const text = log.map((e) => e.text).join("\n");
    assert.ok(!text.includes(alice.password), "password not in transcript");
    assert.ok(text.includes(`AUTH ${mechanism}`), "mechanism visible");
  });
}

test("submission: the strongest offered mechanism is chosen by default (CRAM-MD5)", async () => {
  const log: LogEntry[] = [];
  await using _c = await SmtpClient.connect(
    submission({ logger: (e) => log.push(e) }),
  );
  assert.ok(log.some((e) => e.text.startsWith("AUTH CRAM-MD5")));
});

test("submission: wrong password → SmtpAuthenticationError 535, nothing else tried", async () => {
  const log: LogEntry[] = [];
  const err = await SmtpClient.connect(
    submission({
      auth: { username: alice.login, password: "wrong-password" },
      logger: (e) => log.push(e),
    }),
  ).then(() => null, (e) => e);
  assert.ok(err instanceof SmtpAuthenticationError, String(err));
  assert.equal(err.code, 535);
  assert.equal(err.permanent, true);
  assert.equal(
    log.filter((e) => e.direction === "client" && e.text.startsWith("AUTH"))
      .length,
    1,
  );
});

test("smtps: implicit TLS + AUTH PLAIN + send", async () => {
  const id = token("smtps");
  await using c = await SmtpClient.connect(
    submission({ port: env.smtp.smtps, tls: "implicit" }),
  );
  assert.equal(c.secure, true);
  const sent = message(id);
  await c.sendMail({ from: alice.address, to: bob.address, data: sent });
  assertDelivered(await waitForDelivery(bob, id), sent);
});

test("mx: relay to a foreign domain is refused → SmtpRecipientsRefusedError (5.7.1)", async () => {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.mx,
    caCerts: [ca],
    servername: env.servername,
    timeout: 10_000,
  });
  const err = await c.sendMail({
    from: alice.address,
    to: [env.foreignRecipient],
    data: message(token("relay")),
  }).then(() => null, (e) => e);
  assert.ok(err instanceof SmtpRecipientsRefusedError, String(err));
  const reply = err.recipients.get(env.foreignRecipient);
  assert.equal(reply?.code, 554);
  assert.equal(reply?.enhancedCode, "5.7.1");
  // the connection stays usable after the refusal (RSET was sent)
  assert.equal((await c.noop()).code, 250);
});

test("partial recipients: the unknown one is reported, the others get the message", async () => {
  const id = token("partial");
  await using c = await SmtpClient.connect(submission());
  const sent = message(id);
  const result = await c.sendMail({
    from: alice.address,
    to: [bob.address, env.unknownUser, carol.address],
    data: sent,
  });
  assert.deepEqual(result.accepted, [bob.address, carol.address]);
  assert.deepEqual([...result.refused.keys()], [env.unknownUser]);
  assert.equal(result.refused.get(env.unknownUser)?.code, 550);
  assert.equal(result.refused.get(env.unknownUser)?.enhancedCode, "5.1.1");
  assertDelivered(await waitForDelivery(bob, id), sent);
  assertDelivered(await waitForDelivery(carol, id), sent);
});

test("SMTPUTF8 + 8-bit: non-ASCII sender and UTF-8 body delivered intact", async () => {
  const id = token("utf8");
  const log: LogEntry[] = [];
  await using c = await SmtpClient.connect(
    submission({ logger: (e) => log.push(e) }),
  );
  const sent =
    `From: Jörg <jörg@mail.test>\r\nTo: ${bob.address}\r\nSubject: ${id} grüße\r\n${
      stamp(id)
    }` +
    `Content-Type: text/plain; charset=utf-8\r\n\r\nÄpfel, Öl, Übermut — 日本語 ✓\r\n`;
  await c.sendMail({ from: "jörg@mail.test", to: bob.address, data: sent });
  const mail = log.find((e) => e.text.startsWith("MAIL FROM:"))!.text;
  assert.match(mail, /SMTPUTF8/);
  assert.match(mail, /BODY=8BITMIME/);
  assertDelivered(await waitForDelivery(bob, id), sent);
});

test("sendMessage: envelope from headers, Bcc stripped from the delivered copy", async () => {
  const id = token("bcc");
  await using c = await SmtpClient.connect(submission());
  const msg =
    `From: ${alice.address}\r\nTo: ${bob.address}\r\nBcc: ${carol.address}\r\n` +
    `Subject: ${id}\r\n${stamp(id)}\r\nsecret copy\r\n`;
  const result = await c.sendMessage(msg);
  assert.deepEqual(result.accepted, [bob.address, carol.address]);
  for (const user of [bob, carol]) {
    const got = dec.decode(await waitForDelivery(user, id));
    assert.ok(!/^Bcc:/mi.test(got), "no Bcc header delivered");
    assert.ok(got.endsWith(`@mail.test>\n\nsecret copy\n`));
  }
});

test("DSN: RET, ENVID, NOTIFY and ORCPT are accepted by Postfix", async () => {
  const id = token("dsn");
  const log: LogEntry[] = [];
  await using c = await SmtpClient.connect(
    submission({ logger: (e) => log.push(e) }),
  );
  const sent = message(id);
  const result = await c.sendMail({
    from: alice.address,
    to: [{
      address: bob.address,
      notify: ["SUCCESS", "FAILURE"],
      orcpt: bob.address,
    }],
    data: sent,
    mailOptions: { ret: "HDRS", envid: `${id} x+y` },
  });
  assert.equal(result.reply.code, 250);
  const lines = log.filter((e) => e.direction === "client").map((e) => e.text);
  assert.ok(
    lines.some((l) =>
      l.includes("RET=HDRS") && l.includes("ENVID=") && l.includes("+20")
    ),
  );
  assert.ok(
    lines.some((l) =>
      l.includes("NOTIFY=SUCCESS,FAILURE") && l.includes("ORCPT=rfc822;")
    ),
  );
  assertDelivered(await waitForDelivery(bob, id), sent);
});

test("hard bodies: dot lines, a lone dot, long lines, bare LF; DATA and BDAT both", async () => {
  for (const chunking of [false, true]) {
    const id = token(chunking ? "bdat" : "data");
    await using c = await SmtpClient.connect(submission({ chunking }));
    const long = "x".repeat(5000);
    const body =
      `.leading dot\r\n..two dots\r\n.\r\n${long}\r\nbare\nLF\r\nend`;
    // Built once: the Date header would differ across a second boundary.
    const sent = message(id, body);
    const result = await c.sendMail({
      from: alice.address,
      to: bob.address,
      data: sent,
    });
    assert.equal(result.reply.code, 250);
    const expected = sent.replace(/\r?\n/g, "\r\n") + "\r\n";
    assertDelivered(await waitForDelivery(bob, id), expected);
  }
});

test("a streamed 10 MiB message over DATA is delivered intact, byte for byte", async () => {
  const id = token("stream");
  const log: LogEntry[] = [];
  // DATA, not BDAT (a stream goes over BDAT chunks when CHUNKING is
  // offered): Postfix must undo the dot-stuffing of every chunk boundary.
  await using c = await SmtpClient.connect(
    submission({
      timeout: 60_000,
      chunking: false,
      logger: (e) => log.push(e),
    }),
  );
  const headText = message(id, ""); // once: its Date header is the time
  const head = enc.encode(headText);
  // Every 7th line starts with a dot (stuffed on the way, unstuffed by
  // Postfix); chunks are cut inside a CRLF and right after a line end.
  const plain = enc.encode(
    "0123456789abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n",
  );
  const dotted = enc.encode(
    ".0123456789abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXY\r\n",
  );
  const per = 1001; // lines per pulled chunk: not a multiple of 7
  const lines = Math.ceil((10 << 20) / plain.length);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(head);
      const batch = Math.min(per, lines - sent);
      const chunk = new Uint8Array(batch * plain.length);
      for (let i = 0; i < batch; i++) {
        chunk.set((sent + i) % 7 === 0 ? dotted : plain, i * plain.length);
      }
      // split at awkward places: inside a CRLF, and just before a dot line
      const cut = chunk.length - 1;
      controller.enqueue(chunk.subarray(0, plain.length));
      controller.enqueue(chunk.subarray(plain.length, cut));
      controller.enqueue(chunk.subarray(cut));
      sent += batch;
      if (sent >= lines) controller.close();
    },
  }, { highWaterMark: 0 });
  const result = await c.sendMail({
    from: alice.address,
    to: bob.address,
    data: stream,
  });
  assert.equal(result.reply.code, 250);
  const commands = log.filter((e) => e.direction === "client").map((e) =>
    e.text
  );
  assert.ok(
    commands.includes("DATA") && !commands.some((l) => l.startsWith("BDAT")),
    "a stream goes over DATA",
  );
  // What Maildir must hold at its end: the same lines, LF-terminated.
  const lf = (b: Uint8Array) => {
    const out = b.slice(0, b.length - 1);
    out[out.length - 1] = 0x0a;
    return out;
  };
  const plainLf = lf(plain);
  const dottedLf = lf(dotted);
  const headLf = enc.encode(headText.replace(/\r\n/g, "\n"));
  const expected = new Uint8Array(headLf.length + lines * plainLf.length);
  expected.set(headLf, 0);
  for (let i = 0; i < lines; i++) {
    expected.set(
      i % 7 === 0 ? dottedLf : plainLf,
      headLf.length + i * plainLf.length,
    );
  }
  const got = await waitForDelivery(bob, id, 30_000);
  assert.ok(got.length >= expected.length, `${got.length} bytes delivered`);
  assert.ok(
    endsWith(got, expected),
    "the delivered message ends with exactly the sent bytes",
  );
});

test("a message above the advertised SIZE is refused before sending", async () => {
  await using c = await SmtpClient.connect(submission());
  const big = new Uint8Array(env.maxMessageSize + 1).fill(0x61);
  await assert.rejects(
    c.sendMail({ from: alice.address, to: bob.address, data: big }),
    SmtpNotSupportedError,
  );
  assert.equal((await c.noop()).code, 250);
});

for (const via of ["tcp", "unix"] as const) {
  test(`LMTP over ${via}: one reply per recipient, unknown user refused`, async () => {
    const id = token(`lmtp-${via}`);
    await using c = await LmtpClient.connect(
      via === "tcp"
        ? { hostname: env.host, port: env.lmtp.tcp, timeout: 10_000 }
        : { path: env.lmtp.unix, timeout: 10_000 },
    );
    const sent = message(id);
    const result = await c.sendMail({
      from: alice.address,
      to: [alice.address, bob.address, env.unknownUser],
      data: sent,
    });
    assert.deepEqual(result.accepted, [alice.address, bob.address]);
    assert.equal(result.deliveries?.size, 2);
    for (const r of result.deliveries!.values()) assert.equal(r.code, 250);
    assert.ok(result.refused.has(env.unknownUser));
    assertDelivered(await waitForDelivery(alice, id), sent);
    assertDelivered(await waitForDelivery(bob, id), sent);
  });
}
