// SmtpClient against the scriptable fake: greeting, EHLO and features, STARTTLS, AUTH, the simple commands, QUIT, close and dispose.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { SmtpClient } from "./client.ts";
import {
  SmtpDataError,
  SmtpError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpServerDisconnectedError,
} from "./errors.ts";
import { InvalidInputError } from "../errors.ts";
import { fixture } from "../tests/fakes/scripted.ts";
import {
  ehloReply,
  failure,
  fakeClientOptions,
  sleep,
  smtpFake,
  withFakeClient,
} from "../tests/fakes/smtp_fake.ts";

const enc = new TextEncoder();
const MSG = "Subject: hi\r\n\r\nHello\r\n";

// ---- greeting, EHLO, features ----

test("client: greeting kept, EHLO features parsed, hasExtension case-insensitive", async () => {
  await withFakeClient(
    {
      greeting: "220-fake.test first\r\n220 second\r\n",
      features: [
        "PIPELINING",
        "SIZE 35882577",
        "8bitmime",
        "AUTH PLAIN LOGIN",
        "AUTH=CRAM-MD5 PLAIN",
        "ENHANCEDSTATUSCODES",
        "X-CUSTOM a=b c",
      ],
    },
    {},
    async (client, fake) => {
      assert.equal(client.welcome?.code, 220);
      assert.deepEqual(client.welcome?.lines, ["fake.test first", "second"]);
      assert.equal(client.connected, true);
      assert.equal(client.secure, false);
      // connect() said EHLO already, in every tls mode.
      assert.equal(client.esmtp, true);
      assert.equal(client.heloReply?.code, 250);
      assert.deepEqual(fake.commands, ["EHLO localhost"]);
      const reply = await client.ehlo("client.test");
      assert.equal(reply.code, 250);
      assert.equal(client.esmtp, true);
      assert.equal(client.heloReply, reply);
      assert.deepEqual(fake.commands, ["EHLO localhost", "EHLO client.test"]);
      assert.ok(client.hasExtension("pipelining"));
      assert.ok(client.hasExtension("8BITMIME"));
      assert.ok(client.hasExtension("Size"));
      assert.ok(!client.hasExtension("CHUNKING"));
      assert.equal(client.features.get("SIZE"), "35882577");
      assert.equal(client.features.get("X-CUSTOM"), "a=b c");
      assert.deepEqual(
        client.features.get("AUTH")?.split(" ").sort(),
        ["CRAM-MD5", "LOGIN", "PLAIN"],
      );
    },
  );
});

test("client: the old AUTH=PLAIN LOGIN form alone counts as AUTH", async () => {
  await withFakeClient(
    { features: ["AUTH=PLAIN LOGIN"] },
    {},
    async (client) => {
      await client.ehloOrHelo();
      assert.ok(client.hasExtension("auth"));
      assert.equal(client.features.get("AUTH"), "PLAIN LOGIN");
      await client.login("tim", "secret", { preference: ["LOGIN"] });
      assert.equal(client.authenticated, true);
    },
  );
});

test("client: localName is used for EHLO", async () => {
  await withFakeClient(
    {},
    { localName: "me.example" },
    async (client, fake) => {
      await client.ehloOrHelo();
      assert.deepEqual(fake.commands, ["EHLO me.example"]);
    },
  );
});

test("client: EHLO 5xx falls back to HELO", async () => {
  await withFakeClient(
    {
      hook: (line) =>
        line.startsWith("EHLO") ? "502 5.5.1 no ehlo\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      await client.ehloOrHelo();
      assert.deepEqual(fake.commands, ["EHLO localhost", "HELO localhost"]);
      assert.equal(client.esmtp, false);
      assert.equal(client.features.size, 0);
      // Done once per connection.
      await client.ehloOrHelo();
      assert.equal(fake.commands.length, 2);
      const res = await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      });
      assert.equal(res.reply.code, 250);
      assert.equal(fake.messages[0].data, MSG);
    },
  );
});

