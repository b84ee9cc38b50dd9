/**
 * The SMTP client against hostile servers (and hostile input): each test
 * checks the typed error, a time bound, and the exact bytes the server got.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SmtpClient } from "../smtp/client.ts";
import type { SmtpClientOptions } from "../smtp/options.ts";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "../smtp/errors.ts";
import {
  AbortedError,
  AuthError,
  ConnectError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../errors.ts";
import { PlainMechanism } from "../auth/plain.ts";
import type { Conn } from "../tls/conn.ts";
import { type FakePeer, fakeServer, fixture } from "./fakes/scripted.ts";
import {
  failure,
  sleep,
  type SmtpFake,
  smtpFake,
  type SmtpFakeOptions,
} from "./fakes/smtp_fake.ts";

const enc = new TextEncoder();
const b64 = (s: string) => Buffer.from(s).toString("base64");
const MSG = "Subject: hi\r\n\r\nHello\r\n";

function opts(port: number, extra: SmtpClientOptions = {}): SmtpClientOptions {
  return {
    hostname: "127.0.0.1",
    port,
    tls: "none",
    allowInsecureAuth: true,
    timeout: 3000,
    ...extra,
  };
}

/** A fake server running `script` on its first connection. */
async function withScript(
  script: (peer: FakePeer) => Promise<void>,
  body: (port: number, peer: () => FakePeer) => Promise<void>,
): Promise<void> {
  const server = await fakeServer(script);
  try {
    await body(server.port, () => {
      assert.ok(server.peers[0], "no connection arrived");
      return server.peers[0];
    });
  } finally {
    await server.close();
  }
}

/** A fake SMTP server and a connected client; both closed afterwards. */
async function withFake(
  fakeOptions: SmtpFakeOptions,
  clientOptions: SmtpClientOptions,
  body: (client: SmtpClient, fake: SmtpFake, peer: FakePeer) => Promise<void>,
): Promise<void> {
  const fake = await smtpFake(fakeOptions);
  const client = new SmtpClient(opts(fake.port, clientOptions));
  try {
    await client.connect();
    await body(client, fake, await fake.peer());
  } finally {
    await client.close();
    await fake.close();
  }
}

function bounded(ms: number, max: number, min = 0): void {
  assert.ok(ms <= max, `took ${Math.round(ms)} ms, bound ${max} ms`);
  assert.ok(ms >= min, `took ${Math.round(ms)} ms, expected at least ${min}`);
}

// ---- STARTTLS ----

test("hostile: bytes injected after '220 Ready to start TLS' → ProtocolError, closed, nothing more sent", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
    await peer.readLine();
    await peer.write(
      "220 Ready to start TLS\r\n250-fake\r\n250 AUTH PLAIN\r\n",
    );
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { err, ms } = await failure(
      SmtpClient.connect(opts(port, {
        tls: "starttls",
        caCerts: [fixture("ca.pem")],
        auth: { username: "tim", password: "secret" },
      })),
      ProtocolError,
    );
    assert.match(err.message, /before the tls handshake/);
    bounded(ms, 1500);
    assert.ok(await peer().waitClosed(2000), "connection closed");
    assert.equal(peer().text, "EHLO localhost\r\nSTARTTLS\r\n");
  });
});

test("hostile: no STARTTLS in EHLO in starttls mode → SmtpNotSupportedError, no AUTH/MAIL", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port, {
        tls: "starttls",
        allowInsecureAuth: true,
        auth: { username: "tim", password: "secret" },
      })),
      SmtpNotSupportedError,
    );
    bounded(ms, 1500);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "EHLO localhost\r\n");
  });
});

test("hostile: starttls is the default mode (port 587 style options)", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250 AUTH PLAIN\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    await failure(
      SmtpClient.connect({ hostname: "127.0.0.1", port, timeout: 3000 }),
      SmtpNotSupportedError,
    );
    assert.equal(peer().text, "EHLO localhost\r\n");
  });
});

test("hostile: 454 to STARTTLS → error, never continues in clear", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
    await peer.readLine();
    await peer.write("454 4.7.0 TLS not available\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { err, ms } = await failure(
      SmtpClient.connect(opts(port, {
        tls: "starttls",
        auth: { username: "tim", password: "secret" },
      })),
      SmtpNotSupportedError,
    );
    assert.match(err.message, /454/);
    bounded(ms, 1500);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "EHLO localhost\r\nSTARTTLS\r\n");
  });
});

