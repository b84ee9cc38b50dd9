import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { AbortedError, ProtocolError, TimeoutError } from "../errors.ts";
import { Pop3Client } from "./client.ts";
import {
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
} from "./errors.ts";
import {
  type Fake,
  sleep,
  startFake,
  until,
  wire,
} from "../tests/fakes/pop3_fake.ts";

const CAPA = ["USER", "UIDL", "TOP", "RESP-CODES"];
const dec = new TextDecoder();

async function session(fake: Fake, extra = {}): Promise<Pop3Client> {
  const client = await Pop3Client.connect(fake.options(extra));
  await client.login("tim", "secret");
  return client;
}

/** A fake answering RETR/TOP of message 1 with `raw` as is (after +OK). */
function rawRetr(
  raw:
    | string
    | Uint8Array
    | ((peer: import("../tests/fakes/scripted.ts").FakePeer) => Promise<void>),
) {
  return startFake({
    capa: CAPA,
    messages: ["x\r\n"],
    onCommand: async (l, peer) => {
      if (l !== "RETR 1") return undefined;
      if (typeof raw === "function") {
        await peer.write("+OK\r\n");
        await raw(peer);
        return "";
      }
      return Buffer.concat([Buffer.from("+OK\r\n"), Buffer.from(raw)]);
    },
  });
}

test("stat, list, list(id), uidl, uidl(id), listing", async () => {
  await using fake = await startFake({
    capa: CAPA,
    messages: ["Subject: a\r\n\r\nA\r\n", "Subject: bb\r\n\r\nBB\r\n"],
  });
  await using client = await session(fake);
  assert.deepEqual(await client.stat(), { count: 2, size: 36 });
  assert.deepEqual(await client.list(), [{ id: 1, size: 17 }, {
    id: 2,
    size: 19,
  }]);
  assert.deepEqual(await client.list(2), { id: 2, size: 19 });
  assert.deepEqual(await client.uidl(), [{ id: 1, uid: "uid-1" }, {
    id: 2,
    uid: "uid-2",
  }]);
  assert.deepEqual(await client.uidl(1), { id: 1, uid: "uid-1" });
  assert.deepEqual(await client.listing(), [
    { id: 1, uid: "uid-1", size: 17 },
    { id: 2, uid: "uid-2", size: 19 },
  ]);
  const err = await client.list(3).catch((e) => e);
  assert.ok(err instanceof Pop3ResponseError);
  assert.equal(err.response, "no such message");
  assert.equal((await client.noop()).ok, true); // still in sync
});

test("retr returns the exact bytes; top the head", async () => {
  const bytes = new Uint8Array([
    ...Buffer.from("Subject: bin\r\n\r\n"),
    0,
    1,
    0x80,
    0xff,
    13,
    65,
    13,
    10, // NUL, 8-bit, a lone CR inside a line
    ...Buffer.from(".leading dot\r\n..two dots\r\n.\r\nend\r\n"),
  ]);
  await using fake = await startFake({ capa: CAPA, messages: [bytes] });
  await using client = await session(fake);
  assert.deepEqual(await client.retr(1), bytes);
  const header = Buffer.from("Subject: bin\r\n\r\n");
  // TOP n 0: the header and the blank line, no body.
  assert.deepEqual(await client.top(1, 0), new Uint8Array(header));
  // TOP n 2: two body lines (the first holds NUL, 8-bit and a lone CR),
  // the second dot-unstuffed.
  assert.deepEqual(
    await client.top(1, 2),
    new Uint8Array(Buffer.concat([
      header,
      Buffer.from([0, 1, 0x80, 0xff, 13, 65, 13, 10]),
      Buffer.from(".leading dot\r\n"),
    ])),
  );
  // More lines than the body has: the whole message.
  assert.deepEqual(await client.top(1, 100), bytes);
  assert.equal(
    fake.peer().text,
    "CAPA\r\nUSER tim\r\nPASS secret\r\nRETR 1\r\nTOP 1 0\r\nTOP 1 2\r\nTOP 1 100\r\n",
  );
});

test("every leading dot is removed, not only '..'", async () => {
  await using fake = await rawRetr("..x\r\n.x\r\n...\r\n..\r\nplain\r\n.\r\n");
  await using client = await session(fake);
  assert.equal(
    dec.decode(await client.retr(1)),
    ".x\r\nx\r\n..\r\n.\r\nplain\r\n",
  );
});