test("client: EHLO and HELO both refused is SmtpHeloError from connect, connection closed", async () => {
  const fake = await smtpFake({
    hook: (line) =>
      line.startsWith("EHLO")
        ? "500 no\r\n"
        : line.startsWith("HELO")
        ? "501 5.5.4 bad name\r\n"
        : undefined,
  });
  try {
    const { err } = await failure(
      SmtpClient.connect(fakeClientOptions(fake)),
      SmtpHeloError,
    );
    assert.equal(err.code, 501);
    assert.deepEqual(fake.commands, ["EHLO localhost", "HELO localhost"]);
    assert.ok(await (await fake.peer()).waitClosed(2000));
  } finally {
    await fake.close();
  }
});

test("client: connecting twice is an error", async () => {
  await withFakeClient({}, {}, async (client) => {
    await failure(client.connect(), SmtpError);
    assert.equal(client.connected, true);
  });
});

// ---- STARTTLS ----

test("client: starttls (default mode) upgrades, verifies, EHLOs again", async () => {
  const fake = await smtpFake({
    features: ["STARTTLS", "PIPELINING", "AUTH LOGIN"],
    featuresAfterTls: ["PIPELINING", "AUTH PLAIN LOGIN", "SIZE 1000000"],
  });
  try {
    const client = await SmtpClient.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      caCerts: [fixture("ca.pem")],
      timeout: 3000,
      auth: { username: "tim", password: "secret" },
    });
    try {
      assert.equal(client.secure, true);
      assert.equal(client.authenticated, true);
      assert.equal(client.features.get("AUTH"), "PLAIN LOGIN");
      assert.ok(client.hasExtension("SIZE"));
      assert.deepEqual(fake.commands, [
        "EHLO localhost",
        "STARTTLS",
        "EHLO localhost",
        `AUTH PLAIN ${Buffer.from("\0tim\0secret").toString("base64")}`,
      ]);
      const res = await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      });
      assert.equal(res.reply.code, 250);
      assert.equal(fake.messages[0].data, MSG);
      const q = await client.quit();
      assert.equal(q?.code, 221);
    } finally {
      await client.close();
    }
  } finally {
    await fake.close();
  }
});

test("client: startTls() by hand in tls none mode; twice is an error", async () => {
  await withFakeClient(
    { features: ["STARTTLS", "PIPELINING"] },
    { caCerts: [fixture("ca.pem")] },
    async (client, fake) => {
      const reply = await client.startTls();
      assert.equal(reply.code, 220);
      assert.equal(client.secure, true);
      assert.ok(!client.hasExtension("STARTTLS"));
      await failure(client.startTls(), SmtpError);
      assert.deepEqual(fake.commands, [
        "EHLO localhost",
        "STARTTLS",
        "EHLO localhost",
      ]);
    },
  );
});

// ---- AUTH ----

test("client: login PLAIN, LOGIN, CRAM-MD5 put the right bytes on the wire", async () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const challenge = "<1896.697170952@postoffice.example.net>";
  const cases: Array<[string, string[]]> = [
    ["PLAIN", [`AUTH PLAIN ${b64("\0tim\0tanstaaf")}`]],
    ["LOGIN", ["AUTH LOGIN", b64("tim"), b64("tanstaaf")]],
    [
      "CRAM-MD5",
      [
        "AUTH CRAM-MD5",
        b64(
          "tim " +
            createHmac("md5", "tanstaaf").update(challenge).digest("hex"),
        ),
      ],
    ],
  ];
  for (const [mechanism, wire] of cases) {
    await withFakeClient(
      { features: ["AUTH PLAIN LOGIN CRAM-MD5"] },
      {},
      async (client, fake) => {
        const reply = await client.login("tim", "tanstaaf", { mechanism });
        assert.equal(reply?.code, 235);
        assert.equal(client.authenticated, true);
        assert.deepEqual(fake.commands.slice(1), wire, mechanism);
        await failure(client.login("tim", "tanstaaf"), SmtpError);
      },
    );
  }
});

