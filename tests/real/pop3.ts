/**
 * Test-only: what the real POP3 tests share (tests/real_pop3_test.ts,
 * tests/real_roundtrip_test.ts): the users and client options for the real
 * Dovecot, delivery over LMTP and submission through Postfix, finding and
 * removing messages by a unique token, and exact byte comparisons.
 */
import assert from "node:assert/strict";
import { Pop3Client, type Pop3ClientOptions } from "../../pop3/mod.ts";
import { LmtpClient, SmtpClient } from "../../smtp/mod.ts";
import type { LogEntry } from "../../io/log.ts";
import { realCa, realEnv, type RealUser } from "./env.ts";

export const env = realEnv();
export const ca = realCa(env);
export const alice = user("alice@mail.test");
export const dave = user("dave@mail.test");
export const erin = user("erin@mail.test");
export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const CRLF = enc.encode("\r\n");
export const HEADER_END = enc.encode("\r\n\r\n");
/** More chunks than any message of this file can give (10 MiB / 64 KiB = 160). */
export const MAX_CHUNKS = 10_000;

export function user(address: string): RealUser {
  const found = env.users.find((u) => u.address === address);
  if (!found) throw new Error(`env.json has no user ${address}`);
  return found;
}

/** POP3 on the plain port with STLS, logged in as `u`. */
export function pop3(
  u: RealUser,
  extra: Partial<Pop3ClientOptions> = {},
): Pop3ClientOptions {
  return {
    hostname: env.host,
    port: env.pop3.plain,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 30_000,
    auth: { username: u.login, password: u.password },
    ...extra,
  };
}

/** POP3S (implicit TLS), logged in as `u`. */
export function pop3s(
  u: RealUser,
  extra: Partial<Pop3ClientOptions> = {},
): Pop3ClientOptions {
  return pop3(u, { port: env.pop3.pop3s, tls: "implicit", ...extra });
}

export function strictTarget(): { host: string; plain: number } {
  assert.ok(env.pop3Strict, "env.json describes the strict POP3 listener");
  return env.pop3Strict;
}

/** A message with Date and Message-ID (so Postfix adds nothing to it). */
export function message(to: RealUser, id: string, body: string): string {
  return `From: Alice <${alice.address}>\r\nTo: <${to.address}>\r\n` +
    `Subject: ${id}\r\n${stamp(id)}\r\n${body}`;
}

export function stamp(id: string): string {
  return `Date: ${new Date().toUTCString().replace("GMT", "+0000")}\r\n` +
    `Message-ID: <${id}@mail.test>\r\n`;
}

/** Deliver straight into the Maildir over LMTP (stored when it answers 250). */
export async function deliver(to: RealUser, id: string, body: string) {
  await using c = await LmtpClient.connect({
    hostname: env.host,
    port: env.lmtp.tcp,
    timeout: 15_000,
  });
  const data = message(to, id, body);
  const result = await c.sendMail({
    from: alice.address,
    to: [to.address],
    data,
  });
  assert.deepEqual(result.accepted, [to.address]);
  assert.equal(result.deliveries?.get(to.address)?.code, 250);
  return data;
}

/** Submit through Postfix (port 587, STARTTLS + AUTH as alice); `chunking: false` forces DATA (dot-stuffed). */
export async function submit(
  to: RealUser,
  from: string,
  data: string | Uint8Array,
  log?: LogEntry[],
  chunking = true,
) {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.submission,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 60_000,
    auth: { username: alice.login, password: alice.password },
    logger: log ? (e) => log.push(e) : undefined,
    chunking,
  });
  const result = await c.sendMail({
    from,
    to: [to.address],
    data,
  });
  assert.equal(result.reply.code, 250);
  assert.deepEqual(result.accepted, [to.address]);
}

/** Log in, DELE everything, QUIT; then check the mailbox is empty. */
export async function clearMailbox(u: RealUser) {
  {
    await using c = await Pop3Client.connect(pop3(u));
    const ids = (await c.list()).map((m) => m.id);
    if (ids.length > 0) await c.deleMany(ids);
    await c.quit();
  }
  await using c = await Pop3Client.connect(pop3(u));
  assert.deepEqual(await c.stat(), { count: 0, size: 0 }, `${u.address}`);
  await c.quit();
}

/** The message number whose headers contain `needle`, or undefined. */
export async function find(
  c: Pop3Client,
  needle: string,
): Promise<number | undefined> {
  for (const { id } of await c.list()) {
    if (dec.decode(await c.top(id, 0)).includes(needle)) return id;
  }
  return undefined;
}

