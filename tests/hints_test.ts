/**
 * Errors a user on the wrong port or with the wrong client gets: bounded by
 * connectTimeout, naming the server and the phase, with the hint that is
 * certain.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, TimeoutError, TlsError } from "../errors.ts";
import { SmtpClient } from "../smtp/client.ts";
import { SmtpNotSupportedError } from "../smtp/errors.ts";
import { Pop3Client } from "../pop3/client.ts";
import { fakeServer } from "./fakes/scripted.ts";
import { timed } from "./fakes/timing.ts";
import { smtpFake } from "./fakes/smtp_fake.ts";

test("starttls mode against an implicit-TLS port: TimeoutError within connectTimeout, with the hint", async () => {
  // An implicit-TLS server waits silently for the ClientHello.
  await using server = await fakeServer(async (peer) => {
    await peer.waitClosed(10_000);
  }, { implicitTls: true });
  for (
    const [make, port] of [
      [
        (p: number) =>
          SmtpClient.connect({
            hostname: "127.0.0.1",
            port: p,
            connectTimeout: 700,
          }),
        "465",
      ],
      [
        (p: number) =>
          Pop3Client.connect({
            hostname: "127.0.0.1",
            port: p,
            connectTimeout: 700,
          }),
        "995",
      ],
    ] as const
  ) {
    const { err, ms } = await timed(make(server.port));
    assert.ok(err instanceof TimeoutError, `${err}`);
    assert.ok(ms >= 650 && ms < 2000, `${ms} ms`);
    assert.equal(err.phase, "greeting");
    assert.equal(err.server, `127.0.0.1:${server.port}`);
    assert.match(
      err.message,
      new RegExp(
        `the server sent no greeting; if this port expects implicit tls \\(like ${port}\\), set tls: "implicit"`,
      ),
    );
    assert.match(err.message, /127\.0\.0\.1:\d+, greeting\)$/);
  }
});

test("implicit TLS against a clear-text port: TlsError, reason not-tls, with the hint", async () => {
  await using fake = await smtpFake();
  const { err } = await timed(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      tls: "implicit",
      connectTimeout: 3000,
    }),
  );
  assert.ok(err instanceof TlsError, `${err}`);
  assert.equal(err.reason, "not-tls");
  assert.match(err.message, /starttls/);
  assert.equal(err.phase, "connect");
});

test("an untrusted certificate: TlsError, reason untrusted, naming caCerts", async () => {
  await using fake = await smtpFake({ features: ["STARTTLS"] });
  const { err } = await timed(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      servername: "localhost",
    }),
  );
  assert.ok(err instanceof TlsError, `${err}`);
  assert.equal(err.reason, "untrusted");
  assert.match(err.message, /caCerts/);
  assert.equal(err.phase, "tls");
});

test("a POP3 server on the SMTP client and the reverse: ProtocolError naming the right client", async () => {
  await using pop = await fakeServer(async (peer) => {
    await peer.write("+OK POP3 ready\r\n");
    await peer.waitClosed(5000);
  });
  const a = await timed(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: pop.port,
      tls: "none",
      connectTimeout: 2000,
    }),
  );
  assert.ok(a.err instanceof ProtocolError, `${a.err}`);
  assert.match(a.err.message, /this is a pop3 server; use Pop3Client/);
  await using smtp = await fakeServer(async (peer) => {
    await peer.write("220 smtp ready ESMTP\r\n");
    await peer.waitClosed(5000);
  });
  const b = await timed(
    Pop3Client.connect({
      hostname: "127.0.0.1",
      port: smtp.port,
      tls: "none",
      connectTimeout: 2000,
    }),
  );
  assert.ok(b.err instanceof ProtocolError, `${b.err}`);
  assert.match(b.err.message, /this is an smtp server; use SmtpClient/);
});

test("no STARTTLS in starttls mode: SmtpNotSupportedError naming the ways out, nothing sent in clear", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING", "AUTH PLAIN"] });
  const { err } = await timed(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      auth: { username: "me", password: "secret" },
    }),
  );
  assert.ok(err instanceof SmtpNotSupportedError, `${err}`);
  assert.match(err.message, /refusing to continue without tls/);
  assert.match(err.message, /tls: "implicit"/);
  assert.deepEqual(fake.commands, ["EHLO localhost"]);
});

test("connect() is bounded as a whole: three steps each 0.4 s late exceed a 1 s connectTimeout", async () => {
  const late = () => new Promise((r) => setTimeout(r, 400));
  await using server = await fakeServer(async (peer) => {
    await late();
    await peer.write("220 slow\r\n");
    for (;;) {
      const line = await peer.readLine(5000);
      if (line === null) return;
      await late();
      if (line.startsWith("EHLO")) {
        await peer.write("250-slow\r\n250 AUTH PLAIN\r\n");
      } else if (line.startsWith("AUTH")) await peer.write("235 ok\r\n");
      else await peer.write("250 ok\r\n");
    }
  });
  const { err, ms } = await timed(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: server.port,
      tls: "none",
      allowInsecureAuth: true,
      auth: { username: "me", password: "secret" },
      connectTimeout: 1000,
      timeout: 1000,
    }),
  );
  assert.ok(err instanceof TimeoutError, `${err}`);
  assert.ok(ms >= 950 && ms < 1600, `${ms} ms`);
  // Greeting and EHLO fit (0.8 s); the budget ends during AUTH.
  assert.equal(err.phase, "auth");
});