test("hostile: opportunistic without STARTTLS stays in clear, but login refuses without sending AUTH", async () => {
  await withFake(
    { features: ["PIPELINING", "AUTH PLAIN LOGIN CRAM-MD5"] },
    { tls: "opportunistic", allowInsecureAuth: false },
    async (client, fake) => {
      assert.equal(client.secure, false);
      assert.equal(client.connected, true);
      const { ms } = await failure(client.login("tim", "secret"), AuthError);
      bounded(ms, 500);
      await failure(
        client.login("tim", "secret", { mechanism: "PLAIN" }),
        AuthError,
      );
      assert.deepEqual(fake.commands, ["EHLO localhost"]);
      // Sending mail in clear is still fine.
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
      assert.equal(fake.messages.length, 1);
    },
  );
});

test("hostile: opportunistic with STARTTLS upgrades", async () => {
  await withFake(
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

test("hostile: STARTTLS to a certificate for another host → TlsError, nothing sent after", async () => {
  const fake = await smtpFake({
    features: ["STARTTLS", "AUTH PLAIN"],
    cert: "wronghost",
  });
  try {
    const { ms } = await failure(
      SmtpClient.connect(opts(fake.port, {
        tls: "starttls",
        caCerts: [fixture("ca.pem")],
        auth: { username: "tim", password: "secret" },
      })),
      TlsError,
    );
    bounded(ms, 2000);
    assert.deepEqual(fake.commands, ["EHLO localhost", "STARTTLS"]);
  } finally {
    await fake.close();
  }
});

test("hostile: AUTH offered in clear without allowInsecureAuth → AuthError, credentials never leave", async () => {
  await withFake(
    { features: ["AUTH PLAIN LOGIN CRAM-MD5"] },
    { allowInsecureAuth: false },
    async (client, _fake, peer) => {
      await failure(client.login("tim", "secret"), AuthError);
      await failure(
        client.login("tim", "secret", { mechanism: "LOGIN" }),
        AuthError,
      );
      await failure(client.loginWithToken("tim", "token"), AuthError);
      await failure(
        client.auth(
          new PlainMechanism({ username: "tim", password: "secret" }),
        ),
        AuthError,
      );
      await sleep(20);
      assert.equal(peer.text, "EHLO localhost\r\n");
      assert.ok(!peer.text.includes("AUTH"));
      assert.equal(client.authenticated, false);
    },
  );
  // The same through connect({ auth }): connect fails and closes.
  const fake = await smtpFake({ features: ["AUTH PLAIN"] });
  try {
    await failure(
      SmtpClient.connect(opts(fake.port, {
        allowInsecureAuth: false,
        auth: { username: "tim", password: "secret" },
      })),
      AuthError,
    );
    const peer = await fake.peer();
    assert.ok(await peer.waitClosed(2000));
    assert.equal(peer.text, "EHLO localhost\r\n");
  } finally {
    await fake.close();
  }
});

test("hostile: a different capability list after TLS is the one used (features before TLS forgotten)", async () => {
  await withFake({
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

// ---- slow, endless, oversized and malformed replies ----

test("hostile: greeting dripping one byte per 200 ms with timeout 600 → TimeoutError in 600-1500 ms", async () => {
  await withScript(async (peer) => {
    const greeting = "220 a very slow greeting indeed\r\n";
    for (const ch of greeting) {
      if (peer.ended) return;
      await peer.write(ch);
      await sleep(200);
    }
  }, async (port, peer) => {
    const { err, ms } = await failure(
      SmtpClient.connect(opts(port, { timeout: 600 })),
      TimeoutError,
    );
    assert.equal(err.timeout, 600);
    bounded(ms, 1500, 550);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "");
  });
});

test("hostile: a reply dripping within a command's deadline still times out as a whole", async () => {
  await withFake(
    {
      hook: async (line, ctx) => {
        if (line !== "NOOP") return undefined;
        for (const ch of "250 ok dripping\r\n") {
          if (ctx.peer.ended) break;
          await ctx.peer.write(ch);
          await sleep(100);
        }
        return null;
      },
    },
    {},
    async (client) => {
      const { ms } = await failure(client.noop({ timeout: 500 }), TimeoutError);
      bounded(ms, 1200, 450);
      assert.equal(client.connected, false);
    },
  );
});

test("hostile: an endless line (no LF, keeps sending) → ProtocolError, bounded", async () => {
  let sent = 0;
  await withScript(async (peer) => {
    await peer.write("220 ");
    const block = "x".repeat(1024);
    for (let i = 0; i < 100_000 && !peer.ended; i++) {
      await peer.write(block);
      sent += block.length;
      await sleep(1); // let the close be noticed (write callbacks may not yield)
    }
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port)),
      ProtocolError,
    );
    bounded(ms, 1500);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "");
    assert.ok(sent < 100_000 * 1024, `the client stopped reading (${sent})`);
  });
});

test("hostile: 10^6 continuation lines → ProtocolError without reading them all", async () => {
  let written = 0;
  await withScript(async (peer) => {
    const batch = "220-line of a very long greeting\r\n".repeat(1000);
    for (let i = 0; i < 1000 && !peer.ended && !peer.socket.destroyed; i++) {
      await peer.write(batch);
      written += 1000;
      await sleep(1); // let the close be noticed (write callbacks may not yield)
    }
    if (!peer.ended) await peer.write("220 end\r\n");
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port)),
      ProtocolError,
    );
    bounded(ms, 3000);
    assert.ok(await peer().waitClosed(3000));
    assert.equal(peer().text, "");
    await sleep(50);
    assert.ok(written < 1_000_000, `server wrote ${written} lines`);
  });
});