test("a lone '.' ends the message: what follows is the next status (ProtocolError)", async () => {
  await using fake = await rawRetr("a\r\n.\r\nb\r\n.\r\n");
  const client = await session(fake);
  assert.equal(dec.decode(await client.retr(1)), "a\r\n");
  // The leftover "b" and "." were never asked for: nothing more is sent.
  await assert.rejects(client.noop(), /server sent data nobody asked for/);
  assert.equal(client.connected, false);
  assert.doesNotMatch(fake.peer().text, /NOOP/);
});

test("more answers than commands: closed instead of desynchronised", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) => l === "RSET" ? "+OK\r\n+OK extra\r\n" : undefined,
  });
  const client = await session(fake);
  await client.rset();
  await assert.rejects(client.noop(), ProtocolError);
  assert.equal(client.connected, false);
  assert.doesNotMatch(fake.peer().text, /NOOP/);
});

test("a terminator split across packets, bare LF line ends normalised", async () => {
  await using fake = await rawRetr(async (peer) => {
    await peer.write("one\ntwo\r\n.");
    await sleep(50);
    await peer.write("\r\n");
  });
  await using client = await session(fake);
  assert.equal(dec.decode(await client.retr(1)), "one\r\ntwo\r\n");
});

test("a 100 KB line (and a 1 MiB one) comes back intact: no 2048 limit", async () => {
  const long = "a".repeat(100_000);
  const huge = "b".repeat(1 << 20);
  await using fake = await startFake({
    capa: CAPA,
    messages: [`X: ${long}\r\n\r\n${long}\r\n`, huge],
  });
  await using client = await session(fake);
  assert.equal(
    dec.decode(await client.retr(1)),
    `X: ${long}\r\n\r\n${long}\r\n`,
  );
  assert.equal(dec.decode(await client.retr(2)), huge + "\r\n");
  // Status lines are still capped.
  assert.equal((await client.noop()).ok, true);
});

test("retr past the 16 MiB preallocation: the exact bytes", async () => {
  // 18 MiB in 1000-byte lines, some starting with a dot.
  const lines: string[] = [];
  for (let i = 0; lines.length * 1000 < 18 << 20; i++) {
    const line = (i % 97 === 0 ? "." : "") + String(i).padStart(998, "x");
    lines.push(line.slice(0, 998) + "\r\n");
  }
  const message = Buffer.from(lines.join(""), "latin1");
  await using fake = await startFake({ capa: CAPA, messages: [message] });
  await using client = await session(fake, { maxMessageBytes: 20 << 20 });
  const raw = await client.retr(1, { timeout: 30_000 });
  assert.equal(raw.length, message.length);
  assert.ok(
    Buffer.from(raw.buffer, raw.byteOffset, raw.length).equals(message),
  );
  assert.equal((await client.noop()).ok, true);
});

test("a body over maxMessageBytes: ProtocolError, closed", async () => {
  for (const message of ["line\r\n".repeat(400), "z".repeat(5000)]) {
    await using fake = await startFake({ capa: CAPA, messages: [message] });
    const client = await session(fake, { maxMessageBytes: 1000 });
    const t0 = Date.now();
    await assert.rejects(client.retr(1), (e) => {
      assert.ok(e instanceof ProtocolError);
      assert.match(
        (e as Error).message,
        /exceeds 1000 bytes|longer than 1000 bytes/,
      );
      return true;
    });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(client.connected, false);
    assert.ok(await fake.peer().waitClosed(2000));
  }
});

test("a body that never ends: TimeoutError within the deadline, closed", async () => {
  let stop = false;
  await using fake = await rawRetr(async (peer) => {
    for (let i = 0; i < 1000 && !stop && !peer.ended; i++) {
      await peer.write(`line ${i}\r\n`);
      await sleep(20);
    }
  });
  const client = await session(fake);
  const t0 = Date.now();
  await assert.rejects(client.retr(1, { timeout: 300 }), TimeoutError);
  const took = Date.now() - t0;
  stop = true;
  assert.ok(took >= 250 && took < 1500, `took ${took} ms`);
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(2000));
});

test("AbortSignal during RETR: AbortedError, closed", async () => {
  await using fake = await rawRetr(async (peer) => {
    await peer.write("partial\r\n");
    await peer.waitClosed(5000);
  });
  const client = await session(fake);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("user")), 100);
  const t0 = Date.now();
  await assert.rejects(client.retr(1, { signal: ac.signal }), AbortedError);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(2000));
});

