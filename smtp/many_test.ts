// sendMany and cross-message pipelining against fakes: one result per message, and the failure semantics.

import assert from "node:assert/strict";
import { test } from "node:test";
import { AbortedError, InvalidInputError } from "../errors.ts";
import {
  type BatchMessage,
  LmtpClient,
  type SendManyResult,
  SmtpClient,
  type SmtpClientOptions,
  SmtpNotSentError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
  SmtpServiceClosingError,
} from "./mod.ts";
import {
  type SmtpFake,
  smtpFake,
  type SmtpFakeOptions,
} from "../tests/fakes/smtp_fake.ts";

const CHUNKING = ["PIPELINING", "CHUNKING", "8BITMIME", "SIZE 10000000"];
const DATA_ONLY = ["PIPELINING", "8BITMIME"];

function opts(fake: SmtpFake, extra: SmtpClientOptions = {}) {
  return {
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none" as const,
    timeout: 5000,
    ...extra,
  };
}

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

function batch(n: number, to = (i: number) => `r${i}@x.test`): BatchMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    from: `s${i}@x.test`,
    to: to(i),
    data: `Subject: ${i}\r\n\r\nmessage ${i}\r\n.dot line\r\n`,
  }));
}

/** The bodies the fake stored for accepted recipients, by subject number. */
function delivered(fake: SmtpFake): number[] {
  return fake.messages.filter((m) => m.to.length > 0).map((m) =>
    Number(/Subject: (\d+)/.exec(m.data)![1])
  );
}

function errorOf(r: SendManyResult): Error {
  assert.equal(r.ok, false, "expected a failed result");
  return (r as { error: Error }).error;
}

function exactly<T>(err: unknown, cls: abstract new (...a: never[]) => T) {
  assert.ok(
    err instanceof Error && err.constructor === cls,
    `expected ${cls.name}, got ${
      err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }`,
  );
}

test("many: CHUNKING: 50 messages go out back to back in one write, one result each", async () => {
  await withFake({ features: CHUNKING }, {}, async (client, fake) => {
    const results = await client.sendMany(batch(50));
    assert.equal(results.length, 50);
    for (const r of results) assert.ok(r.ok);
    assert.deepEqual(delivered(fake), [...Array(50).keys()]);
    const peer = await fake.peer();
    // Every MAIL and BDAT was written before any reply was read.
    const first = peer.chunks.findIndex((c) => c.includes("MAIL FROM:<s0@"));
    assert.ok(peer.chunks[first].toString().includes("MAIL FROM:<s49@"));
    assert.equal(
      fake.messages[3].data,
      "Subject: 3\r\n\r\nmessage 3\r\n.dot line\r\n",
    );
  });
});

test("many: DATA only: the next envelope rides with the previous dot (one round trip each)", async () => {
  await withFake({ features: DATA_ONLY }, {}, async (client, fake) => {
    const results = await client.sendMany(batch(10));
    for (const r of results) assert.ok(r.ok);
    assert.deepEqual(delivered(fake), [...Array(10).keys()]);
    const peer = await fake.peer();
    const riding = peer.chunks.filter((c) =>
      c.toString().includes(".\r\nMAIL FROM:<")
    );
    assert.equal(riding.length, 9);
    // Dot-stuffed on the wire, unstuffed by the fake.
    assert.ok(peer.text.includes("\r\n..dot line\r\n"));
    assert.equal(fake.messages[9].data.split("\r\n")[3], ".dot line");
  });
});

