/**
 * The SMTP client against hostile servers and input, where a case is more
 * than one failing call (the table of single failures is the catalogue,
 * tests/hostile/*_cases.ts): upgrades that must succeed, capabilities that
 * change after TLS, every argument with every unsafe character, aborts
 * whose call signal meets an explicit EHLO. Each checks the typed error, a
 * time bound and the exact bytes the server got.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SmtpClient } from "../../smtp/client.ts";
import { SmtpNotSupportedError } from "../../smtp/errors.ts";
import { AbortedError, InvalidInputError, TlsError } from "../../errors.ts";
import { fixture } from "../fakes/scripted.ts";
import {
  failure,
  fakeClientOptions,
  sleep,
  smtpFake,
  withFakeClient,
} from "../fakes/smtp_fake.ts";
import { test } from "../fakes/test.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const MSG = "Subject: hi\r\n\r\nHello\r\n";

function bounded(ms: number, max: number, min = 0): void {
  assert.ok(ms <= max, `took ${Math.round(ms)} ms, bound ${max} ms`);
  assert.ok(ms >= min, `took ${Math.round(ms)} ms, expected at least ${min}`);
}

const BAD = ["\r", "\n", "\0"];

test("hostile: opportunistic with STARTTLS upgrades", async () => {
  await withFakeClient(
    { features: ["STARTTLS", "AUTH PLAIN"] },
    {
      tls: "opportunistic",
      allowInsecureAuth: false,
      caCerts: [fixture("ca.pem")],
    },
    async (client, fake) => {
      assert.equal(client.secure, true);
      await client.login("tim", "secret");
      assert.deepEqual(fake.commands, [
        "EHLO localhost",
        "STARTTLS",
        "EHLO localhost",
        `AUTH PLAIN ${b64("\0tim\0secret")}`,
      ]);
    },
  );
});

test("hostile: a different capability list after TLS is the one used (features before TLS forgotten)", async () => {
  await withFakeClient({
    features: ["STARTTLS", "PIPELINING", "AUTH LOGIN", "SIZE 1000000", "DSN"],
    featuresAfterTls: ["AUTH PLAIN", "SIZE 200"],
  }, {
    tls: "starttls",
    caCerts: [fixture("ca.pem")],
    allowInsecureAuth: false,
  }, async (client, fake, peer) => {
    assert.equal(client.secure, true);
    assert.deepEqual(fake.commands, [
      "EHLO localhost",
      "STARTTLS",
      "EHLO localhost",
    ]);
    assert.ok(!client.hasExtension("PIPELINING"));
    assert.ok(!client.hasExtension("STARTTLS"));
    assert.ok(!client.hasExtension("DSN"));
    assert.equal(client.features.get("AUTH"), "PLAIN");
    await client.login("tim", "secret");
    assert.equal(fake.commands[3], `AUTH PLAIN ${b64("\0tim\0secret")}`);
    // SIZE 200 now applies.
    await failure(
      client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: "x".repeat(300),
      }),
      SmtpNotSupportedError,
    );
    // DSN is gone.
    await failure(
      client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        mailOptions: { ret: "HDRS" },
      }),
      SmtpNotSupportedError,
    );
    // No PIPELINING any more: one command per write.
    await client.sendMail({ from: "a@x.test", to: ["b@x.test"], data: MSG });
    const chunks = peer.chunks.map(String);
    assert.ok(chunks.includes(`MAIL FROM:<a@x.test> SIZE=${MSG.length}\r\n`));
    assert.ok(chunks.includes("RCPT TO:<b@x.test>\r\n"));
    assert.ok(chunks.includes("DATA\r\n"));
  });
});

test("hostile input: CR/LF/NUL in any argument → InvalidInputError with zero bytes sent", async () => {
  const calls: Array<
    [string, (c: SmtpClient, bad: string) => Promise<unknown>]
  > = [
    [
      "from",
      (c, x) => c.sendMail({ from: `a${x}@x.test`, to: "b@x.test", data: MSG }),
    ],
    [
      "to",
      (c, x) => c.sendMail({ from: "a@x.test", to: `b@x.test${x}`, data: MSG }),
    ],
    [
      "second to",
      (c, x) =>
        c.sendMail({
          from: "a@x.test",
          to: ["b@x.test", `${x}c@x.test`],
          data: MSG,
        }),
    ],
    ["mail params", (c, x) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        mailOptions: { params: [`X=1${x}RCPT TO:<evil@x.test>`] },
      })],
    ["rcpt params", (c, x) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        rcptOptions: { params: [`X=1${x}`] },
      })],
    ["per-recipient params", (c, x) =>
      c.sendMail({
        from: "a@x.test",
        to: { address: "b@x.test", params: [`${x}`] },
        data: MSG,
      })],
    [
      "sendMessage from",
      (c, x) =>
        c.sendMessage("From: a@x.test\r\nTo: b@x.test\r\n\r\nx", {
          from: `a${x}@x.test`,
        }),
    ],
    [
      "sendMessage to",
      (c, x) =>
        c.sendMessage("From: a@x.test\r\n\r\nx", { to: [`b${x}@x.test`] }),
    ],
    ["mail()", (c, x) => c.mail(`a@x.test${x}`)],
    ["rcpt()", (c, x) => c.rcpt(`b@x.test${x}`)],
    ["username", (c, x) => c.login(`tim${x}`, "secret")],
    ["password", (c, x) => c.login("tim", `sec${x}ret`)],
    ["token", (c, x) => c.loginWithToken("tim", `tok${x}en`)],
    ["command", (c, x) => c.command(`NOOP${x}QUIT`)],
    ["verify", (c, x) => c.verify(`a${x}`)],
    ["expn", (c, x) => c.expn(`l${x}`)],
    ["help", (c, x) => c.help(`h${x}`)],
    ["ehlo name", (c, x) => c.ehlo(`me${x}`)],
    ["helo name", (c, x) => c.helo(`me${x}`)],
  ];
  for (const [what, call] of calls) {
    await withFakeClient(
      { features: ["PIPELINING", "AUTH PLAIN XOAUTH2"] },
      {},
      async (client, _fake, peer) => {
        for (const bad of BAD) {
          const before = peer.received.length;
          const { ms } = await failure(call(client, bad), InvalidInputError);
          bounded(ms, 200);
          await sleep(5);
          assert.equal(
            peer.received.length,
            before,
            `${what} ${JSON.stringify(bad)}: sent ${JSON.stringify(peer.text)}`,
          );
          assert.equal(client.connected, true);
        }
      },
    );
  }
  assert.throws(
    () => new SmtpClient({ localName: "me\r\nMAIL FROM:<x>" }),
    InvalidInputError,
  );
});

test("hostile input: '<', '>' and unquoted spaces in addresses are rejected; quoted spaces are fine", async () => {
  await withFakeClient({}, {}, async (client, fake, peer) => {
    for (
      const bad of [
        "a@x.test> NOTIFY=NEVER",
        "<a@x.test",
        "a b@x.test",
        "a@x.test ORCPT=x",
        " a@x.test",
        "a\t@x.test",
      ]
    ) {
      const before = peer.received.length;
      await failure(
        client.sendMail({ from: bad, to: "b@x.test", data: MSG }),
        InvalidInputError,
      );
      await failure(
        client.sendMail({ from: "a@x.test", to: bad, data: MSG }),
        InvalidInputError,
      );
      await failure(client.mail(bad), InvalidInputError);
      await failure(client.rcpt(bad), InvalidInputError);
      assert.equal(peer.received.length, before, bad);
    }
    await failure(
      client.sendMail({ from: "a@x.test", to: "", data: MSG }),
      InvalidInputError,
    );
    await client.sendMail({
      from: '"a b"@x.test',
      to: '"c d"@x.test',
      data: MSG,
    });
    assert.deepEqual(fake.commands.filter((c) => /^(MAIL|RCPT)/.test(c)), [
      'MAIL FROM:<"a b"@x.test>',
      'RCPT TO:<"c d"@x.test>',
    ]);
  });
});

test("hostile input: non-ASCII recipient with SMTPUTF8 → MAIL FROM:<..> SMTPUTF8", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "SMTPUTF8"] },
    {},
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: "ü@bücher.test",
        data: MSG,
      });
      assert.deepEqual(fake.commands.slice(1, 3), [
        "MAIL FROM:<a@x.test> SMTPUTF8",
        "RCPT TO:<ü@bücher.test>",
      ]);
      const peer = await fake.peer();
      assert.ok(
        peer.received.includes(Buffer.from("RCPT TO:<ü@bücher.test>\r\n")),
      );
    },
  );
});

test("hostile input: a message bigger than SIZE → SmtpNotSupportedError before MAIL", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "SIZE 1000000"] },
    {},
    async (client, fake) => {
      const big = new Uint8Array(1_500_000).fill(0x61);
      const { ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: big }),
        SmtpNotSupportedError,
      );
      bounded(ms, 1000);
      // A declared 1 GiB (e.g. a stream) too.
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
          mailOptions: { size: 2 ** 30 },
        }),
        SmtpNotSupportedError,
      );
      assert.deepEqual(fake.commands, ["EHLO localhost"]);
      // Within the limit it goes, with SIZE=.
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
      assert.match(fake.commands[1], /^MAIL FROM:<a@x\.test> SIZE=\d+$/);
    },
  );
});

test("hostile: implicit TLS with an untrusted certificate → TlsError; with the right CA it works", async () => {
  const bad = await smtpFake({ implicitTls: true, cert: "untrusted" });
  try {
    await failure(
      SmtpClient.connect(fakeClientOptions(bad, {
        tls: "implicit",
        caCerts: [fixture("ca.pem")],
      })),
      TlsError,
    );
    assert.deepEqual(bad.commands, []);
  } finally {
    await bad.close();
  }
  const good = await smtpFake({ implicitTls: true, features: ["AUTH PLAIN"] });
  try {
    const client = await SmtpClient.connect(fakeClientOptions(good, {
      tls: "implicit",
      caCerts: [fixture("ca.pem")],
      allowInsecureAuth: false,
      auth: { username: "tim", password: "secret" },
    }));
    try {
      assert.equal(client.secure, true);
      assert.equal(client.authenticated, true);
      assert.deepEqual(good.commands, [
        "EHLO localhost",
        `AUTH PLAIN ${b64("\0tim\0secret")}`,
      ]);
    } finally {
      await client.quit();
    }
  } finally {
    await good.close();
  }
});

test("abort: an already-aborted signal sends nothing", async () => {
  await withFakeClient({}, {}, async (client, _fake, peer) => {
    const before = peer.received.length;
    await failure(
      client.noop({ signal: AbortSignal.abort("already") }),
      AbortedError,
    );
    await sleep(20);
    assert.equal(peer.received.length, before);
  });
});

test("abort: during a large in-memory body to a slow reader → AbortedError", async () => {
  await withFakeClient(
    {
      hook: (line, ctx) => {
        if (line === "DATA") {
          (ctx.peer.socket as { pause(): void }).pause();
          return "354 go\r\n";
        }
      },
    },
    { timeout: 10_000 },
    async (client) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort("too slow"), 300);
      const body = new Uint8Array(32 << 20).fill(0x61);
      const { err, ms } = await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: body,
          signal: ac.signal,
        }),
        AbortedError,
      );
      assert.equal(err.cause, "too slow");
      bounded(ms, 1500);
      assert.equal(client.connected, false);
    },
  );
});

test("abort: during EHLO → AbortedError with the reason, connection closed", async () => {
  for (const tls of ["none", "starttls"] as const) {
    const fake = await smtpFake({
      hook: (l) => l.startsWith("EHLO") ? null : undefined,
    });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort("ehlo"), 100);
      const { err, ms } = await failure(
        SmtpClient.connect(fakeClientOptions(fake, { tls, signal: ac.signal })),
        AbortedError,
      );
      assert.equal(err.cause, "ehlo");
      bounded(ms, 600);
      const peer = await fake.peer();
      assert.ok(await peer.waitClosed(2000));
      assert.equal(peer.text, "EHLO localhost\r\n");
    } finally {
      await fake.close();
    }
  }
  // A call's own signal, on an explicit EHLO.
  await withFakeClient(
    {
      hook: (line) => line === "EHLO again" ? null : undefined,
    },
    {},
    async (client, _fake, peer) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort("ehlo3"), 100);
      const { err } = await failure(
        client.ehlo("again", { signal: ac.signal }),
        AbortedError,
      );
      assert.equal(err.cause, "ehlo3");
      assert.equal(client.connected, false);
      assert.ok(await peer.waitClosed(2000));
    },
  );
});