test("the client-wide signal aborts too", async () => {
  await using fake = await rawRetr(async (peer) => {
    await peer.waitClosed(5000);
  });
  const ac = new AbortController();
  const client = await session(fake, { signal: ac.signal });
  const pending = client.retr(1);
  await sleep(50);
  ac.abort();
  await assert.rejects(pending, AbortedError);
  assert.equal(client.connected, false);
});

test("top needs TOP in CAPA (nothing sent otherwise; CAPA asked again once after login)", async () => {
  await using fake = await startFake({ capa: ["USER"], messages: ["a\r\n"] });
  await using client = await session(fake);
  const before = fake.peer().text;
  await assert.rejects(client.top(1, 0), Pop3NotSupportedError);
  await assert.rejects(client.uidl(), Pop3NotSupportedError);
  // The list from before login lacked TOP: asked once more, then trusted.
  assert.equal(fake.peer().text, before + "CAPA\r\n");
});

const THREE = ["Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\ntwo\r\n"];

test("pipelining: RETR 1, RETR 2, DELE 1 in one write; replies in order", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: THREE,
  });
  await using client = await session(fake);
  const replies = await client.pipeline([
    { command: "RETR", id: 1 },
    { command: "RETR", id: 2 },
    { command: "DELE", id: 1 },
  ]);
  assert.equal(dec.decode(replies[0].body), THREE[0]);
  assert.equal(dec.decode(replies[1].body), THREE[1]);
  assert.equal(replies[2].status.ok, true);
  assert.equal(replies[2].status.text, "message 1 deleted");
  assert.ok(
    fake.chunks.includes("RETR 1\r\nRETR 2\r\nDELE 1\r\n"),
    JSON.stringify(fake.chunks),
  );
});

test("no PIPELINING: the same batch goes one command at a time", async () => {
  await using fake = await startFake({ capa: CAPA, messages: THREE });
  await using client = await session(fake);
  const replies = await client.pipeline([
    { command: "RETR", id: 1 },
    { command: "RETR", id: 2 },
    { command: "DELE", id: 1 },
  ]);
  assert.equal(dec.decode(replies[1].body), THREE[1]);
  const tail = fake.chunks.slice(-3);
  assert.deepEqual(tail, ["RETR 1\r\n", "RETR 2\r\n", "DELE 1\r\n"]);
});

test("pipelining: option pipelining:false sends one at a time", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: THREE,
  });
  await using client = await session(fake, { pipelining: false });
  await client.deleMany([1, 2]);
  assert.deepEqual(fake.chunks.slice(-2), ["DELE 1\r\n", "DELE 2\r\n"]);
});

test("listing: UIDL and LIST in one write with PIPELINING", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: THREE,
  });
  await using client = await session(fake);
  const list = await client.listing();
  assert.deepEqual(list.map((m) => m.uid), ["uid-1", "uid-2"]);
  assert.ok(fake.chunks.includes("UIDL\r\nLIST\r\n"));
});

test("retrMany / deleMany: -ERR thrown after every reply is read (still in sync)", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: THREE,
  });
  await using client = await session(fake);
  const got = await client.retrMany([2, 1]);
  assert.deepEqual(got.map((b) => dec.decode(b)), [THREE[1], THREE[0]]);
  const err = await client.retrMany([1, 7, 2]).catch((e) => e);
  assert.ok(err instanceof Pop3ResponseError);
  assert.match(err.message, /^retr 7: -ERR no such message/);
  assert.equal((await client.noop()).ok, true);
  await assert.rejects(client.deleMany([1, 9]), /dele 9/);
  await client.quit();
  assert.deepEqual(fake.committed, [1]);
});

test("a pipelined batch goes in one write, windows bounded by command bytes (16 KiB)", async () => {
  const messages = Array.from({ length: 3000 }, (_, i) => `m${i}\r\n`);
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages,
  });
  await using client = await session(fake);
  const small = await client.deleMany([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(small.length, 10);
  assert.ok(fake.chunks.includes(
    Array.from({ length: 10 }, (_, i) => `DELE ${i + 1}\r\n`).join(""),
  ));
  const before = fake.chunks.length;
  const ids = messages.map((_, i) => i + 1).slice(10);
  const statuses = await client.deleMany(ids);
  assert.equal(statuses.length, 2990);
  const writes = fake.chunks.slice(before);
  const counts = writes.map((c) => c.split("\r\n").length - 1);
  assert.equal(counts.reduce((a, b) => a + b, 0), 2990);
  // 2,990 DELE lines are ~30 KiB: at least two windows, none over 16 KiB.
  assert.ok(writes.every((w) => w.length <= 16 * 1024), JSON.stringify(counts));
  assert.ok(writes.length >= 2 && writes.length < 20, JSON.stringify(counts));
});

