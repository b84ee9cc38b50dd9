// SmtpPool against fakes: connections, reconnects, re-queueing only what was never sent, rate limits, idle, abort, drain, options.

import assert from "node:assert/strict";
import { test } from "node:test";
import { AbortedError, ConnectError } from "../errors.ts";
import { parseMessage } from "../message/parse.ts";
import {
  SmtpAuthenticationError,
  SmtpOutcomeUnknownError,
  SmtpPool,
  type SmtpPoolOptions,
  SmtpRecipientsRefusedError,
} from "./mod.ts";
import {
  type SmtpFake,
  smtpFake,
  type SmtpFakeOptions,
} from "../tests/fakes/smtp_fake.ts";

function pool(fake: SmtpFake, extra: SmtpPoolOptions = {}): SmtpPool {
  return new SmtpPool({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 5000,
    ...extra,
  });
}

function mail(i: number, to = `r${i}@x.test`) {
  return {
    from: "s@x.test",
    to,
    data: `Subject: ${i}\r\n\r\nmessage ${i}\r\n`,
  };
}

/** Subjects delivered (for accepted recipients), each once per delivery. */
function delivered(fake: SmtpFake): number[] {
  return fake.messages.filter((m) => m.to.length > 0).map((m) =>
    Number(/Subject: (\d+)/.exec(m.data)![1])
  ).sort((a, b) => a - b);
}

async function withFake(
  options: SmtpFakeOptions,
  body: (fake: SmtpFake) => Promise<void>,
): Promise<void> {
  const fake = await smtpFake(options);
  try {
    await body(fake);
  } finally {
    await fake.close();
  }
}

const FEATURES = ["PIPELINING", "CHUNKING", "8BITMIME"];

test("pool: 30 concurrent sends over at most 2 connections, each delivered once", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 2 });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => p.sendMail(mail(i))),
    );
    assert.equal(results.length, 30);
    await p.close();
    assert.deepEqual(delivered(fake), [...Array(30).keys()]);
    assert.ok(fake.server.peers.length <= 2, `${fake.server.peers.length}`);
    assert.equal(p.connections, 0);
    assert.equal(
      fake.commands.filter((c) => c === "QUIT").length,
      fake.server.peers.length,
    );
  });
});

test("pool: maxMessagesPerConnection replaces the connection", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 1, maxMessagesPerConnection: 3 });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => p.sendMail(mail(i))),
    );
    await p.close();
    assert.deepEqual(delivered(fake), [...Array(10).keys()]);
    assert.equal(fake.server.peers.length, 4);
  });
});

test("pool: 421 mid-batch: reconnects; the messages never sent go again; 0 lost, 0 duplicated", async () => {
  let first = true;
  await withFake({
    features: FEATURES,
    hook: (line, ctx) => {
      if (first && line.startsWith("MAIL FROM") && fake_count.n++ === 4) {
        first = false;
        return ctx.peer.write("421 4.3.2 going down\r\n").then(() =>
          "close" as const
        );
      }
      return undefined;
    },
  }, async (fake) => {
    fake_count.n = 0;
    const p = pool(fake, { maxConnections: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => p.sendMail(mail(i))),
    );
    await p.close();
    for (const r of results) {
      assert.equal(
        r.status,
        "fulfilled",
        String((r as { reason?: unknown }).reason),
      );
    }
    assert.deepEqual(delivered(fake), [...Array(12).keys()]);
    assert.equal(fake.server.peers.length, 2);
  });
});
const fake_count = { n: 0 };

test("pool: a lost connection after a dot: that message is outcome-unknown (never resent), the rest delivered", async () => {
  let dots = 0;
  await withFake({
    features: ["PIPELINING", "8BITMIME"], // DATA: one dot per message
    hook: (line) => line === "." && ++dots === 3 ? "close" : undefined,
  }, async (fake) => {
    const p = pool(fake, { maxConnections: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => p.sendMail(mail(i))),
    );
    await p.close();
    const unknown = results.filter((r) =>
      r.status === "rejected" && r.reason instanceof SmtpOutcomeUnknownError
    );
    assert.equal(unknown.length, 1);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 7);
    // The fake stored the third message before closing: delivered once,
    // reported unknown, not sent again.
    assert.deepEqual(delivered(fake), [...Array(8).keys()]);
  });
});