for (
  const [name, features] of [["CHUNKING", CHUNKING], [
    "DATA",
    DATA_ONLY,
  ]] as const
) {
  test(`many (${name}): a refused MAIL refuses that message alone; RSET follows; the next goes on`, async () => {
    let refusedMail = false;
    await withFake(
      {
        features: [...features],
        // A strict server: after a refused MAIL, RCPT and DATA/BDAT fail too.
        hook: (line, ctx) => {
          if (line.startsWith("MAIL")) {
            refusedMail = line.startsWith("MAIL FROM:<s3@");
            return refusedMail ? "550 5.7.1 sender blocked\r\n" : undefined;
          }
          if (refusedMail && line.startsWith("RCPT")) {
            return "503 5.5.1 need mail command\r\n";
          }
          if (refusedMail && line === "DATA") return "503 5.5.1 need rcpt\r\n";
          if (refusedMail && line.startsWith("BDAT")) {
            ctx.accepted = [];
            return "503 5.5.1 need rcpt\r\n";
          }
          return undefined;
        },
      },
      {},
      async (client, fake) => {
        const results = await client.sendMany(batch(6));
        const err = errorOf(results[3]);
        exactly(err, SmtpSenderRefusedError);
        assert.equal((err as SmtpSenderRefusedError).code, 550);
        for (const i of [0, 1, 2, 4, 5]) {
          assert.ok(results[i].ok, `message ${i}`);
        }
        assert.deepEqual(delivered(fake), [0, 1, 2, 4, 5]);
        assert.ok(fake.commands.includes("RSET"));
      },
    );
  });

  test(`many (${name}): every RCPT refused refuses that message (per-recipient replies), the rest delivered`, async () => {
    await withFake(
      {
        features: [...features],
        hook: (line) =>
          line.startsWith("RCPT TO:<r2")
            ? "550 5.1.1 no such user\r\n"
            : undefined,
      },
      {},
      async (client, fake) => {
        const results = await client.sendMany(
          batch(5, (i) => i === 2 ? "r2a@x.test" : `r${i}@x.test`).map((m, i) =>
            i === 2 ? { ...m, to: ["r2a@x.test", "r2b@x.test"] } : m
          ),
        );
        const err = errorOf(results[2]) as SmtpRecipientsRefusedError;
        exactly(err, SmtpRecipientsRefusedError);
        assert.deepEqual([...err.recipients.keys()], [
          "r2a@x.test",
          "r2b@x.test",
        ]);
        assert.equal(err.recipients.get("r2b@x.test")?.code, 550);
        assert.deepEqual(delivered(fake), [0, 1, 3, 4]);
        assert.ok(fake.commands.includes("RSET"));
      },
    );
  });
}

test("many: partial refusal: the message goes to the accepted recipients, refused ones reported", async () => {
  await withFake(
    {
      features: CHUNKING,
      hook: (line) =>
        line === "RCPT TO:<bad@x.test>" ? "550 5.1.1 unknown\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const [r] = await client.sendMany([{
        from: "a@x.test",
        to: ["ok@x.test", "bad@x.test"],
        data: "Subject: 0\r\n\r\nx\r\n",
      }]);
      assert.ok(r.ok);
      assert.deepEqual(r.result.accepted, ["ok@x.test"]);
      assert.equal(r.result.refused.get("bad@x.test")?.code, 550);
      assert.deepEqual(delivered(fake), [0]);
    },
  );
});

