// SmtpClient.sendMail and sendMessage against the fake: pipelining, refusals, MAIL and RCPT parameters, envelopes from headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { xtext } from "./commands.ts";
import {
  SmtpDataError,
  SmtpNotSupportedError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
} from "./errors.ts";
import { InvalidInputError } from "../errors.ts";
import { after, failure, withFakeClient } from "../tests/fakes/smtp_fake.ts";

const enc = new TextEncoder();
const MSG = "Subject: hi\r\n\r\nHello\r\n";

// ---- sendMail: pipelining ----

test("client: PIPELINING puts MAIL, every RCPT and DATA in one write", async () => {
  await withFakeClient(
    { features: ["PIPELINING"] },
    {},
    async (client, fake) => {
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
    },
  );
});

test("client: without PIPELINING each command waits for its reply", async () => {
  for (
    const [features, extra] of [
      [[], {}],
      [["PIPELINING"], { pipelining: false }],
    ] as const
  ) {
    await withFakeClient(
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
  await withFakeClient(
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
  await withFakeClient(
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
    await withFakeClient(
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
    await withFakeClient(
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
  await withFakeClient(
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
  await withFakeClient(
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
  await withFakeClient(
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
  await withFakeClient({}, {}, async (client) => {
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

// ---- MAIL parameters ----

test("client: SIZE= sent when offered; BODY=8BITMIME for 8-bit text", async () => {
  await withFakeClient(
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
    await withFakeClient(
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
  await withFakeClient({}, {}, async (client, fake) => {
    await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
    assert.equal(
      fake.commands.find((c) => c.startsWith("MAIL")),
      "MAIL FROM:<a@x.test>",
    );
  });
});

test("client: DSN parameters on the wire (RET, ENVID xtext, NOTIFY, ORCPT xtext)", async () => {
  await withFakeClient(
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
  await withFakeClient({}, {}, async (client, fake) => {
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
  await withFakeClient({}, {}, async (client, fake) => {
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
  await withFakeClient(
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
  await withFakeClient({}, {}, async (client, fake) => {
    await client.sendMail({ from: "", to: "b@x.test", data: MSG });
    assert.equal(fake.commands[1], "MAIL FROM:<>");
  });
});

// ---- sendMessage ----

test("client: sendMessage takes the envelope from the headers and strips Bcc", async () => {
  await withFakeClient({}, {}, async (client, fake) => {
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
  await withFakeClient({}, {}, async (client, fake) => {
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
  await withFakeClient({}, {}, async (client, fake) => {
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
  await withFakeClient(
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

test("sendMail: CHUNKING without PIPELINING: MAIL, each RCPT and DATA one at a time, each answered first (BDAT goes only with PIPELINING)", async () => {
  let unanswered = 0;
  const seen: number[] = [];
  await withFakeClient(
    {
      features: ["CHUNKING"],
      hook: (line) => {
        // Commands that arrive while an earlier one is unanswered were pipelined.
        seen.push(unanswered);
        if (
          line !== "." && !line.startsWith("Subject") && line !== "body" &&
          line !== ""
        ) {
          unanswered++;
          return new Promise((r) =>
            setTimeout(() => {
              unanswered--;
              r(undefined);
            }, 5)
          );
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: "Subject: x\r\n\r\nbody\r\n",
      });
      assert.deepEqual(res.accepted, ["b@x.test", "c@x.test"]);
      assert.deepEqual(
        fake.commands.slice(1).map((c) => c.split(":")[0].split(" ")[0]),
        ["MAIL", "RCPT", "RCPT", "DATA"],
      );
      assert.equal(fake.messages[0].data, "Subject: x\r\n\r\nbody\r\n");
      assert.ok(seen.every((n) => n === 0), `pipelined: ${seen}`);
    },
  );
});

test("sendMail: CHUNKING without PIPELINING, every RCPT refused: SmtpRecipientsRefusedError, no DATA sent", async () => {
  await withFakeClient(
    {
      features: ["CHUNKING"],
      hook: (line) =>
        line.startsWith("RCPT") ? "550 5.1.1 no such user\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: "x\r\n" }),
        SmtpRecipientsRefusedError,
      );
      assert.ok(
        !fake.commands.some((c) => c === "DATA" || c.startsWith("BDAT")),
      );
      assert.equal(fake.commands.at(-1), "RSET");
    },
  );
});