test("pool: a refusal rejects that message alone; the connection goes on after RSET", async () => {
  await withFake({
    features: FEATURES,
    hook: (line) =>
      line === "RCPT TO:<r2@x.test>" ? "550 5.1.1 unknown\r\n" : undefined,
  }, async (fake) => {
    const p = pool(fake, { maxConnections: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => p.sendMail(mail(i))),
    );
    await p.close();
    assert.ok(
      results[2].status === "rejected" &&
        results[2].reason instanceof SmtpRecipientsRefusedError,
    );
    assert.deepEqual(delivered(fake), [0, 1, 3, 4]);
    assert.ok(fake.commands.includes("RSET"));
    assert.equal(fake.server.peers.length, 1);
  });
});

test("pool: the rate limit spaces messages (2 per 200 ms)", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { rateLimit: { messages: 2, interval: 200 } });
    const start = performance.now();
    await Promise.all(Array.from({ length: 6 }, (_, i) => p.sendMail(mail(i))));
    const ms = performance.now() - start;
    await p.close();
    assert.ok(ms >= 380, `${ms} ms`);
    assert.deepEqual(delivered(fake), [...Array(6).keys()]);
  });
});

test("pool: an idle connection is closed with QUIT after idleTimeout", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { idleTimeout: 100 });
    await p.sendMail(mail(0));
    const peer = await fake.peer();
    assert.ok(await peer.waitClosed(3000));
    assert.equal(fake.commands.at(-1), "QUIT");
    assert.equal(p.connections, 0);
    await p.sendMail(mail(1)); // a new connection
    await p.close();
    assert.deepEqual(delivered(fake), [0, 1]);
  });
});

test("pool: a message aborted while queued is never sent", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { rateLimit: { messages: 1, interval: 300 } });
    const ac = new AbortController();
    const a = p.sendMail(mail(0));
    const b = p.sendMail({ ...mail(1), signal: ac.signal });
    ac.abort("no");
    await assert.rejects(b, AbortedError);
    await a;
    await p.close();
    assert.deepEqual(delivered(fake), [0]);
  });
});

test("pool: 300 queued messages sharing one signal: one abort withdraws every waiting one, the taken ones finish", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 1 });
    const ac = new AbortController();
    let added = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      return add(...args);
    }) as typeof add;
    const sends = Array.from(
      { length: 300 },
      (_, i) => p.sendMail({ ...mail(i), signal: ac.signal }),
    );
    assert.ok(added <= 1, `${added} abort listeners for one signal`);
    ac.abort("stop");
    const results = await Promise.allSettled(sends);
    await p.close();
    const sent = results.filter((r) => r.status === "fulfilled").length;
    const withdrawn = results.filter((r) =>
      r.status === "rejected" && r.reason instanceof AbortedError
    ).length;
    assert.equal(sent + withdrawn, 300);
    assert.ok(withdrawn > 0, "some were still waiting");
    assert.equal(delivered(fake).length, sent);
  });
});

test("pool: onProgress reports bytes per message and, in sendMany, batch indexes and messages done", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 2 });
    const one: number[] = [];
    await p.sendMail({ ...mail(0), onProgress: (x) => one.push(x.bytes) });
    assert.ok(one.length > 0 && one.at(-1)! >= mail(0).data.length, `${one}`);
    const seen = new Map<number, number>();
    const dones: number[] = [];
    const results = await p.sendMany(
      Array.from({ length: 250 }, (_, i) => mail(i + 1)),
      {
        onProgress: (x) => {
          seen.set(x.index, Math.max(seen.get(x.index) ?? 0, x.bytes));
          dones.push(x.done);
        },
      },
    );
    await p.close();
    assert.equal(results.filter((r) => r.ok).length, 250);
    assert.equal(seen.size, 250);
    for (const [i, bytes] of seen) {
      assert.ok(bytes >= mail(i + 1).data.length, `message ${i}: ${bytes}`);
    }
    assert.equal(Math.max(...dones), 250);
    for (let i = 1; i < dones.length; i++) assert.ok(dones[i] >= dones[i - 1]);
  });
});

