// BodyReader: byte streams read into one recycled buffer, other streams chunk by chunk; the bytes on the wire exact either way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BODY_READ_SIZE, BodyReader } from "./body_reader.ts";
import { Deadline } from "../io/deadline.ts";
import { InvalidInputError } from "../errors.ts";
import { after, withFakeClient } from "../tests/fakes/smtp_fake.ts";

const enc = new TextEncoder();

/**
 * A byte stream handing out `bytes` at most `piece` bytes per pull, into
 * the reader's own buffer when it brings one (as a file's stream does).
 */
function byteStream(
  bytes: Uint8Array,
  piece: number,
): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (at >= bytes.length) {
        c.close();
        c.byobRequest?.respond(0);
        return;
      }
      const request = c.byobRequest;
      if (request?.view) {
        const view = new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        );
        const n = Math.min(piece, view.length, bytes.length - at);
        view.set(bytes.subarray(at, at + n));
        at += n;
        request.respond(n);
      } else {
        const n = Math.min(piece, bytes.length - at);
        c.enqueue(bytes.slice(at, at + n));
        at += n;
      }
    },
  });
}

test("BodyReader: a byte stream is read into the buffer given back by recycle()", async () => {
  const d = new Deadline(5000);
  const bytes = new Uint8Array(3 * BODY_READ_SIZE).map((_, i) => i & 0xff);
  const reader = new BodyReader(byteStream(bytes, BODY_READ_SIZE));
  const first = await reader.read(d);
  assert.ok(first !== undefined);
  assert.equal(first.length, BODY_READ_SIZE);
  assert.deepEqual(first, bytes.subarray(0, BODY_READ_SIZE));
  const firstBuffer = first.buffer;
  // Not recycled: the next read fills a fresh buffer, the first stays.
  const second = await reader.read(d);
  assert.ok(second !== undefined);
  assert.notEqual(second.buffer, firstBuffer);
  assert.equal(firstBuffer.byteLength, BODY_READ_SIZE);
  assert.deepEqual(first, bytes.subarray(0, BODY_READ_SIZE));
  // Recycled: the next read takes that buffer (it is transferred, so the
  // old handle is detached).
  const secondBuffer = second.buffer;
  reader.recycle();
  const third = await reader.read(d);
  assert.ok(third !== undefined);
  assert.equal(secondBuffer.byteLength, 0);
  assert.deepEqual(third, bytes.subarray(2 * BODY_READ_SIZE));
  assert.equal(await reader.read(d), undefined);
  reader.releaseLock();
  d.dispose();
});

test("BodyReader: another stream is read chunk by chunk; a chunk that is not bytes is an error", async () => {
  const d = new Deadline(5000);
  const chunks = [enc.encode("a"), enc.encode("bc")];
  const reader = new BodyReader(
    new ReadableStream({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.enqueue("not bytes" as unknown as Uint8Array);
      },
    }),
  );
  assert.deepEqual(await reader.read(d), enc.encode("a"));
  reader.recycle(); // nothing to recycle: harmless
  assert.deepEqual(await reader.read(d), enc.encode("bc"));
  await assert.rejects(reader.read(d), InvalidInputError);
  reader.releaseLock();
  d.dispose();
});

/** Lines with dot-led ones and bare LFs, `n` of them. */
function body(n: number): string {
  let t = "";
  for (let i = 0; i < n; i++) {
    t += i % 7 === 3
      ? `.dot ${i}\n`
      : i % 5 === 0
      ? `bare ${i}\n`
      : `line ${i}\r\n`;
  }
  return t;
}

const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n");

function dataWire(text: string): string {
  const s = crlf(text);
  return s.slice(0, -2).split("\r\n").map((l) =>
    l.startsWith(".") ? "." + l : l
  )
    .join("\r\n") + "\r\n.\r\n";
}

// A clean body (CRLF only, no dot-led line) in small pieces: BDAT gathers
// the pieces read as they are, so their buffers must not be read into again.
const clean = crlf(body(6000)).replaceAll("\r\n.", "\r\nx");

for (
  const [name, features, chunking] of [
    ["DATA, one at a time (no PIPELINING)", [], false],
    ["DATA, pipelined", ["PIPELINING"], false],
    ["BDAT", ["PIPELINING", "CHUNKING"], true],
  ] as const
) {
  test(`client: a byte-stream body (${name}): exact bytes, pieces small and large, clean and rewritten`, async () => {
    await withFakeClient(
      { features: [...features] },
      { chunking },
      async (client, fake) => {
        const p = await fake.peer();
        for (
          const [text, piece] of [
            [body(20000), BODY_READ_SIZE],
            [body(3000), 100],
            [clean, 700],
            [clean, BODY_READ_SIZE],
          ] as const
        ) {
          const before = p.received.length;
          const messagesBefore = fake.messages.length;
          await client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: byteStream(enc.encode(text), piece),
          });
          if (chunking) {
            const got = fake.messages.slice(messagesBefore).map((m) => m.data)
              .join("");
            assert.equal(got, crlf(text), `piece ${piece}`);
          } else {
            const sent = p.received.subarray(before).toString("latin1");
            assert.equal(
              after(sent, "DATA\r\n"),
              Buffer.from(dataWire(text)).toString("latin1"),
              `piece ${piece}`,
            );
          }
        }
      },
    );
  });
}
