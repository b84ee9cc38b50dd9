// Test-only: a worker that sends through the real Postfix (STARTTLS + AUTH on submission, implicit TLS on smtps) and reads both messages back from the real Dovecot (POP3 STLS and POP3S) with cloudflareConnector, asserting byte identity.

import assert from "node:assert/strict";
import { connect } from "cloudflare:sockets";
import { SmtpClient } from "../../smtp/mod.ts";
import { Pop3Client } from "../../pop3/mod.ts";
import { cloudflareConnector } from "../../tls/mod.ts";

/** What run.ts passes in `env.REAL` (JSON). */
interface Real {
  host: string;
  servername: string;
  smtp: { submission: number; smtps: number };
  pop3: { plain: number; pop3s: number };
  sender: { address: string; login: string; password: string };
  recipient: { address: string; login: string; password: string };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message with the bytes SMTP makes hard: leading dots, a lone dot line, a long line. */
function message(real: Real, token: string): Uint8Array {
  return encoder.encode(
    `From: <${real.sender.address}>\r\nTo: <${real.recipient.address}>\r\n` +
      `Subject: ${token}\r\nMessage-ID: <${token}@workerd.test>\r\n\r\n` +
      `sent from workerd with cloudflareConnector\r\n.\r\n..two dots\r\n` +
      `.leading dot\r\n${"x".repeat(990)}\r\nend\r\n`,
  );
}

function endsWith(data: Uint8Array, suffix: Uint8Array): boolean {
  if (suffix.length > data.length) return false;
  const offset = data.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) {
    if (data[offset + i] !== suffix[i]) return false;
  }
  return true;
}

/** `data` as a stream of 7-byte chunks: dots and CRLFs split across chunks. */
function trickle(data: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + 7));
      offset += 7;
    },
  });
}

async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    length += chunk.length;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

async function send(
  real: Real,
  connector: ReturnType<typeof cloudflareConnector>,
  mode: "starttls" | "implicit",
  data: Uint8Array,
): Promise<void> {
  const smtp = await SmtpClient.connect({
    hostname: real.host,
    port: mode === "starttls" ? real.smtp.submission : real.smtp.smtps,
    tls: mode,
    auth: { username: real.sender.login, password: real.sender.password },
    connector,
    timeout: 20_000,
  });
  try {
    assert.equal(smtp.secure, true, `${mode}: smtp connection not secure`);
    const { refused } = await smtp.sendMail({
      from: real.sender.address,
      to: [real.recipient.address],
      // STARTTLS: streamed in small chunks; implicit: one Uint8Array.
      data: mode === "starttls" ? trickle(data) : data,
    });
    assert.equal(refused.size, 0);
  } finally {
    await smtp.quit();
  }
}

/** Reads back (and deletes) the message whose Subject is `token`, polling boundedly. */
async function readBack(
  real: Real,
  connector: ReturnType<typeof cloudflareConnector>,
  mode: "starttls" | "implicit",
  token: string,
): Promise<Uint8Array> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const pop = await Pop3Client.connect({
      hostname: real.host,
      port: mode === "starttls" ? real.pop3.plain : real.pop3.pop3s,
      tls: mode,
      auth: {
        username: real.recipient.login,
        password: real.recipient.password,
      },
      connector,
      timeout: 20_000,
    });
    try {
      assert.equal(pop.secure, true, `${mode}: pop3 connection not secure`);
      const listing = await pop.uidl();
      // Newest last: look from the end, at the headers only.
      for (const { id } of listing.slice(-50).reverse()) {
        const head = decoder.decode(await pop.top(id, 0));
        if (!head.includes(`Subject: ${token}\r\n`)) continue;
        // STLS: read as a stream; POP3S: in one piece.
        const bytes = mode === "starttls"
          ? await collect(await pop.retrStream(id))
          : await pop.retr(id);
        await pop.dele(id);
        return bytes;
      }
    } finally {
      await pop.quit();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${mode}: no message ${token} arrived`);
}

export default {
  async test(_controller: unknown, env: { REAL: string }): Promise<void> {
    const real = JSON.parse(env.REAL) as Real;
    const connector = cloudflareConnector(connect);
    for (
      const [send_, read] of [
        ["starttls", "starttls"],
        ["implicit", "implicit"],
      ] as const
    ) {
      const token = `workerd-${send_}-${crypto.randomUUID()}`;
      const data = message(real, token);
      const start = Date.now();
      await send(real, connector, send_, data);
      const got = await readBack(real, connector, read, token);
      // Postfix and Dovecot prepend Return-Path/Delivered-To/Received; the
      // submitted message follows byte for byte.
      assert.ok(
        endsWith(got, data),
        `${send_}: the message read back differs from the one sent`,
      );
      const prefix = decoder.decode(got.subarray(0, got.length - data.length));
      assert.match(prefix, /^Return-Path: [^\r\n]*\r\n(?:[^\r\n]+\r\n)*$/);
      console.log(
        `mailwire-real PASS smtp ${send_} -> pop3 ${read}${
          send_ === "starttls" ? " (streamed both ways)" : ""
        }: ${data.length} bytes identical (${Date.now() - start} ms)`,
      );
    }
  },
};