test("pool: close() drains what is queued, then refuses new sends", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 2 });
    const sends = Array.from({ length: 10 }, (_, i) => p.sendMail(mail(i)));
    await p.close();
    assert.equal((await Promise.all(sends)).length, 10);
    assert.deepEqual(delivered(fake), [...Array(10).keys()]);
    await assert.rejects(p.sendMail(mail(11)), /pool is closed/);
  });
});

test("pool: sendMany and sendMessage, one result per message", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    await using p = pool(fake, { maxConnections: 2 });
    const results = await p.sendMany(
      Array.from({ length: 20 }, (_, i) => mail(i)),
    );
    assert.equal(results.filter((r) => r.ok).length, 20);
    await p.sendMessage(
      "From: s@x.test\r\nTo: z@x.test\r\nSubject: 20\r\n\r\nhi\r\n",
    );
    await p.close();
    assert.deepEqual(delivered(fake), [...Array(21).keys()]);
  });
});

test("pool: no server: every queued message rejects with the connect error", async () => {
  const fake = await smtpFake();
  const port = fake.port;
  await fake.close();
  const p = new SmtpPool({ hostname: "127.0.0.1", port, tls: "none" });
  const results = await Promise.allSettled([
    p.sendMail(mail(0)),
    p.sendMail(mail(1)),
  ]);
  for (const r of results) assert.equal(r.status, "rejected");
  await p.close();
});

test("pool: connect() opens one connection now; it then serves messages; opened counts every connection", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake);
    assert.equal(p.opened, 0);
    await p.connect();
    assert.equal(p.connections, 1);
    assert.equal(p.opened, 1);
    assert.ok(fake.commands.some((c) => c.startsWith("EHLO")));
    assert.ok(!fake.commands.some((c) => c.startsWith("MAIL")));
    await p.connect(); // one is open: nothing new
    assert.equal(fake.server.peers.length, 1);
    await p.sendMail(mail(1));
    assert.equal(fake.server.peers.length, 1); // the same connection
    await p.close();
    assert.equal(p.opened, 1);
    assert.deepEqual(delivered(fake), [1]);
    await assert.rejects(p.connect(), /pool is closed/);
  });
});

test("pool: connect() while opening waits for the same connection", async () => {
  await withFake({ features: FEATURES, greetingDelay: 100 }, async (fake) => {
    const p = pool(fake);
    await Promise.all([p.connect(), p.connect(), p.connect()]);
    assert.equal(fake.server.peers.length, 1);
    assert.equal(p.opened, 1);
    await p.close();
  });
});