// --- streaming ---------------------------------------------------------

/** ~`mib` MiB of 80-byte lines; every 1000th starts with a dot. */
function bigMessage(mib: number): Buffer {
  const lines = (mib << 20) / 80;
  const out = Buffer.alloc(lines * 80, 0x61);
  for (let i = 0; i < lines; i++) {
    const at = i * 80;
    out.write(String(i).padStart(8, "0"), at + 1, "latin1");
    if (i % 1000 === 0) out[at] = 0x2e;
    out[at + 78] = 13;
    out[at + 79] = 10;
  }
  return out;
}

function streamingFake(message: Buffer) {
  const state = { flushed: false };
  const body = wire(message);
  return startFake({
    capa: CAPA,
    messages: ["x\r\n"],
    onCommand: (l, peer) => {
      if (l !== "RETR 1") return undefined;
      void peer.write(Buffer.concat([Buffer.from("+OK\r\n"), body])).then(() =>
        state.flushed = true
      );
      return "";
    },
  }).then((fake) => ({ fake, state }));
}

test("retrStream: 20 MiB with bounded memory (reads only when pulled)", async () => {
  const message = bigMessage(20);
  const { fake, state } = await streamingFake(message);
  await using _ = fake;
  await using client = await session(fake, { timeout: 10_000 });
  const stream = await client.retrStream(1);
  const reader = stream.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length <= 64 << 10);
  await sleep(300);
  // The server could not hand everything over: we did not read ahead.
  assert.equal(state.flushed, false);
  await assert.rejects(client.noop(), Pop3Error); // busy while the stream is open
  let total = first.value.length;
  let biggest = first.value.length;
  const parts: Uint8Array[] = [first.value];
  for (let i = 0; i < 1_000_000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    biggest = Math.max(biggest, value.length);
    parts.push(value);
  }
  assert.equal(total, message.length);
  assert.ok(biggest <= 64 << 10);
  assert.ok(Buffer.concat(parts).equals(message));
  assert.equal(state.flushed, true);
  assert.equal((await client.noop()).ok, true); // usable afterwards
});

test("retrStream cancelled mid-message (big rest): connection closed", async () => {
  const { fake } = await streamingFake(bigMessage(20));
  await using _ = fake;
  const client = await session(fake, { timeout: 10_000 });
  const stream = await client.retrStream(1);
  const reader = stream.getReader();
  for (let i = 0; i < 3; i++) await reader.read();
  const t0 = Date.now();
  await reader.cancel();
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(3000));
  assert.doesNotMatch(fake.peer().text, /QUIT/);
});

test("retrStream cancelled with a small rest: drained, session goes on", async () => {
  const message = bigMessage(1).subarray(0, 300 * 80);
  const { fake } = await streamingFake(Buffer.from(message));
  await using _ = fake;
  await using client = await session(fake);
  const stream = await client.retrStream(1);
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel();
  assert.equal(client.connected, true);
  assert.equal((await client.noop()).ok, true);
  assert.match(fake.peer().text, /RETR 1\r\nNOOP\r\n$/);
});

test("retrStream: -ERR rejects, connection stays usable", async () => {
  await using fake = await startFake({ capa: CAPA, messages: [] });
  await using client = await session(fake);
  await assert.rejects(client.retrStream(1), Pop3ResponseError);
  assert.equal((await client.noop()).ok, true);
});

test("retrStream: a stalled body times out per chunk, closed", async () => {
  await using fake = await rawRetr(async (peer) => {
    await peer.write("only a little\r\n");
    await peer.waitClosed(5000);
  });
  const client = await session(fake);
  const stream = await client.retrStream(1, { timeout: 300 });
  const t0 = Date.now();
  const err = await new Response(stream).arrayBuffer().catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  // The stream's errors name the server and the call, as calls' errors do.
  assert.equal(err.phase, "retr");
  assert.equal(err.server, `127.0.0.1:${fake.port}`);
  assert.match(err.message, /\(pop3 127\.0\.0\.1:\d+, retr\)$/);
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 1500, `took ${took} ms`);
  assert.equal(client.connected, false);
  await until(() => fake.peer().ended);
});