for (
  const [name, greeting] of [
    ["mixed codes in one reply", "220-hello\r\n250 world\r\n"],
    ["code 099", "099 hello\r\n"],
    ["code 600", "600 hello\r\n"],
    ["code 2x0", "2x0 hello\r\n"],
    ["code 260", "260 hello\r\n"],
    ["no separator", "220hello\r\n"],
    ["two digits", "22 hello\r\n"],
  ]
) {
  test(`hostile: greeting with ${name} → ProtocolError, closed`, async () => {
    const fake = await smtpFake({ greeting });
    try {
      const { ms } = await failure(
        SmtpClient.connect(opts(fake.port)),
        ProtocolError,
      );
      bounded(ms, 1000);
      const peer = await fake.peer();
      assert.ok(await peer.waitClosed(2000));
      assert.equal(peer.text, "");
    } finally {
      await fake.close();
    }
  });
}

test("hostile: a malformed reply to a command → ProtocolError, connection closed", async () => {
  for (const bad of ["2x0 ok\r\n", "250-a\r\n251 b\r\n", "600 x\r\n"]) {
    await withFake(
      { hook: (line) => line === "NOOP" ? bad : undefined },
      {},
      async (client, _fake, peer) => {
        await failure(client.noop(), ProtocolError);
        assert.equal(client.connected, false);
        assert.ok(await peer.waitClosed(2000));
        await failure(client.noop(), SmtpServerDisconnectedError);
      },
    );
  }
});

test("hostile: greeting 554 → SmtpConnectError and QUIT sent politely", async () => {
  await withScript(async (peer) => {
    await peer.write("554 5.7.1 go away\r\n");
    const l = await peer.readLine();
    if (l === "QUIT") await peer.write("221 bye\r\n");
    peer.end();
  }, async (port, peer) => {
    const { err, ms } = await failure(
      SmtpClient.connect(opts(port)),
      SmtpConnectError,
    );
    assert.equal(err.code, 554);
    assert.equal(err.enhancedCode, "5.7.1");
    bounded(ms, 1000);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "QUIT\r\n");
  });
});

test("hostile: greeting 554 from a server that never answers QUIT is still bounded", async () => {
  await withScript(async (peer) => {
    await peer.write("554 go away\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port, { timeout: 500 })),
      SmtpConnectError,
    );
    bounded(ms, 1200);
    assert.equal(peer().text, "QUIT\r\n");
  });
});

test("hostile: greeting 421 → SmtpServiceClosingError, nothing sent", async () => {
  await withScript(async (peer) => {
    await peer.write("421 4.3.2 too busy\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { err } = await failure(
      SmtpClient.connect(opts(port)),
      SmtpServiceClosingError,
    );
    assert.equal(err.code, 421);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "");
  });
});

test("hostile: a silent server (no greeting) → TimeoutError at the deadline", async () => {
  await withScript(async (peer) => {
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port, { timeout: 300 })),
      TimeoutError,
    );
    bounded(ms, 1000, 250);
    assert.ok(await peer().waitClosed(2000));
  });
});

// ---- 421, missing and extra replies ----