test("client: login picks the strongest offered (CRAM-MD5), preference overrides", async () => {
  await withFakeClient(
    { features: ["AUTH LOGIN PLAIN CRAM-MD5"] },
    {},
    async (client, fake) => {
      await client.login("tim", "pw");
      assert.equal(fake.commands[1], "AUTH CRAM-MD5");
    },
  );
  await withFakeClient(
    { features: ["AUTH LOGIN PLAIN CRAM-MD5"] },
    {},
    async (client, fake) => {
      await client.login("tim", "pw", { preference: ["LOGIN"] });
      assert.equal(fake.commands[1], "AUTH LOGIN");
    },
  );
});

test("client: initialResponse false waits for the empty challenge", async () => {
  await withFakeClient(
    { features: ["AUTH PLAIN"] },
    {},
    async (client, fake) => {
      await client.login("tim", "pw", { initialResponse: false });
      assert.deepEqual(fake.commands.slice(1), [
        "AUTH PLAIN",
        Buffer.from("\0tim\0pw").toString("base64"),
      ]);
    },
  );
});

test("client: loginWithToken uses XOAUTH2", async () => {
  await withFakeClient(
    { features: ["AUTH PLAIN XOAUTH2"] },
    {},
    async (client, fake) => {
      await client.loginWithToken("tim@x.test", "tok123");
      assert.equal(
        fake.commands[1],
        "AUTH XOAUTH2 " +
          Buffer.from("user=tim@x.test\x01auth=Bearer tok123\x01\x01")
            .toString("base64"),
      );
    },
  );
});

test("client: login without AUTH offered is SmtpNotSupportedError, nothing sent", async () => {
  await withFakeClient(
    { features: ["PIPELINING"] },
    {},
    async (client, fake) => {
      await failure(client.login("tim", "pw"), SmtpNotSupportedError);
      assert.deepEqual(fake.commands, ["EHLO localhost"]);
    },
  );
});

// ---- simple commands ----

test("client: command, noop, rset, verify, expn, help send their lines", async () => {
  await withFakeClient(
    {
      hook: (line) => line === "XCMD arg" ? "252 2.5.0 custom\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      fake.commands.length = 0;
      assert.equal((await client.command("XCMD arg")).code, 252);
      assert.equal((await client.noop()).code, 250);
      assert.equal((await client.rset()).code, 250);
      assert.equal((await client.verify("a@x.test")).code, 250);
      assert.equal((await client.expn("list")).code, 250);
      assert.equal((await client.help()).code, 250);
      assert.equal((await client.help("MAIL")).code, 250);
      const unknown = await client.command("BOGUS");
      assert.equal(unknown.code, 500);
      assert.equal(unknown.enhancedCode, "5.5.1");
      assert.deepEqual(fake.commands, [
        "XCMD arg",
        "NOOP",
        "RSET",
        "VRFY a@x.test",
        "EXPN list",
        "HELP",
        "HELP MAIL",
        "BOGUS",
      ]);
    },
  );
});

test("client: mail, rcpt, data and bdat by hand", async () => {
  await withFakeClient(
    { features: ["CHUNKING", "DSN"] },
    {},
    async (client, fake) => {
      assert.equal((await client.mail("a@x.test", { ret: "HDRS" })).code, 250);
      assert.equal(
        (await client.rcpt("b@x.test", { notify: ["SUCCESS", "DELAY"] })).code,
        250,
      );
      const final = await client.data("line\n.dot\n");
      assert.equal(final.code, 250);
      assert.equal(fake.messages[0].data, "line\r\n.dot\r\n");
      await client.mail("");
      await client.rcpt("c@x.test");
      assert.equal((await client.bdat(enc.encode("one\r\n"))).code, 250);
      assert.equal(
        (await client.bdat(enc.encode("two\r\n"), { last: true })).code,
        250,
      );
      assert.deepEqual(fake.commands, [
        "EHLO localhost",
        "MAIL FROM:<a@x.test> RET=HDRS",
        "RCPT TO:<b@x.test> NOTIFY=SUCCESS,DELAY",
        "DATA",
        "MAIL FROM:<>",
        "RCPT TO:<c@x.test>",
        "BDAT 5",
        "BDAT 5 LAST",
      ]);
      const p = await fake.peer();
      assert.ok(p.text.includes("BDAT 5\r\none\r\nBDAT 5 LAST\r\ntwo\r\n"));
    },
  );
});