test("retrStream: the whole message through Response, dots unstuffed", async () => {
  await using fake = await rawRetr("..a\r\nb\r\n.\r\n");
  await using client = await session(fake);
  const text = await new Response(await client.retrStream(1)).text();
  assert.equal(text, ".a\r\nb\r\n");
  assert.equal((await client.noop()).ok, true);
});

test("retrStream: abort while the consumer is idle closes at once", async () => {
  const { fake } = await streamingFake(bigMessage(4));
  await using _ = fake;
  const ac = new AbortController();
  const client = await session(fake);
  const reader = (await client.retrStream(1, { signal: ac.signal }))
    .getReader();
  await reader.read();
  ac.abort();
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(2000));
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 1000; i++) if ((await reader.read()).done) break;
    })(),
    AbortedError,
  );
  // Not "busy" any more: simply disconnected.
  await assert.rejects(client.noop(), /not connected/);
});

test("a status dripping one byte at a time: total deadline, not per read", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: async (l, peer) => {
      if (l !== "NOOP") return undefined;
      for (const ch of "+OK still here\r\n") {
        if (peer.ended) break;
        await peer.write(ch);
        await sleep(60);
      }
      return "";
    },
  });
  const client = await session(fake);
  const t0 = Date.now();
  await assert.rejects(client.noop({ timeout: 300 }), TimeoutError);
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 1000, `took ${took} ms`);
  assert.equal(client.connected, false);
});

test("an endless status line: ProtocolError at maxLineLength, bounded", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: async (l, peer) => {
      if (l !== "NOOP") return undefined;
      await peer.write("+OK ");
      for (let i = 0; i < 1000 && !peer.ended; i++) {
        await peer.write("y".repeat(1024));
      }
      return "";
    },
  });
  const client = await session(fake, { maxLineLength: 4096 });
  await assert.rejects(client.noop(), /longer than 4096 bytes/);
  assert.equal(client.connected, false);
});

test("an endless CAPA: capped (1 MiB), ProtocolError", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: async (l, peer) => {
      if (l !== "CAPA") return undefined;
      await peer.write("+OK\r\n");
      const block = "X-CAP arg\r\n".repeat(10_000);
      for (let i = 0; i < 1000 && !peer.ended; i++) await peer.write(block);
      return "";
    },
  });
  const client = new Pop3Client(fake.options());
  await client.connect();
  const t0 = Date.now();
  await assert.rejects(client.capa(), /exceeds 1048576 bytes/);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(client.connected, false);
});

test("malformed STAT / LIST / UIDL answers: ProtocolError, closed", async () => {
  const answers: Record<string, string> = {
    STAT: "+OK lots of mail\r\n",
    "LIST 1": "+OK one 12\r\n",
    LIST: "+OK\r\n1 12\r\ntwo 5\r\n.\r\n",
    UIDL: "+OK\r\n1\r\n.\r\n",
  };
  for (const [cmd, answer] of Object.entries(answers)) {
    await using fake = await startFake({
      capa: CAPA,
      messages: ["a\r\n"],
      onCommand: (l) => l === cmd ? answer : undefined,
    });
    const client = await session(fake);
    const call = cmd === "STAT"
      ? client.stat()
      : cmd === "LIST 1"
      ? client.list(1)
      : cmd === "LIST"
      ? client.list()
      : client.uidl();
    await assert.rejects(call, ProtocolError, cmd);
    assert.equal(client.connected, false, cmd);
  }
});

test("listing: UIDL and LIST that disagree are a ProtocolError", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: ["a\r\n", "b\r\n"],
    onCommand: (l) => l === "LIST" ? "+OK\r\n1 3\r\n3 3\r\n.\r\n" : undefined,
  });
  const client = await session(fake);
  await assert.rejects(client.listing(), /uidl and list disagree/);
  assert.equal(client.connected, false);
});

test("fewer answers than commands, then close: disconnected error", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "PIPELINING"],
    messages: ["a\r\n", "b\r\n"],
    onCommand: (l, peer) => {
      if (l === "DELE 2") {
        peer.destroy();
        return "";
      }
      return undefined;
    },
  });
  const client = await session(fake);
  await assert.rejects(
    client.deleMany([1, 2]),
    (e) => e instanceof Pop3Error && /closed|lost/.test((e as Error).message),
  );
  assert.equal(client.connected, false);
});