test("hostile: 421 to a RCPT in a pipelined batch → SmtpServiceClosingError, closed, nothing more sent", async () => {
  await withFake(
    {
      features: ["PIPELINING"],
      hook: (line, ctx) => {
        if (line === "RCPT TO:<c@x.test>") {
          void ctx.peer.write("421 4.3.2 shutting down\r\n").then(() =>
            ctx.peer.end()
          );
          return null;
        }
      },
    },
    {},
    async (client, _fake, peer) => {
      const { err, ms } = await failure(
        client.sendMail({
          from: "a@x.test",
          to: ["b@x.test", "c@x.test", "d@x.test"],
          data: "Subject: x\r\n\r\nSECRET-BODY\r\n",
        }),
        SmtpServiceClosingError,
      );
      assert.equal(err.code, 421);
      bounded(ms, 1000);
      assert.equal(client.connected, false);
      assert.ok(await peer.waitClosed(2000));
      assert.equal(
        peer.text,
        "EHLO localhost\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n" +
          "RCPT TO:<c@x.test>\r\nRCPT TO:<d@x.test>\r\nDATA\r\n",
      );
      await failure(client.noop(), SmtpServerDisconnectedError);
      assert.equal(await client.quit(), undefined);
    },
  );
});

test("hostile: 421 to NOOP → SmtpServiceClosingError, closed, no QUIT", async () => {
  await withFake(
    {
      hook: (line) => line === "NOOP" ? "421 bye\r\n" : undefined,
    },
    {},
    async (client, _fake, peer) => {
      await failure(client.noop(), SmtpServiceClosingError);
      assert.equal(client.connected, false);
      await client.quit();
      assert.equal(peer.text, "EHLO localhost\r\nNOOP\r\n");
    },
  );
});

test("hostile: fewer replies than commands, then close → SmtpServerDisconnectedError", async () => {
  await withFake(
    {
      features: ["PIPELINING"],
      hook: (line) => line.startsWith("RCPT") ? "close" : undefined,
    },
    {},
    async (client, _fake, peer) => {
      const { ms } = await failure(
        client.sendMail({
          from: "a@x.test",
          to: ["b@x.test", "c@x.test"],
          data: "Subject: x\r\n\r\nSECRET-BODY\r\n",
        }),
        SmtpServerDisconnectedError,
      );
      bounded(ms, 1000);
      assert.equal(client.connected, false);
      assert.ok(!peer.text.includes("SECRET-BODY"));
    },
  );
});

test("hostile: more replies than commands don't hang the client", async () => {
  await withFake(
    {
      hook: (line) => {
        if (line === "NOOP") return "250 ok\r\n250 extra reply\r\n";
        if (line === "QUIT") return "221 bye\r\n250 after quit\r\n";
      },
    },
    { timeout: 1000 },
    async (client, fake, peer) => {
      const start = performance.now();
      const first = await client.noop();
      assert.equal(first.code, 250);
      // The surplus reply is caught at the latest when the next command
      // would go out behind it: the session is out of step, so it closes.
      const errors = [
        await client.noop().then(() => null, (e) => e),
        await client.noop().then(() => null, (e) => e),
      ];
      assert.ok(
        errors.some((e) => e instanceof ProtocolError),
        `a ProtocolError, got ${errors.map(String)}`,
      );
      assert.equal(client.connected, false);
      assert.equal(await client.quit(), undefined);
      bounded(performance.now() - start, 2500);
      assert.ok(await peer.waitClosed(2000));
      assert.ok(!fake.commands.includes("QUIT"));
    },
  );
});

test("hostile: an unsolicited reply right after the greeting doesn't hang connect", async () => {
  const fake = await smtpFake({
    greeting: "220 hi\r\n250 unsolicited\r\n",
    features: ["STARTTLS"],
  });
  try {
    const start = performance.now();
    await SmtpClient.connect(opts(fake.port, {
      tls: "starttls",
      caCerts: [fixture("ca.pem")],
      timeout: 1000,
    })).then((c) => c.close(), () => {});
    bounded(performance.now() - start, 2500);
  } finally {
    await fake.close();
  }
});

// ---- end of data: outcome unknown ----

test("hostile: close right after the final dot (no reply) → SmtpOutcomeUnknownError", async () => {
  await withFake(
    {
      hook: (line) => line === "." ? "close" : undefined,
    },
    {},
    async (client, fake) => {
      const { err, ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpOutcomeUnknownError,
      );
      assert.ok(err instanceof SmtpServerDisconnectedError);
      bounded(ms, 1000);
      assert.equal(client.connected, false);
      assert.equal(fake.messages.length, 1);
    },
  );
});

