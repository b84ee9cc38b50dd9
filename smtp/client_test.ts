import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { SmtpClient } from "./client.ts";
import type { SmtpClientOptions } from "./options.ts";
import { xtext } from "./commands.ts";
import {
  SmtpDataError,
  SmtpError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
} from "./errors.ts";
import type { LogEntry } from "../io/log.ts";
import { InvalidInputError } from "../errors.ts";
import { fixture } from "../tests/fakes/scripted.ts";
import {
  after,
  ehloReply,
  failure,
  sleep,
  type SmtpFake,
  smtpFake,
  type SmtpFakeOptions,
} from "../tests/fakes/smtp_fake.ts";

const enc = new TextEncoder();

function opts(
  fake: SmtpFake,
  extra: SmtpClientOptions = {},
): SmtpClientOptions {
  return {
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
    timeout: 3000,
    ...extra,
  };
}

/** Run `body` against a fresh fake; always closes the client and the fake. */
async function withFake(
  fakeOptions: SmtpFakeOptions,
  clientOptions: SmtpClientOptions,
  body: (client: SmtpClient, fake: SmtpFake) => Promise<void>,
): Promise<void> {
  const fake = await smtpFake(fakeOptions);
  const client = new SmtpClient(opts(fake, clientOptions));
  try {
    await client.connect();
    await body(client, fake);
  } finally {
    await client.close();
    await fake.close();
  }
}

/** What DATA must put on the wire for `body`: CRLF everywhere, dots stuffed, one terminator. */
function dataWire(body: string): string {
  if (body === "") return ".\r\n";
  let s = body.replace(/\r\n|\r|\n/g, "\r\n");
  if (!s.endsWith("\r\n")) s += "\r\n";
  return s.slice(0, -2).split("\r\n").map((l) =>
    l.startsWith(".") ? "." + l : l
  )
    .join("\r\n") + "\r\n.\r\n";
}

/** What BDAT must put on the wire for `body`: CRLF everywhere, nothing else. */
function bdatWire(body: string): string {
  if (body === "") return "";
  const s = body.replace(/\r\n|\r|\n/g, "\r\n");
  return s.endsWith("\r\n") ? s : s + "\r\n";
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
}