export async function mustFind(c: Pop3Client, needle: string): Promise<number> {
  const id = await find(c, needle);
  assert.ok(id !== undefined, `a message with ${needle} is in the mailbox`);
  return id;
}

/** Delete every message whose headers contain `needle` (cleanup). */
export async function remove(u: RealUser, needle: string) {
  await using c = await Pop3Client.connect(pop3(u));
  const ids: number[] = [];
  for (const { id } of await c.list()) {
    if (dec.decode(await c.top(id, 0)).includes(needle)) ids.push(id);
  }
  if (ids.length > 0) await c.deleMany(ids);
  await c.quit();
}

export async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: Uint8Array; chunks: number }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  // Bounded: the client caps a message at maxMessageBytes (256 MiB).
  for (let i = 0; i <= MAX_CHUNKS; i++) {
    const { done, value } = await reader.read();
    if (done) {
      return { bytes: concat(parts, total), chunks: parts.length };
    }
    parts.push(value);
    total += value.length;
  }
  await reader.cancel();
  throw new Error(`retrStream gave more than ${MAX_CHUNKS} chunks`);
}

export function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Exact byte equality, failing with the first differing offset. */
export function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
) {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const show = (b: Uint8Array) =>
    JSON.stringify(dec.decode(b.subarray(Math.max(0, i - 40), i + 40)));
  assert.fail(
    `${what}: ${actual.length} vs ${expected.length} bytes, first difference at ${i}\n` +
      `actual:   ${show(actual)}\nexpected: ${show(expected)}`,
  );
}

/** What the sender's bytes must look like in RETR: CRLF line ends, final CRLF. */
export function normalise(sent: Uint8Array): Uint8Array {
  let lf = 0;
  for (let i = 0; i < sent.length; i++) {
    if (sent[i] === 0x0a && (i === 0 || sent[i - 1] !== 0x0d)) lf++;
  }
  const endsCrlf = sent.length >= 2 && sent[sent.length - 2] === 0x0d &&
    sent[sent.length - 1] === 0x0a;
  const endsLf = sent.length >= 1 && sent[sent.length - 1] === 0x0a;
  const out = new Uint8Array(
    sent.length + lf + (endsCrlf || endsLf ? 0 : 2),
  );
  let at = 0;
  for (let i = 0; i < sent.length; i++) {
    if (sent[i] === 0x0a && (i === 0 || sent[i - 1] !== 0x0d)) {
      out[at++] = 0x0d;
    }
    out[at++] = sent[i];
  }
  if (!endsCrlf && !endsLf) out.set(CRLF, at);
  return out;
}

/**
 * The bytes before the submitted message are only the trace headers Postfix
 * and Dovecot add: Return-Path, Delivered-To, Received (folded).
 */
export function assertTracePrefix(prefix: Uint8Array, to: RealUser) {
  const text = dec.decode(prefix);
  assert.ok(text.endsWith("\r\n"), "prefix is whole header lines");
  const lines = text.slice(0, -2).split("\r\n");
  const names: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      assert.ok(names.length > 0, "no continuation line before a header");
      continue;
    }
    const m = /^([A-Za-z-]+):/.exec(line);
    assert.ok(m, `a header line: ${JSON.stringify(line)}`);
    names.push(m[1].toLowerCase());
  }
  assert.equal(names[0], "return-path", text);
  assert.ok(names.includes("delivered-to"), text);
  assert.ok(names.includes("received"), text);
  for (const name of names) {
    assert.ok(
      ["return-path", "delivered-to", "received"].includes(name),
      `only trace headers are added, got ${name}:\n${text}`,
    );
  }
  assert.match(text, new RegExp(`^Delivered-To: ${to.address}\r$`, "m"));
}

export function clientLines(log: LogEntry[]): string[] {
  return log.filter((e) => e.direction === "client").map((e) => e.text);
}

/** Index of the first entry from `from` on that satisfies `pred`. */
export function findFrom(
  log: LogEntry[],
  from: number,
  pred: (e: LogEntry) => boolean,
): number {
  for (let i = from; i < log.length; i++) if (pred(log[i])) return i;
  return -1;
}

/** The commands were written together: all of them before the first answer. */
export function assertPipelined(log: LogEntry[], commands: string[]) {
  const first = log.findIndex((e) =>
    e.direction === "client" && e.text === commands[0]
  );
  assert.ok(first >= 0, `${commands[0]} sent`);
  const answer = findFrom(log, first, (e) => e.direction === "server");
  let at = first;
  for (const command of commands) {
    at = findFrom(
      log,
      at,
      (e) => e.direction === "client" && e.text === command,
    );
    assert.ok(
      at >= 0 && (answer < 0 || at < answer),
      `${command} sent before the first answer`,
    );
  }
}