test("hostile: a timeout waiting for the final reply → SmtpOutcomeUnknownError (cause TimeoutError)", async () => {
  await withFake(
    {
      hook: (line) => line === "." ? null : undefined,
    },
    { timeout: 400 },
    async (client, _fake, peer) => {
      const { err, ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpOutcomeUnknownError,
      );
      assert.ok(err.cause instanceof TimeoutError);
      bounded(ms, 1500, 350);
      assert.equal(client.connected, false);
      assert.ok(await peer.waitClosed(2000));
    },
  );
});

test("hostile: data() by hand, close after the dot → SmtpOutcomeUnknownError", async () => {
  await withFake(
    {
      hook: (line) => line === "." ? "close" : undefined,
    },
    {},
    async (client) => {
      await client.mail("a@x.test");
      await client.rcpt("b@x.test");
      await failure(client.data(MSG), SmtpOutcomeUnknownError);
    },
  );
});

test("hostile: BDAT LAST then close → SmtpOutcomeUnknownError", async () => {
  await withFake(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line) => line.startsWith("BDAT") ? "close" : undefined,
    },
    {},
    async (client) => {
      const { ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpOutcomeUnknownError,
      );
      bounded(ms, 1000);
    },
  );
});

test("hostile: pipelined BDAT LAST batch answered by a close (no reply at all) → SmtpOutcomeUnknownError", async () => {
  // The whole message went out with MAIL and RCPT: a server that buffers
  // its replies may have delivered it before dying.
  await withScript(async (peer) => {
    await peer.write("220 fake\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    await peer.waitFor(MSG);
    peer.end();
  }, async (port) => {
    const client = await SmtpClient.connect(opts(port));
    try {
      await client.ehloOrHelo();
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpOutcomeUnknownError,
      );
    } finally {
      await client.close();
    }
  });
});

// ---- a server that stops reading ----

test("hostile: a server that stops reading mid-DATA → TimeoutError within the bound (32 MiB body)", async () => {
  await withFake(
    {
      hook: (line, ctx) => {
        if (line === "DATA") {
          (ctx.peer.socket as { pause(): void }).pause();
          return "354 go ahead\r\n";
        }
      },
    },
    { timeout: 800 },
    async (client) => {
      const body = new Uint8Array(32 << 20).fill(0x61);
      for (let i = 1000; i < body.length; i += 1000) body[i] = 10;
      const { ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: body }),
        TimeoutError,
      );
      bounded(ms, 4000, 700);
      assert.equal(client.connected, false);
    },
  );
});

test("hostile: a server that stops reading a streamed body → TimeoutError, bounded", async () => {
  await withFake(
    {
      hook: (line, ctx) => {
        if (line === "DATA") {
          (ctx.peer.socket as { pause(): void }).pause();
          return "354 go ahead\r\n";
        }
      },
    },
    { timeout: 800 },
    async (client) => {
      let pulled = 0;
      const chunk = enc.encode(("b".repeat(1022) + "\r\n").repeat(1024));
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (pulled++ < 64) c.enqueue(chunk);
          else c.close();
        },
      }, { highWaterMark: 0 });
      const { ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: stream }),
        TimeoutError,
      );
      bounded(ms, 3000, 700);
      assert.ok(pulled < 64, `pulled ${pulled} MiB before giving up`);
    },
  );
});

test("hostile: RST in the middle of DATA → SmtpServerDisconnectedError", async () => {
  await withFake(
    {
      hook: (line, ctx) => {
        if (line === "DATA") {
          void ctx.peer.write("354 go\r\n").then(() =>
            ctx.peer.waitFor("aaaa", 3000)
          ).then(() => ctx.peer.destroy());
          return null;
        }
      },
    },
    {},
    async (client) => {
      const body = new Uint8Array(32 << 20).fill(0x61);
      for (let i = 1000; i < body.length; i += 1000) body[i] = 10;
      const { ms } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: body }),
        SmtpServerDisconnectedError,
      );
      bounded(ms, 3000);
      assert.equal(client.connected, false);
    },
  );
});

// ---- AUTH abuse ----