test("pool: connect() rejects with the login error (phase, host, port); the pool stays usable", async () => {
  let refuse = true;
  await withFake({
    features: [...FEATURES, "AUTH PLAIN"],
    hook: (line) =>
      line.startsWith("AUTH") && refuse
        ? "535 5.7.8 bad credentials\r\n"
        : undefined,
  }, async (fake) => {
    const p = pool(fake, {
      auth: { username: "u", password: "wrong" },
      allowInsecureAuth: true,
    });
    await assert.rejects(p.connect(), (err: Error) => {
      assert.ok(err instanceof SmtpAuthenticationError, err.name);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${fake.port}`));
      assert.equal((err as SmtpAuthenticationError).phase, "auth");
      assert.ok(!err.message.includes("wrong"));
      return true;
    });
    assert.equal(p.connections, 0);
    refuse = false;
    await p.connect();
    assert.equal(p.opened, 2);
    await p.sendMail(mail(2));
    await p.close();
    assert.deepEqual(delivered(fake), [2]);
  });
});

test("pool: connect() to no server is a ConnectError", async () => {
  const fake = await smtpFake();
  const port = fake.port;
  await fake.close();
  const p = new SmtpPool({ hostname: "127.0.0.1", port, tls: "none" });
  await assert.rejects(p.connect(), ConnectError);
  await p.close();
});

test("pool: connect() after the idle connection was dropped by the server opens a new one", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake);
    await p.connect();
    (await fake.peer()).destroy();
    const until = Date.now() + 2000;
    while (
      fake.server.peers[0].socket.readyState !== "closed" && Date.now() < until
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 50));
    await p.connect();
    assert.equal(p.opened, 2);
    await p.sendMail(mail(3));
    await p.close();
    assert.deepEqual(delivered(fake), [3]);
  });
});

test("pool: send() composes (From, Date, Message-ID, Bcc in the envelope only) and returns the messageId", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { maxConnections: 2 });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        p.send({
          from: { name: "Zoë", address: "s@x.test" },
          to: `r${i}@x.test`,
          bcc: "audit@x.test",
          subject: `${i}`,
          text: `message ${i}`,
        })),
    );
    await p.close();
    assert.equal(fake.messages.length, 5);
    const ids = new Set<string>();
    for (const [i, r] of results.entries()) {
      assert.deepEqual(r.accepted, [`r${i}@x.test`, "audit@x.test"]);
      assert.match(r.messageId!, /^<[^<>@]+@x\.test>$/);
      ids.add(r.messageId!);
      const sent = fake.messages.find((m) => m.data.includes(r.messageId!))!;
      const parsed = await parseMessage(new TextEncoder().encode(sent.data));
      assert.equal(parsed.header("message-id"), r.messageId);
      assert.equal(parsed.subject, `${i}`);
      assert.equal(parsed.header("bcc"), undefined);
      assert.ok(parsed.header("date"));
    }
    assert.equal(ids.size, 5);
  });
});

test("pool: send() with dkim signs that message once, in place of the pool's dkim", async () => {
  const keys = await crypto.subtle.generateKey(
    { name: "Ed25519" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const dkim = (selector: string) => ({
    domain: "x.test",
    selector,
    privateKey: keys.privateKey,
    algorithm: "ed25519-sha256" as const,
  });
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake, { dkim: dkim("pool") });
    await p.send({ from: "s@x.test", to: "a@x.test", subject: "1", text: "t" });
    await p.send({
      from: "s@x.test",
      to: "b@x.test",
      subject: "2",
      text: "t",
      dkim: dkim("own"),
    });
    await p.close();
    const sigs = fake.messages.map((m) =>
      [...m.data.matchAll(/^DKIM-Signature:.*?s=(\w+)/gms)].map((x) => x[1])
    );
    assert.deepEqual(sigs, [["pool"], ["own"]]);
  });
});

test("pool: send() refuses bad input before queueing", async () => {
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake);
    await assert.rejects(
      p.send({ from: "s@x.test", to: "a@x.test", subject: "a\r\nBcc: x@y" }),
      /subject/,
    );
    await assert.rejects(
      p.send(
        { from: "s@x.test", to: "a@x.test", text: "t", bogus: 1 } as never,
      ),
      /bogus/,
    );
    await p.close();
    assert.equal(fake.server.peers.length, 0);
  });
});

test("pool: sendMessage of a composed message returns its messageId", async () => {
  const { composeMessage } = await import("../message/compose.ts");
  await withFake({ features: FEATURES }, async (fake) => {
    const p = pool(fake);
    const m = composeMessage({ from: "s@x.test", to: "a@x.test", text: "t" });
    const r = await p.sendMessage(m);
    assert.equal(r.messageId, m.messageId);
    const raw = await p.sendMessage(
      "From: s@x.test\r\nTo: a@x.test\r\n\r\nt\r\n",
    );
    assert.equal(raw.messageId, undefined);
    await p.close();
  });
});

test("pool: options are strict", () => {
  assert.throws(() => new SmtpPool({ host: "x" } as never), /hostname/);
  assert.throws(() => new SmtpPool({ maxConnections: 0 }), RangeError);
  assert.throws(
    () => new SmtpPool({ rateLimit: { messages: 1 } } as never),
    TypeError,
  );
  assert.throws(() => new SmtpPool({ idleTimeout: -1 }), RangeError);
  assert.throws(() => new SmtpPool({ tls: true } as never), TypeError);
});