/** Split `bytes` at the given offsets. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [
    ...new Set(cuts.map((c) => c % (bytes.length + 1))),
  ].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

const MSG = "Subject: hi\r\n\r\nHello\r\n";

// ---- greeting, EHLO, features ----

test("client: greeting kept, EHLO features parsed, hasExtension case-insensitive", async () => {
  await withFake(
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
  await withFake(
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
  await withFake({}, { localName: "me.example" }, async (client, fake) => {
    await client.ehloOrHelo();
    assert.deepEqual(fake.commands, ["EHLO me.example"]);
  });
});

test("client: EHLO 5xx falls back to HELO", async () => {
  await withFake(
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
      SmtpClient.connect(opts(fake)),
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
  await withFake({}, {}, async (client) => {
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
  await withFake(
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
    await withFake(
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
  await withFake(
    { features: ["AUTH LOGIN PLAIN CRAM-MD5"] },
    {},
    async (client, fake) => {
      await client.login("tim", "pw");
      assert.equal(fake.commands[1], "AUTH CRAM-MD5");
    },
  );
  await withFake(
    { features: ["AUTH LOGIN PLAIN CRAM-MD5"] },
    {},
    async (client, fake) => {
      await client.login("tim", "pw", { preference: ["LOGIN"] });
      assert.equal(fake.commands[1], "AUTH LOGIN");
    },
  );
});

test("client: initialResponse false waits for the empty challenge", async () => {
  await withFake({ features: ["AUTH PLAIN"] }, {}, async (client, fake) => {
    await client.login("tim", "pw", { initialResponse: false });
    assert.deepEqual(fake.commands.slice(1), [
      "AUTH PLAIN",
      Buffer.from("\0tim\0pw").toString("base64"),
    ]);
  });
});

test("client: loginWithToken uses XOAUTH2", async () => {
  await withFake(
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
  await withFake({ features: ["PIPELINING"] }, {}, async (client, fake) => {
    await failure(client.login("tim", "pw"), SmtpNotSupportedError);
    assert.deepEqual(fake.commands, ["EHLO localhost"]);
  });
});

// ---- simple commands ----

test("client: command, noop, rset, verify, expn, help send their lines", async () => {
  await withFake(
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
  await withFake(
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
  await withFake(
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
  await withFake({}, {}, async (client) => {
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

// ---- sendMail: pipelining ----

test("client: PIPELINING puts MAIL, every RCPT and DATA in one write", async () => {
  await withFake({ features: ["PIPELINING"] }, {}, async (client, fake) => {
    const res = await client.sendMail({
      from: "a@x.test",
      to: ["b@x.test", "c@x.test", "d@x.test"],
      data: MSG,
    });
    assert.equal(res.reply.code, 250);
    assert.deepEqual(res.accepted, ["b@x.test", "c@x.test", "d@x.test"]);
    assert.equal(res.refused.size, 0);
    const p = await fake.peer();
    const batch = p.chunks.map(String).find((c) => c.includes("MAIL FROM"));
    assert.equal(
      batch,
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n" +
        "RCPT TO:<d@x.test>\r\nDATA\r\n",
    );
    assert.equal(fake.messages[0].data, MSG);
  });
});

test("client: without PIPELINING each command waits for its reply", async () => {
  for (
    const [features, extra] of [
      [[], {}],
      [["PIPELINING"], { pipelining: false }],
    ] as const
  ) {
    await withFake(
      { features: [...features] },
      extra,
      async (client, fake) => {
        await client.sendMail({
          from: "a@x.test",
          to: ["b@x.test", "c@x.test"],
          data: MSG,
        });
        const p = await fake.peer();
        const chunks = p.chunks.map(String);
        for (
          const cmd of [
            "MAIL FROM:<a@x.test>\r\n",
            "RCPT TO:<b@x.test>\r\n",
            "RCPT TO:<c@x.test>\r\n",
            "DATA\r\n",
          ]
        ) {
          assert.ok(chunks.includes(cmd), `${cmd} in its own write`);
        }
        assert.equal(fake.messages[0].data, MSG);
      },
    );
  }
});

test("client: partial refusal: refused map with the replies, message sent to the rest", async () => {
  await withFake(
    {
      hook: (line) =>
        line.includes("bad") ? "550 5.1.1 no such user\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "bad1@x.test", "c@x.test", "bad2@x.test"],
        data: MSG,
      });
      assert.deepEqual(res.accepted, ["b@x.test", "c@x.test"]);
      assert.deepEqual([...res.refused.keys()], ["bad1@x.test", "bad2@x.test"]);
      assert.equal(res.refused.get("bad1@x.test")?.code, 550);
      assert.equal(res.refused.get("bad2@x.test")?.enhancedCode, "5.1.1");
      assert.equal(fake.messages.length, 1);
      assert.deepEqual(fake.messages[0].to, [
        "RCPT TO:<b@x.test>",
        "RCPT TO:<c@x.test>",
      ]);
    },
  );
});

test("client: 251 (will forward) counts as accepted", async () => {
  await withFake(
    {
      hook: (line) =>
        line.startsWith("RCPT") ? "251 2.1.5 will forward\r\n" : undefined,
    },
    {},
    async (client) => {
      const res = await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      });
      assert.deepEqual(res.accepted, ["b@x.test"]);
    },
  );
});

for (const pipelining of [true, false]) {
  const mode = pipelining ? "pipelined" : "one at a time";
  test(`client: all recipients refused (${mode}): no body, RSET, connection still usable`, async () => {
    let refuse = true;
    await withFake(
      {
        hook: (line) => {
          if (line.startsWith("RCPT") && refuse) return "550 5.1.1 nope\r\n";
          if (
            line === "DATA" && refuse
          ) return "554 5.5.1 no valid recipients\r\n";
        },
      },
      { pipelining },
      async (client, fake) => {
        const { err } = await failure(
          client.sendMail({
            from: "a@x.test",
            to: ["b@x.test", "c@x.test"],
            data: "Subject: x\r\n\r\nSECRET-BODY\r\n",
          }),
          SmtpRecipientsRefusedError,
        );
        assert.deepEqual([...err.recipients.keys()], ["b@x.test", "c@x.test"]);
        assert.equal(err.recipients.get("c@x.test")?.code, 550);
        const p = await fake.peer();
        assert.ok(!p.text.includes("SECRET-BODY"));
        assert.ok(fake.commands.includes("RSET"));
        assert.equal(
          fake.commands.includes("DATA"),
          pipelining,
          "DATA only in the pipelined batch",
        );
        assert.equal(client.connected, true);
        refuse = false;
        const res = await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
        });
        assert.equal(res.reply.code, 250);
        assert.equal(fake.messages.length, 1);
        assert.equal(fake.messages[0].data, MSG);
      },
    );
  });

  test(`client: MAIL refused (${mode}) is SmtpSenderRefusedError, RSET sent`, async () => {
    await withFake(
      {
        hook: (line) => {
          if (line.startsWith("MAIL")) return "553 5.1.8 bad sender\r\n";
          if (line.startsWith("RCPT")) return "503 5.5.1 need mail\r\n";
          if (line === "DATA") return "503 5.5.1 need rcpt\r\n";
        },
      },
      { pipelining },
      async (client, fake) => {
        const { err } = await failure(
          client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
          SmtpSenderRefusedError,
        );
        assert.equal(err.sender, "a@x.test");
        assert.equal(err.code, 553);
        assert.equal(fake.commands.at(-1), "RSET");
        if (!pipelining) {
          assert.ok(!fake.commands.some((c) => c.startsWith("RCPT")));
        }
        assert.equal(fake.messages.length, 0);
        assert.equal((await client.noop()).code, 250);
      },
    );
  });
}

test("client: a server that sends 354 despite no valid recipient gets an empty message ended with '.'", async () => {
  await withFake(
    {
      hook: (line) => {
        if (line.startsWith("RCPT")) return "550 5.1.1 nope\r\n";
        if (line === ".") return "554 5.5.1 no recipients\r\n";
      },
    },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: "Subject: x\r\n\r\nSECRET-BODY\r\n",
        }),
        SmtpRecipientsRefusedError,
      );
      const p = await fake.peer();
      assert.ok(!p.text.includes("SECRET-BODY"));
      assert.equal(after(p.text, "DATA\r\n", "RSET\r\n"), ".\r\n");
      assert.equal(fake.commands.at(-1), "RSET");
      assert.equal((await client.noop()).code, 250);
    },
  );
});

test("client: DATA refused with accepted recipients is SmtpDataError, RSET sent", async () => {
  await withFake(
    {
      hook: (line) => line === "DATA" ? "451 4.3.0 try later\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const { err } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpDataError,
      );
      assert.equal(err.code, 451);
      assert.equal(err.transient, true);
      assert.equal(fake.commands.at(-1), "RSET");
    },
  );
});

test("client: message refused after the dot is SmtpDataError, RSET sent, connection usable", async () => {
  let n = 0;
  await withFake(
    {
      hook: (line) =>
        line === "." && n++ === 0 ? "554 5.7.1 spam\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const { err } = await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpDataError,
      );
      assert.equal(err.code, 554);
      assert.equal(err.enhancedCode, "5.7.1");
      assert.equal(fake.commands.at(-1), "RSET");
      const res = await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      });
      assert.equal(res.reply.code, 250);
    },
  );
});

test("client: sendMail input checks: no recipients, bad data type", async () => {
  await withFake({}, {}, async (client) => {
    await failure(
      client.sendMail({ from: "a@x.test", to: [], data: MSG }),
      InvalidInputError,
    );
    await failure(
      client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: 42 as unknown as string,
      }),
      InvalidInputError,
    );
  });
});

// ---- DATA encoding ----

const awkward = [
  "",
  "no line end",
  ".",
  "..",
  ".\r\n",
  "a\n.\nb",
  "a\r.\rb\r",
  "line\r\n.hidden\r\n..two\r\n.\r\n",
  "bare\nlf\nand\rcr\r\n\r\n\n.",
  "\r\n.\r\n",
  "x\r\n.\r\nQUIT\r\n",
  "ends with cr\r",
  "é\r\n.é\n",
];

test("client: DATA stuffs dots and normalises line ends (string, bytes, stream)", async () => {
  await withFake(
    { features: ["PIPELINING", "8BITMIME"] },
    { chunking: false },
    async (client, fake) => {
      const p = await fake.peer();
      for (const body of awkward) {
        const bytes = enc.encode(body);
        const inputs: Array<
          [string, () => string | Uint8Array | ReadableStream<Uint8Array>]
        > = [
          ["string", () => body],
          ["bytes", () => bytes],
          [
            "stream, byte at a time",
            () => streamOf([...bytes].map((b) => Uint8Array.of(b))),
          ],
          ["stream, one chunk", () => streamOf([bytes])],
        ];
        for (const [kind, data] of inputs) {
          const before = p.received.length;
          await client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: data(),
          });
          const sent = p.received.subarray(before).toString("latin1");
          const wire = Buffer.from(dataWire(body)).toString("latin1");
          assert.equal(
            after(sent, "DATA\r\n"),
            wire,
            `${kind}: ${JSON.stringify(body)}`,
          );
        }
      }
    },
  );
});

test("client: DATA property: any body split anywhere gives the same exact wire bytes", async () => {
  await withFake({}, { chunking: false }, async (client, fake) => {
    const p = await fake.peer();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", ".", "\r", "\n", "\r\n", "é", "X"), {
          maxLength: 30,
        }).map((a) => a.join("")),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (body, cuts) => {
          const bytes = enc.encode(body);
          const before = p.received.length;
          await client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: streamOf(split(bytes, cuts)),
          });
          const sent = p.received.subarray(before).toString("latin1");
          assert.equal(
            after(sent, "DATA\r\n"),
            Buffer.from(dataWire(body)).toString("latin1"),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

test("client: DATA body with a large stream is sent whole", async () => {
  await withFake({}, {}, async (client, fake) => {
    const line = "x".repeat(998) + "\r\n";
    const chunks = Array.from({ length: 300 }, () => enc.encode(line));
    await client.sendMail({
      from: "a@x.test",
      to: "b@x.test",
      data: streamOf(chunks),
    });
    assert.equal(fake.messages[0].data, line.repeat(300));
  });
});

// ---- CHUNKING ----

test("client: CHUNKING+PIPELINING: MAIL, RCPTs, BDAT LAST and the body in one write", async () => {
  await withFake(
    { features: ["PIPELINING", "CHUNKING", "8BITMIME"] },
    {},
    async (client, fake) => {
      const body = "Subject: x\n\n.dot\r\nbare\rcr\n..";
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: body,
      });
      assert.equal(res.reply.code, 250);
      const wire = bdatWire(body);
      const p = await fake.peer();
      const batch = p.chunks.map(String).find((c) => c.includes("MAIL FROM"));
      assert.equal(
        batch,
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n" +
          `BDAT ${Buffer.byteLength(wire)} LAST\r\n${wire}`,
      );
      assert.equal(wire, "Subject: x\r\n\r\n.dot\r\nbare\r\ncr\r\n..\r\n");
      assert.ok(!fake.commands.includes("DATA"));
    },
  );
});

test("client: CHUNKING body bytes exact for every awkward body (no stuffing, CRLF only)", async () => {
  await withFake(
    { features: ["PIPELINING", "CHUNKING", "8BITMIME"] },
    {},
    async (client, fake) => {
      const p = await fake.peer();
      for (const body of awkward.filter((b) => b !== "")) {
        for (const data of [body, enc.encode(body)]) {
          const before = p.received.length;
          await client.sendMail({ from: "a@x.test", to: "b@x.test", data });
          const sent = p.received.subarray(before).toString("latin1");
          const wire = Buffer.from(bdatWire(body)).toString("latin1");
          assert.equal(
            after(sent, ` LAST\r\n`),
            wire,
            JSON.stringify(body),
          );
          assert.ok(sent.includes(`BDAT ${wire.length} LAST\r\n`));
        }
      }
    },
  );
});

test("client: CHUNKING: a large message (> 1 MiB) waits for the envelope replies first", async () => {
  let bdatEarly: boolean | undefined;
  await withFake(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: async (line, ctx) => {
        if (line === "RCPT TO:<c@x.test>") {
          await sleep(100);
          bdatEarly = ctx.peer.text.includes("BDAT");
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const big = ("y".repeat(1000) + "\r\n").repeat(1200); // ~1.2 MB
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: big,
      });
      assert.equal(res.reply.code, 250);
      assert.equal(bdatEarly, false);
      assert.ok(fake.commands.includes(`BDAT ${big.length} LAST`));
      assert.equal(fake.messages[0].data, big);
    },
  );
});

test("client: CHUNKING: large message with every recipient refused sends no BDAT", async () => {
  await withFake(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line) => line.startsWith("RCPT") ? "550 nope\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const big = ("z".repeat(1000) + "\r\n").repeat(1100);
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: big }),
        SmtpRecipientsRefusedError,
      );
      assert.ok(!fake.commands.some((c) => c.startsWith("BDAT")));
      assert.equal(fake.commands.at(-1), "RSET");
      const p = await fake.peer();
      assert.ok(!p.text.includes("zzzz"));
    },
  );
});

test("client: CHUNKING small message, every recipient refused: chunk reply read, RSET, usable", async () => {
  await withFake(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line) =>
        line.startsWith("RCPT")
          ? "550 nope\r\n"
          : line.startsWith("BDAT")
          ? "554 5.5.1 no valid recipients\r\n"
          : undefined,
    },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpRecipientsRefusedError,
      );
      assert.equal(fake.commands.at(-1), "RSET");
      assert.equal((await client.noop()).code, 250);
    },
  );
});

test("client: a stream body uses DATA even with CHUNKING", async () => {
  await withFake(
    { features: ["PIPELINING", "CHUNKING"] },
    {},
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: streamOf([enc.encode(MSG)]),
      });
      assert.ok(fake.commands.includes("DATA"));
      assert.equal(fake.messages[0].data, MSG);
    },
  );
});

// ---- MAIL parameters ----

test("client: SIZE= sent when offered; BODY=8BITMIME for 8-bit text", async () => {
  await withFake(
    { features: ["PIPELINING", "SIZE 100000", "8BITMIME"] },
    {},
    async (client, fake) => {
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
      const mail1 = fake.commands.find((c) => c.startsWith("MAIL"));
      assert.match(mail1!, /^MAIL FROM:<a@x\.test> SIZE=\d+$/);
      assert.equal(mail1, `MAIL FROM:<a@x.test> SIZE=${MSG.length}`);
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: "Subject: é\r\n\r\nü\r\n",
      });
      const mail2 = fake.commands.filter((c) => c.startsWith("MAIL"))[1];
      assert.match(mail2, /^MAIL FROM:<a@x\.test> SIZE=\d+ BODY=8BITMIME$/);
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: enc.encode("\xff"),
      });
      assert.match(
        fake.commands.filter((c) => c.startsWith("MAIL"))[2],
        /BODY=8BITMIME/,
      );
    },
  );
});

test("client: SIZE= is the message size (RFC 1870: CRLF line ends, no stuffed dots, no end marker)", async () => {
  for (const chunking of [false, true]) {
    await withFake(
      { features: ["PIPELINING", "CHUNKING", "SIZE 100"] },
      { chunking },
      async (client, fake) => {
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: "a\n.b\n..",
        });
        assert.equal(fake.commands[1], "MAIL FROM:<a@x.test> SIZE=11");
        // Exactly at the limit, with dots to stuff: accepted.
        const exact = ".".repeat(98) + "\r\n";
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: exact,
        });
        assert.equal(fake.messages[1].data, exact);
        await failure(
          client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: "x" + exact,
          }),
          SmtpNotSupportedError,
        );
      },
    );
  }
});

test("client: no SIZE parameter when the server doesn't offer SIZE", async () => {
  await withFake({}, {}, async (client, fake) => {
    await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
    assert.equal(
      fake.commands.find((c) => c.startsWith("MAIL")),
      "MAIL FROM:<a@x.test>",
    );
  });
});

test("client: DSN parameters on the wire (RET, ENVID xtext, NOTIFY, ORCPT xtext)", async () => {
  await withFake(
    { features: ["PIPELINING", "DSN"] },
    {},
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: [
          "b@x.test",
          { address: "c@x.test", notify: "NEVER", orcpt: "c+tag@x.test" },
        ],
        data: MSG,
        mailOptions: { ret: "FULL", envid: "id=1+2 é" },
        rcptOptions: { notify: ["SUCCESS", "FAILURE"] },
      });
      assert.deepEqual(fake.commands.slice(1, 4), [
        "MAIL FROM:<a@x.test> RET=FULL ENVID=id+3D1+2B2+20+C3+A9",
        "RCPT TO:<b@x.test> NOTIFY=SUCCESS,FAILURE",
        "RCPT TO:<c@x.test> NOTIFY=NEVER ORCPT=rfc822;c+2Btag@x.test",
      ]);
    },
  );
});

test("client: xtext encodes +, =, controls, space and non-ascii", () => {
  assert.equal(xtext("plain@x.test"), "plain@x.test");
  assert.equal(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
  assert.equal(xtext("\x7f\x00é"), "+7F+00+C3+A9");
});

test("client: DSN options to a server without DSN are SmtpNotSupportedError before MAIL", async () => {
  await withFake({}, {}, async (client, fake) => {
    for (
      const call of [
        { mailOptions: { ret: "HDRS" as const } },
        { mailOptions: { envid: "x" } },
        { rcptOptions: { notify: "NEVER" as const } },
        { rcptOptions: { orcpt: "b@x.test" } },
      ]
    ) {
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
          ...call,
        }),
        SmtpNotSupportedError,
      );
    }
    assert.ok(!fake.commands.some((c) => c.startsWith("MAIL")));
  });
});

test("client: raw mail and rcpt params are passed through", async () => {
  await withFake({}, {}, async (client, fake) => {
    await client.sendMail({
      from: "a@x.test",
      to: { address: "b@x.test", params: ["X-B=2"] },
      data: MSG,
      mailOptions: { params: ["MT-PRIORITY=3"] },
      rcptOptions: { params: ["X-A=1"] },
    });
    assert.deepEqual(fake.commands.slice(1, 3), [
      "MAIL FROM:<a@x.test> MT-PRIORITY=3",
      "RCPT TO:<b@x.test> X-A=1 X-B=2",
    ]);
  });
});

test("client: REQUIRETLS needs TLS; BINARYMIME needs the extension", async () => {
  await withFake(
    { features: ["PIPELINING", "REQUIRETLS"] },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
          mailOptions: { requireTls: true },
        }),
        SmtpNotSupportedError,
      );
      await failure(
        client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
          mailOptions: { body: "BINARYMIME" },
        }),
        SmtpNotSupportedError,
      );
      assert.ok(!fake.commands.some((c) => c.startsWith("MAIL")));
    },
  );
});

test("client: null sender is MAIL FROM:<>", async () => {
  await withFake({}, {}, async (client, fake) => {
    await client.sendMail({ from: "", to: "b@x.test", data: MSG });
    assert.equal(fake.commands[1], "MAIL FROM:<>");
  });
});

// ---- sendMessage ----

test("client: sendMessage takes the envelope from the headers and strips Bcc", async () => {
  await withFake({}, {}, async (client, fake) => {
    const msg = "From: Ann <ann@x.test>\r\nSender: sec@x.test\r\n" +
      'To: "Doe, J" <j@x.test>, team: b@x.test;\r\nCc: c@x.test (boss)\r\n' +
      "Bcc: hidden@x.test,\r\n\thidden2@x.test\r\nSubject: hi\r\n\r\nBody\r\n";
    const res = await client.sendMessage(msg);
    assert.deepEqual(res.accepted, [
      "j@x.test",
      "b@x.test",
      "c@x.test",
      "hidden@x.test",
      "hidden2@x.test",
    ]);
    assert.equal(fake.commands[1], "MAIL FROM:<sec@x.test>");
    const data = fake.messages[0].data;
    assert.ok(!data.includes("hidden"));
    assert.ok(!/^bcc:/im.test(data));
    assert.equal(
      data,
      "From: Ann <ann@x.test>\r\nSender: sec@x.test\r\n" +
        'To: "Doe, J" <j@x.test>, team: b@x.test;\r\nCc: c@x.test (boss)\r\n' +
        "Subject: hi\r\n\r\nBody\r\n",
    );
  });
});

test("client: sendMessage uses a single Resent block, strips Resent-Bcc; two blocks fail", async () => {
  await withFake({}, {}, async (client, fake) => {
    await client.sendMessage(
      enc.encode(
        "From: a@x.test\r\nTo: b@x.test\r\nResent-Date: now\r\nResent-From: r@x.test\r\n" +
          "Resent-To: rt@x.test\r\nResent-Bcc: rb@x.test\r\n\r\nx\r\n",
      ),
    );
    assert.deepEqual(fake.commands.slice(1, 4), [
      "MAIL FROM:<r@x.test>",
      "RCPT TO:<rt@x.test>",
      "RCPT TO:<rb@x.test>",
    ]);
    assert.ok(!fake.messages[0].data.includes("rb@x.test"));
    const count = fake.commands.length;
    await failure(
      client.sendMessage(
        "From: a@x.test\r\nResent-Date: 1\r\nResent-To: b@x.test\r\nResent-Date: 2\r\n\r\n",
      ),
      InvalidInputError,
    );
    assert.equal(fake.commands.length, count);
  });
});

test("client: sendMessage with options from/to overrides", async () => {
  await withFake({}, {}, async (client, fake) => {
    await client.sendMessage("From: a@x.test\r\nTo: b@x.test\r\n\r\nx\r\n", {
      from: "o@x.test",
      to: ["p@x.test"],
    });
    assert.deepEqual(fake.commands.slice(1, 3), [
      "MAIL FROM:<o@x.test>",
      "RCPT TO:<p@x.test>",
    ]);
  });
});

test("client: sendMessage with a non-ascii address uses SMTPUTF8 when offered", async () => {
  await withFake(
    { features: ["PIPELINING", "SMTPUTF8", "8BITMIME"] },
    {},
    async (client, fake) => {
      await client.sendMessage(
        "From: Jörg <jörg@bücher.test>\r\nTo: b@x.test\r\n\r\nx\r\n",
      );
      assert.equal(
        fake.commands[1],
        "MAIL FROM:<jörg@bücher.test> BODY=8BITMIME SMTPUTF8",
      );
    },
  );
});

// ---- transcript ----

test("client: transcript never shows credentials or AUTH payloads (PLAIN, LOGIN, CRAM-MD5)", async () => {
  const username = "tim@x.test";
  const password = "Pa55-word-XYZ";
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5"]) {
    const log: LogEntry[] = [];
    await withFake(
      { features: ["AUTH PLAIN LOGIN CRAM-MD5"] },
      { logger: (e) => log.push(e) },
      async (client, fake) => {
        await client.login(username, password, { mechanism });
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: "Subject: x\r\n\r\nSECRET-BODY-TEXT\r\n",
        });
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: streamOf([enc.encode("Subject: y\r\n\r\nSTREAMED-SECRET\r\n")]),
        });
        await client.quit();
        const payloads = fake.commands.filter((c, i) =>
          i > 0 && !/^(EHLO|MAIL|RCPT|DATA|QUIT)/.test(c)
        );
        assert.ok(payloads.length >= 1);
        const texts = log.map((e) => e.text);
        const forbidden = [
          password,
          b64(username),
          b64(password),
          b64(`\0${username}\0${password}`),
          ...payloads.filter((p) => !p.startsWith("AUTH ")),
          ...payloads.filter((p) => p.startsWith("AUTH ") && p.split(" ")[2])
            .map((p) => p.split(" ")[2]),
          "SECRET-BODY-TEXT",
          "STREAMED-SECRET",
        ];
        for (const t of texts) {
          for (const f of forbidden) {
            assert.ok(
              !t.includes(f),
              `${mechanism}: log entry ${JSON.stringify(t)}`,
            );
          }
        }
        if (mechanism === "PLAIN") {
          assert.ok(texts.includes("AUTH PLAIN <redacted>"), texts.join("\n"));
        } else {
          assert.ok(texts.includes(`AUTH ${mechanism}`));
          assert.ok(texts.includes("<redacted>"));
        }
        assert.ok(texts.includes("MAIL FROM:<a@x.test>"));
        assert.ok(texts.some((t) => /^<\d+ bytes of message data>$/.test(t)));
        assert.ok(
          log.some((e) => e.direction === "server" && e.text.startsWith("235")),
        );
        for (const e of log) assert.ok(e.time instanceof Date);
      },
    );
  }
});

test("client: transcript with CHUNKING shows BDAT sizes, never the body", async () => {
  const log: LogEntry[] = [];
  await withFake(
    { features: ["PIPELINING", "CHUNKING"] },
    { logger: (e) => log.push(e) },
    async (client) => {
      const small = "Subject: x\r\n\r\nSMALL-SECRET\r\n";
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: small });
      const big = ("BIG-SECRET-LINE" + "z".repeat(985) + "\r\n").repeat(1100);
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: big });
      const texts = log.map((e) => e.text);
      assert.ok(!texts.some((t) => t.includes("SECRET")), texts.join("\n"));
      assert.ok(
        texts.includes(
          `BDAT ${small.length} LAST <${small.length} bytes of message data>`,
        ),
      );
      assert.ok(
        texts.includes(
          `BDAT ${big.length} LAST <${big.length} bytes of message data>`,
        ),
      );
      assert.ok(
        log.some((e) => e.direction === "server" && e.text.startsWith("250")),
      );
    },
  );
});

// ---- QUIT, close, dispose ----

test("client: quit sends QUIT, returns the reply and closes", async () => {
  await withFake({}, {}, async (client, fake) => {
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
      await using client = await SmtpClient.connect(opts(fake));
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
        opts(fake, { timeout: 400 }),
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
  await withFake({}, {}, async (client, fake) => {
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
  const client = new SmtpClient(opts(fake));
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
  await withFake({ features: ["PIPELINING"] }, {}, async (client, fake) => {
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
  });
});

test("client: typed MAIL/RCPT option values are checked (no injection through them)", async () => {
  await withFake(
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
  await withFake(
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