test("hostile: 334 with invalid base64 → client answers '*' → AuthError", async () => {
  await withFake(
    {
      features: ["AUTH CRAM-MD5"],
      hook: (line) => {
        if (line === "AUTH CRAM-MD5") return "334 not*base64!\r\n";
        if (line === "*") return "501 5.7.0 cancelled\r\n";
      },
    },
    {},
    async (client, fake, peer) => {
      const { ms } = await failure(
        client.login("tim", "secret", { mechanism: "CRAM-MD5" }),
        AuthError,
      );
      bounded(ms, 1000);
      assert.deepEqual(fake.commands, ["EHLO localhost", "AUTH CRAM-MD5", "*"]);
      assert.equal(
        peer.text,
        "EHLO localhost\r\nAUTH CRAM-MD5\r\n*\r\n",
      );
      assert.equal(client.authenticated, false);
    },
  );
});

test("hostile: 235 before the last AUTH step (LOGIN: after the username) → AuthError, password never sent", async () => {
  await withFake(
    {
      features: ["AUTH LOGIN"],
      hook: (line) => {
        if (line === "AUTH LOGIN") return "334 VXNlcm5hbWU6\r\n";
        if (line === b64("tim")) return "235 2.7.0 welcome\r\n";
      },
    },
    {},
    async (client, _fake, peer) => {
      await failure(
        client.login("tim", "secret", { mechanism: "LOGIN" }),
        AuthError,
      );
      assert.equal(client.authenticated, false);
      assert.ok(!peer.text.includes(b64("secret")));
      assert.equal(
        peer.text,
        `EHLO localhost\r\nAUTH LOGIN\r\n${b64("tim")}\r\n`,
      );
    },
  );
});

test("hostile: 503 to AUTH → SmtpAuthenticationError, not success", async () => {
  await withFake(
    {
      features: ["AUTH PLAIN"],
      hook: (line) =>
        line.startsWith("AUTH")
          ? "503 5.5.1 already authenticated\r\n"
          : undefined,
    },
    {},
    async (client) => {
      const { err } = await failure(
        client.login("tim", "secret"),
        SmtpAuthenticationError,
      );
      assert.equal(err.code, 503);
      assert.equal(client.authenticated, false);
    },
  );
});

test("hostile: 535 → SmtpAuthenticationError and no second AUTH with another mechanism", async () => {
  await withFake(
    {
      features: ["AUTH CRAM-MD5 PLAIN LOGIN"],
      hook: (line) =>
        line.startsWith("AUTH") || /^[A-Za-z0-9+/=]+$/.test(line)
          ? "535 5.7.8 bad credentials\r\n"
          : undefined,
    },
    {},
    async (client, fake) => {
      const { err, ms } = await failure(
        client.login("tim", "secret"),
        SmtpAuthenticationError,
      );
      bounded(ms, 1000);
      assert.equal(err.code, 535);
      assert.equal(err.enhancedCode, "5.7.8");
      assert.deepEqual(fake.commands, ["EHLO localhost", "AUTH CRAM-MD5"]);
      await sleep(20);
      assert.equal(fake.commands.filter((c) => c.startsWith("AUTH")).length, 1);
      assert.equal(client.authenticated, false);
    },
  );
});

test("hostile: 535 after the password (LOGIN) → SmtpAuthenticationError, one AUTH", async () => {
  await withFake(
    {
      features: ["AUTH LOGIN PLAIN"],
      hook: (line) => {
        if (line === "AUTH LOGIN") return "334 VXNlcm5hbWU6\r\n";
        if (line === b64("tim")) return "334 UGFzc3dvcmQ6\r\n";
        if (line === b64("secret")) return "535 5.7.8 no\r\n";
      },
    },
    {},
    async (client, fake) => {
      await failure(
        client.login("tim", "secret", { preference: ["LOGIN", "PLAIN"] }),
        SmtpAuthenticationError,
      );
      assert.deepEqual(fake.commands, [
        "EHLO localhost",
        "AUTH LOGIN",
        b64("tim"),
        b64("secret"),
      ]);
    },
  );
});

// ---- hostile input ----