test("many (CHUNKING): 421 mid-batch: done before, the one it answers refused, the rest not sent", async () => {
  await withFake(
    {
      features: CHUNKING,
      hook: (line, ctx) => {
        if (line.startsWith("MAIL FROM:<s4@")) {
          return ctx.peer.write("421 4.3.2 shutting down\r\n").then(() =>
            "close" as const
          );
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const results = await client.sendMany(batch(10));
      for (const i of [0, 1, 2, 3]) assert.ok(results[i].ok, `message ${i}`);
      exactly(errorOf(results[4]), SmtpServiceClosingError);
      for (let i = 5; i < 10; i++) {
        exactly(errorOf(results[i]), SmtpNotSentError);
      }
      assert.deepEqual(delivered(fake), [0, 1, 2, 3]);
      assert.equal(client.connected, false);
    },
  );
});

test("many (DATA): 421 to a DATA mid-batch: done before, refused, the rest not sent", async () => {
  let n = 0;
  await withFake(
    {
      features: DATA_ONLY,
      hook: (line, ctx) => {
        if (line === "DATA" && ++n === 3) {
          return ctx.peer.write("421 4.3.2 bye\r\n").then(() =>
            "close" as const
          );
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const results = await client.sendMany(batch(6));
      assert.ok(results[0].ok && results[1].ok);
      exactly(errorOf(results[2]), SmtpServiceClosingError);
      for (let i = 3; i < 6; i++) {
        exactly(errorOf(results[i]), SmtpNotSentError);
      }
      assert.deepEqual(delivered(fake), [0, 1]);
    },
  );
});

test("many (CHUNKING): a disconnect mid-batch: done before, data sent without reply unknown, never lost", async () => {
  await withFake(
    {
      features: CHUNKING,
      hook: (line, ctx) => {
        if (line.startsWith("BDAT") && ctx.accepted[0]?.includes("<r5@")) {
          ctx.peer.end();
          return "close";
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const results = await client.sendMany(batch(12));
      for (let i = 0; i < 5; i++) assert.ok(results[i].ok, `message ${i}`);
      // Every later message's data had been written: its fate is unknown,
      // never reported as "not sent" (a retry could duplicate it).
      for (let i = 5; i < 12; i++) {
        exactly(errorOf(results[i]), SmtpOutcomeUnknownError);
      }
      assert.deepEqual(delivered(fake).slice(0, 5), [0, 1, 2, 3, 4]);
    },
  );
});

test("many (DATA): a disconnect after a dot: that one unknown, the next (envelope only) not sent", async () => {
  let dots = 0;
  await withFake(
    {
      features: DATA_ONLY,
      hook: (line) => line === "." && ++dots === 3 ? "close" : undefined,
    },
    {},
    async (client) => {
      const results = await client.sendMany(batch(6));
      assert.ok(results[0].ok && results[1].ok);
      exactly(errorOf(results[2]), SmtpOutcomeUnknownError);
      for (let i = 3; i < 6; i++) {
        exactly(errorOf(results[i]), SmtpNotSentError);
      }
    },
  );
});

test("many: a silent server mid-batch: within the batch's timeout, unknown or not sent", async () => {
  let silent = false;
  await withFake(
    {
      features: DATA_ONLY,
      hook: (line) => {
        if (line.startsWith("MAIL FROM:<s2@")) silent = true;
        return silent ? null : undefined;
      },
    },
    {},
    async (client) => {
      const start = performance.now();
      const results = await client.sendMany(batch(4), { timeout: 400 });
      const ms = performance.now() - start;
      assert.ok(ms < 2500, `${ms} ms`);
      assert.ok(results[0].ok && results[1].ok);
      // Message 2's envelope (no data) went out: not delivered.
      assert.equal(errorOf(results[2]).name, "TimeoutError");
      exactly(errorOf(results[3]), SmtpNotSentError);
      assert.equal(client.connected, false);
    },
  );
});

test("many: a server keeping a refused transaction open: the next MAIL's 503 is not sent, not refused", async () => {
  let open = false;
  await withFake(
    {
      features: CHUNKING,
      hook: (line) => {
        if (line.startsWith("MAIL")) {
          if (open) return "503 5.5.1 nested mail command\r\n";
          return undefined;
        }
        if (line.startsWith("RCPT TO:<r1@")) {
          open = true; // this server resets only on RSET
          return "550 5.1.1 unknown\r\n";
        }
        if (line === "RSET") open = false;
        return undefined;
      },
    },
    {},
    async (client) => {
      const results = await client.sendMany(batch(3));
      assert.ok(results[0].ok);
      exactly(errorOf(results[1]), SmtpRecipientsRefusedError);
      exactly(errorOf(results[2]), SmtpNotSentError);
    },
  );
});

test("many: an async iterable is pulled as it goes; a bad message fails alone, before a byte of it", async () => {
  await withFake({ features: CHUNKING }, {}, async (client, fake) => {
    let pulled = 0;
    async function* gen() {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 1));
        pulled++;
        yield i === 7
          ? { from: "bad\r\nRSET@x.test", to: "r@x.test", data: "x" }
          : batch(20)[i];
      }
    }
    const results = await client.sendMany(gen());
    assert.equal(pulled, 20);
    assert.equal(results.length, 20);
    exactly(errorOf(results[7]), InvalidInputError);
    assert.equal(results.filter((r) => r.ok).length, 19);
    assert.ok(!fake.commands.some((c) => c.includes("bad")));
  });
});

test("many: a message's signal withdraws it while unsent; onProgress counts every message", async () => {
  await withFake({ features: CHUNKING }, {}, async (client, fake) => {
    const ac = new AbortController();
    ac.abort("changed my mind");
    const messages = batch(5).map((m, i) =>
      i === 2 ? { ...m, signal: ac.signal } : m
    );
    const done: number[] = [];
    const results = await client.sendMany(messages, {
      onProgress: (p) => done.push(p.done),
    });
    exactly(errorOf(results[2]), AbortedError);
    assert.deepEqual(delivered(fake), [0, 1, 3, 4]);
    assert.equal(Math.max(...done), 5);
  });
});

test("many (DATA): a message withdrawn while the one before waits for its 354 is not sent (built ahead, never written)", async () => {
  const ac = new AbortController();
  let datas = 0;
  await withFake(
    {
      features: DATA_ONLY,
      hook: (line) => {
        // The client built message 2 while waiting for this 354.
        if (line === "DATA" && ++datas === 2) ac.abort("changed my mind");
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const messages = batch(5).map((m, i) =>
        i === 2 ? { ...m, signal: ac.signal } : m
      );
      const results = await client.sendMany(messages);
      exactly(errorOf(results[2]), AbortedError);
      assert.deepEqual(delivered(fake), [0, 1, 3, 4]);
      assert.ok(!fake.commands.includes("MAIL FROM:<s2@x.test>"));
    },
  );
});

test("many (DATA): the transcript shows every command in order, each body as its size", async () => {
  const client: string[] = [];
  await withFake(
    { features: DATA_ONLY },
    {
      logger: (e) => {
        if (e.direction === "client") client.push(e.text);
      },
    },
    async (c, fake) => {
      const to = (i: number) => [`a${i}@x.test`, `b${i}@x.test`];
      const results = await c.sendMany(
        batch(3).map((m, i) => ({ ...m, to: to(i) })),
      );
      assert.ok(results.every((r) => r.ok));
      const sent = client.slice(client.indexOf("MAIL FROM:<s0@x.test>"));
      const want: string[] = [];
      for (let i = 0; i < 3; i++) {
        want.push(
          `MAIL FROM:<s${i}@x.test>`,
          ...to(i).map((a) => `RCPT TO:<${a}>`),
          "DATA",
          `<${fake.messages[i].data.length + 4} bytes of message data>`,
        );
      }
      assert.deepEqual(sent.slice(0, want.length), want);
    },
  );
});

test("many: concurrent sendMail calls join one pipeline (one write for all)", async () => {
  await withFake({ features: CHUNKING }, {}, async (client, fake) => {
    const sends = batch(8).map((m) =>
      client.sendMail(m as Parameters<SmtpClient["sendMail"]>[0])
    );
    const results = await Promise.all(sends);
    assert.equal(results.length, 8);
    const peer = await fake.peer();
    const first = peer.chunks.find((c) => c.includes("MAIL FROM:<s0@"))!;
    assert.ok(first.toString().includes("MAIL FROM:<s7@"));
    assert.deepEqual(delivered(fake), [...Array(8).keys()]);
  });
});

test("many: without PIPELINING, one transaction after another, same results", async () => {
  await withFake({ features: ["8BITMIME"] }, {}, async (client, fake) => {
    const results = await client.sendMany(batch(4));
    for (const r of results) assert.ok(r.ok);
    assert.deepEqual(delivered(fake), [0, 1, 2, 3]);
  });
});

test("many: sendMessage-shaped items and composed-like messages", async () => {
  await withFake({ features: CHUNKING }, {}, async (client, fake) => {
    const bytes = new TextEncoder().encode(
      "From: a@x.test\r\nTo: b@x.test\r\nSubject: 1\r\n\r\nhi\r\n",
    );
    const composed = {
      envelope: { from: "a@x.test", to: ["c@x.test"] },
      smtputf8: false,
      eightBit: false,
      size: bytes.length,
      stream: () => new Blob([bytes]).stream(),
      bytes: () => Promise.resolve(bytes),
    };
    const results = await client.sendMany([
      {
        message:
          "From: a@x.test\r\nTo: b@x.test\r\nBcc: z@x.test\r\nSubject: 0\r\n\r\nhi\r\n",
      },
      { message: composed },
    ]);
    assert.ok(results[0].ok && results[1].ok);
    assert.deepEqual(results[0].result.accepted, ["b@x.test", "z@x.test"]);
    assert.deepEqual(results[1].result.accepted, ["c@x.test"]);
    assert.ok(!fake.messages[0].data.includes("Bcc"));
    assert.deepEqual(delivered(fake), [0, 1]);
  });
});

test("many: LMTP batches report each recipient's delivery", async () => {
  const fake = await smtpFake({ features: CHUNKING, lmtp: true });
  const client = new LmtpClient({
    hostname: "127.0.0.1",
    port: fake.port,
    timeout: 5000,
  });
  try {
    await client.connect();
    const results = await client.sendMany([
      {
        from: "",
        to: ["a@x.test", "b@x.test"],
        data: "Subject: 0\r\n\r\nx\r\n",
      },
      { from: "", to: ["c@x.test"], data: "Subject: 1\r\n\r\ny\r\n" },
    ]);
    assert.ok(results[0].ok && results[1].ok);
    assert.deepEqual([...results[0].result.deliveries!.keys()], [
      "a@x.test",
      "b@x.test",
    ]);
    assert.deepEqual(results[1].result.accepted, ["c@x.test"]);
  } finally {
    await client.close();
    await fake.close();
  }
});

test("many: sendMany options are strict", async () => {
  await withFake({ features: CHUNKING }, {}, async (client) => {
    await assert.rejects(
      client.sendMany([], { onProgres: () => {} } as never),
      TypeError,
    );
    const [r] = await client.sendMany([
      { ...batch(1)[0], timeout: 5 } as never,
    ]);
    assert.ok(errorOf(r) instanceof TypeError);
  });
});