test("client: data() refused is SmtpDataError; bdat without CHUNKING is SmtpNotSupportedError", async () => {
  await withFakeClient(
    {
      hook: (line) => line === "DATA" ? "503 5.5.1 need rcpt\r\n" : undefined,
    },
    {},
    async (client) => {
      await client.ehloOrHelo();
      const { err } = await failure(client.data("x"), SmtpDataError);
      assert.equal(err.code, 503);
      await failure(client.bdat(enc.encode("x")), SmtpNotSupportedError);
    },
  );
});

test("client: methods returning promises reject, never throw synchronously", async () => {
  await withFakeClient({}, {}, async (client) => {
    const calls: Array<() => Promise<unknown>> = [
      () => client.command("NOOP\r\nQUIT"),
      () => client.verify("a\n"),
      () => client.expn("l\0"),
      () => client.help("h\r"),
      () => client.login("tim\n", "pw"),
      () => client.sendMessage("To: b@x.test\r\n\r\nno sender"),
      () => client.sendMail({ from: "a@x.test", to: [], data: MSG }),
      () => client.bdat(enc.encode("x")),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        promise = call();
      });
      await assert.rejects(promise!);
    }
  });
});

// ---- QUIT, close, dispose ----

test("client: quit sends QUIT, returns the reply and closes", async () => {
  await withFakeClient({}, {}, async (client, fake) => {
    const reply = await client.quit();
    assert.equal(reply?.code, 221);
    assert.equal(client.connected, false);
    assert.deepEqual(fake.commands, ["EHLO localhost", "QUIT"]);
    const p = await fake.peer();
    assert.ok(await p.waitClosed(2000));
    assert.equal(await client.quit(), undefined);
  });
});

test("client: await using sends QUIT then closes", async () => {
  const fake = await smtpFake();
  try {
    {
      await using client = await SmtpClient.connect(fakeClientOptions(fake));
      await client.noop();
    }
    assert.deepEqual(fake.commands, ["EHLO localhost", "NOOP", "QUIT"]);
    const p = await fake.peer();
    assert.ok(await p.waitClosed(2000));
  } finally {
    await fake.close();
  }
});

test("client: await using on a server that never answers QUIT is bounded", async () => {
  const fake = await smtpFake({ hook: (l) => l === "QUIT" ? null : undefined });
  try {
    const start = performance.now();
    {
      await using client = await SmtpClient.connect(
        fakeClientOptions(fake, { timeout: 400 }),
      );
      assert.ok(client.connected);
    }
    const ms = performance.now() - start;
    assert.ok(ms < 1500, `${ms} ms`);
    assert.deepEqual(fake.commands, ["EHLO localhost", "QUIT"]);
  } finally {
    await fake.close();
  }
});

test("client: quit on a dead connection doesn't throw; methods after close are SmtpServerDisconnectedError", async () => {
  await withFakeClient({}, {}, async (client, fake) => {
    const p = await fake.peer();
    p.destroy();
    await sleep(50);
    assert.equal(await client.quit(), undefined);
    assert.equal(client.connected, false);
    await client.close();
    for (
      const call of [
        () => client.noop(),
        () => client.command("NOOP"),
        () => client.ehlo(),
        () => client.mail("a@x.test"),
        () => client.rcpt("b@x.test"),
        () => client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        () => client.rset(),
      ]
    ) {
      await failure(call(), SmtpServerDisconnectedError);
    }
  });
});

test("client: methods before connect are SmtpServerDisconnectedError", async () => {
  const client = new SmtpClient({
    hostname: "127.0.0.1",
    port: 1,
    tls: "none",
  });
  assert.equal(client.connected, false);
  await failure(client.noop(), SmtpServerDisconnectedError);
  await failure(
    client.quit().then(() => client.noop()),
    SmtpServerDisconnectedError,
  );
});