const BAD = ["\r", "\n", "\0"];

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
    await withFake(
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
  await withFake({}, {}, async (client, fake, peer) => {
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

test("hostile input: non-ASCII address without SMTPUTF8 → SmtpNotSupportedError before MAIL", async () => {
  await withFake(
    { features: ["PIPELINING", "8BITMIME"] },
    {},
    async (client, fake) => {
      for (
        const call of [
          () =>
            client.sendMail({ from: "jörg@x.test", to: "b@x.test", data: MSG }),
          () =>
            client.sendMail({
              from: "a@x.test",
              to: ["b@x.test", "ü@x.test"],
              data: MSG,
            }),
          () =>
            client.sendMessage("From: a@x.test\r\nTo: b@bücher.test\r\n\r\nx"),
        ]
      ) {
        await failure(call(), SmtpNotSupportedError);
      }
      assert.deepEqual(fake.commands, ["EHLO localhost"]);
    },
  );
});

test("hostile input: non-ASCII recipient with SMTPUTF8 → MAIL FROM:<..> SMTPUTF8", async () => {
  await withFake(
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
  await withFake(
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

// ---- AbortSignal at every phase ----

test("abort: while connecting → AbortedError with the reason, the late socket closed", async () => {
  let closed = false;
  let connectorSignal: AbortSignal | undefined;
  const conn: Conn = {
    readable: new ReadableStream(),
    writable: new WritableStream(),
    secure: false,
    startTls: () => Promise.reject(new Error("no")),
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
  const ac = new AbortController();
  const reason = new Error("user gave up");
  setTimeout(() => ac.abort(reason), 50);
  const { err, ms } = await failure(
    SmtpClient.connect({
      hostname: "127.0.0.1",
      port: 25,
      tls: "none",
      signal: ac.signal,
      connector: (_target, signal) => {
        connectorSignal = signal;
        return sleep(200).then(() => conn);
      },
    }),
    AbortedError,
  );
  assert.equal(err.cause, reason);
  bounded(ms, 150);
  assert.equal(connectorSignal?.aborted, true);
  await sleep(250);
  assert.equal(closed, true, "the connection that arrived late was closed");
});

test("abort: waiting for the greeting → AbortedError with the reason, connection closed", async () => {
  await withScript(async (peer) => {
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort("stop"), 100);
    const { err, ms } = await failure(
      SmtpClient.connect(opts(port, { signal: ac.signal })),
      AbortedError,
    );
    assert.equal(err.cause, "stop");
    bounded(ms, 600);
    assert.ok(await peer().waitClosed(2000));
    assert.equal(peer().text, "");
  });
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
        SmtpClient.connect(opts(fake.port, { tls, signal: ac.signal })),
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
  await withFake(
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

test("abort: during AUTH → AbortedError, connection closed", async () => {
  const fake = await smtpFake({
    features: ["AUTH PLAIN"],
    hook: (line) => line.startsWith("AUTH") ? null : undefined,
  });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort("auth"), 150);
    const { err, ms } = await failure(
      SmtpClient.connect(opts(fake.port, {
        signal: ac.signal,
        auth: { username: "tim", password: "secret" },
      })),
      AbortedError,
    );
    assert.equal(err.cause, "auth");
    bounded(ms, 700);
    const peer = await fake.peer();
    assert.ok(await peer.waitClosed(2000));
    assert.deepEqual(fake.commands, [
      "EHLO localhost",
      `AUTH PLAIN ${b64("\0tim\0secret")}`,
    ]);
  } finally {
    await fake.close();
  }
});

test("abort: during DATA body streaming → AbortedError, closed, no terminator sent", async () => {
  await withFake({}, {}, async (client, _fake, peer) => {
    const ac = new AbortController();
    let sentFirst = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sentFirst) {
          sentFirst = true;
          c.enqueue(enc.encode("Subject: x\r\n\r\nfirst part\r\n"));
          setTimeout(() => ac.abort("body"), 100);
          return;
        }
        return new Promise(() => {}); // never more data
      },
    }, { highWaterMark: 0 });
    const { err, ms } = await failure(
      client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: stream,
        signal: ac.signal,
      }),
      AbortedError,
    );
    assert.equal(err.cause, "body");
    bounded(ms, 800);
    assert.equal(client.connected, false);
    assert.ok(await peer.waitClosed(2000));
    assert.ok(
      peer.text.endsWith("DATA\r\nSubject: x\r\n\r\nfirst part\r\n"),
      peer.text,
    );
  });
});

test("abort: during a large in-memory body to a slow reader → AbortedError", async () => {
  await withFake(
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

test("abort: an already-aborted signal sends nothing", async () => {
  await withFake({}, {}, async (client, _fake, peer) => {
    const before = peer.received.length;
    await failure(
      client.noop({ signal: AbortSignal.abort("already") }),
      AbortedError,
    );
    await sleep(20);
    assert.equal(peer.received.length, before);
  });
});

// ---- more: TLS, connect, streams, SASL loops ----

test("hostile: garbage instead of a TLS handshake after 220 → TlsError, bounded, nothing sent in clear", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
    await peer.readLine();
    await peer.write("220 Ready to start TLS\r\n");
    await sleep(50); // separately, so it isn't the injection case
    await peer.write("this is not a tls server hello\r\n".repeat(4));
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port, {
        tls: "starttls",
        caCerts: [fixture("ca.pem")],
        auth: { username: "tim", password: "secret" },
      })),
      TlsError,
    );
    bounded(ms, 2000);
    assert.ok(await peer().waitClosed(2000));
    const text = peer().text;
    assert.ok(text.startsWith("EHLO localhost\r\nSTARTTLS\r\n"));
    assert.ok(
      !text.includes("AUTH") && !text.includes("EHLO localhost\r\nEHLO"),
    );
  });
});