test("client: reconnect after close starts fresh (features of the new session only)", async () => {
  let n = 0;
  const fake = await smtpFake({
    hook: (line) =>
      line.startsWith("EHLO")
        ? ehloReply(
          n++ === 0 ? ["SIZE 10", "DSN", "AUTH PLAIN"] : ["PIPELINING"],
        )
        : undefined,
  });
  const client = new SmtpClient(fakeClientOptions(fake));
  try {
    await client.connect();
    assert.ok(client.hasExtension("SIZE"));
    // The first session logs in for real: the flag must not survive it.
    const reply = await client.login("tim", "pw");
    assert.equal(reply?.code, 235);
    assert.equal(client.authenticated, true);
    await client.quit();
    assert.equal(client.authenticated, false, "forgotten at quit");
    await client.connect();
    assert.ok(!client.hasExtension("SIZE"));
    assert.ok(!client.hasExtension("DSN"));
    assert.ok(client.hasExtension("PIPELINING"));
    assert.equal(client.authenticated, false);
    assert.deepEqual(fake.commands.filter((c) => /^(EHLO|AUTH)/.test(c)), [
      "EHLO localhost",
      `AUTH PLAIN ${Buffer.from("\0tim\0pw").toString("base64")}`,
      "EHLO localhost",
    ]);
    await client.quit();
  } finally {
    await client.close();
    await fake.close();
  }
});

test("client: 8-bit data to a server without 8BITMIME is refused before MAIL, unless body is 7BIT", async () => {
  await withFakeClient(
    { features: ["PIPELINING"] },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: "Subject: é\r\n\r\nx\r\n",
        }),
        SmtpNotSupportedError,
      );
      assert.ok(!fake.commands.some((c) => c.startsWith("MAIL")));
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: enc.encode("Subject: é\r\n\r\nx\r\n"),
        mailOptions: { body: "7BIT" },
      });
      assert.ok(
        fake.commands.includes("MAIL FROM:<a@x.test>"),
        "no BODY= parameter without 8BITMIME",
      );
    },
  );
});

test("client: typed MAIL/RCPT option values are checked (no injection through them)", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "DSN", "SIZE 1000", "8BITMIME"] },
    {},
    async (client, fake) => {
      const bad: Array<Record<string, unknown>> = [
        { mailOptions: { ret: "FULL\r\nRCPT TO:<evil@x.test>" } },
        { mailOptions: { body: "7BIT\r\nNOOP" } },
        { mailOptions: { size: "3\r\nNOOP" } },
        { mailOptions: { size: -1 } },
        { mailOptions: { size: 1.5 } },
        { rcptOptions: { notify: ["SUCCESS\r\nRCPT TO:<evil@x.test>"] } },
        { rcptOptions: { notify: [] } },
        { rcptOptions: { notify: ["SUCCESS", "SUCCESS"] } },
      ];
      for (const extra of bad) {
        await failure(
          client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: "x",
            ...extra,
          }),
          InvalidInputError,
        );
      }
      assert.ok(
        !fake.commands.some((c) => c.startsWith("MAIL") || c.includes("evil")),
      );
    },
  );
});

test("client: a locked stream is refused before DATA; a stream of strings closes the session", async () => {
  await withFakeClient(
    { features: ["PIPELINING"] },
    { chunking: false },
    async (client, fake) => {
      const locked = new ReadableStream<Uint8Array>();
      locked.getReader();
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: locked }),
        InvalidInputError,
      );
      assert.ok(!fake.commands.some((c) => c.startsWith("MAIL")));
      assert.equal(client.connected, true);
      const strings = new ReadableStream({
        start(c) {
          c.enqueue("not bytes");
          c.close();
        },
      }) as unknown as ReadableStream<Uint8Array>;
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: strings }),
        InvalidInputError,
      );
      assert.equal(
        client.connected,
        false,
        "after 354 the session can't be saved",
      );
    },
  );
});