test("hostile: a server that never answers the TLS handshake → TimeoutError at the deadline", async () => {
  await withScript(async (peer) => {
    await peer.write("220 fake ESMTP\r\n");
    await peer.readLine();
    await peer.write("250-fake\r\n250 STARTTLS\r\n");
    await peer.readLine();
    await peer.write("220 Ready to start TLS\r\n");
    await peer.waitClosed(3000);
  }, async (port, peer) => {
    const { ms } = await failure(
      SmtpClient.connect(opts(port, {
        tls: "starttls",
        caCerts: [fixture("ca.pem")],
        timeout: 400,
      })),
      TimeoutError,
    );
    bounded(ms, 1500, 350);
    // Deno 2.9 keeps the TCP socket open when a TlsConn is closed while its
    // handshake is pending (a runtime bug: the peer never sees EOF), so the
    // server-side close can only be checked elsewhere.
    if (!("Deno" in globalThis)) assert.ok(await peer().waitClosed(2000));
  });
});

test("hostile: implicit TLS with an untrusted certificate → TlsError; with the right CA it works", async () => {
  const bad = await smtpFake({ implicitTls: true, cert: "untrusted" });
  try {
    await failure(
      SmtpClient.connect(opts(bad.port, {
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
    const client = await SmtpClient.connect(opts(good.port, {
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

test("hostile: connection refused → ConnectError, quickly", async () => {
  const server = await fakeServer(() => Promise.resolve());
  const port = server.port;
  await server.close();
  const { ms } = await failure(
    SmtpClient.connect(opts(port)),
    ConnectError,
  );
  bounded(ms, 2000);
});

test("hostile: a body stream that fails mid-way: its error, connection closed, no end marker sent", async () => {
  await withFake({}, {}, async (client, fake, peer) => {
    const boom = new Error("disk read failed");
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 0) c.enqueue(enc.encode("Subject: x\r\n\r\npart one\r\n"));
        else c.error(boom);
      },
    });
    const start = performance.now();
    await assert.rejects(
      client.sendMail({ from: "a@x.test", to: "b@x.test", data: stream }),
      (err) => err === boom,
    );
    bounded(performance.now() - start, 1000);
    assert.equal(client.connected, false);
    assert.ok(await peer.waitClosed(2000));
    assert.ok(peer.text.endsWith("DATA\r\nSubject: x\r\n\r\npart one\r\n"));
    assert.equal(fake.messages.length, 0, "no truncated message delivered");
  });
});

test("hostile: endless 334 challenges → '*' after a bounded number, AuthError", async () => {
  await withFake(
    {
      features: ["AUTH LOGIN"],
      hook: (line) =>
        line === "*"
          ? "501 cancelled\r\n"
          : line.startsWith("EHLO")
          ? undefined
          : "334 VXNlcm5hbWU6\r\n",
    },
    {},
    async (client, fake) => {
      const { ms } = await failure(
        client.login("tim", "secret", { mechanism: "LOGIN" }),
        AuthError,
      );
      bounded(ms, 1000);
      assert.equal(fake.commands.at(-1), "*");
      assert.ok(fake.commands.length <= 14, `${fake.commands.length} lines`);
    },
  );
});

test("hostile: a server silent after AUTH → TimeoutError, connection closed", async () => {
  await withFake(
    {
      features: ["AUTH PLAIN"],
      hook: (line) => line.startsWith("AUTH") ? null : undefined,
    },
    { timeout: 300 },
    async (client, _fake, peer) => {
      const { ms } = await failure(client.login("tim", "secret"), TimeoutError);
      bounded(ms, 1200, 250);
      assert.equal(client.connected, false);
      assert.ok(await peer.waitClosed(2000));
    },
  );
});
