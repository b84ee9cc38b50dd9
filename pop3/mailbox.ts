// The TRANSACTION-state steps of Pop3Client (CAPA, LIST, UIDL, RETR as bytes or a stream, TOP), over a Pop3Connection.

import type { Deadline } from "../io/deadline.ts";
import type { SessionCall } from "../io/session.ts";
import { messageStream } from "./body.ts";
import { lineCount, messageId } from "./commands.ts";
import type { Pop3Connection } from "./connection.ts";
import { Pop3ResponseError } from "./errors.ts";
import {
  parseScanListing,
  parseScanListings,
  parseUidListing,
  parseUidListings,
  type Pop3ScanListing,
  type Pop3UidListing,
} from "./parse.ts";
import type { Pop3PipelineReply } from "./types.ts";

/** Chunks of a message stream. */
const STREAM_CHUNK = 64 << 10;
/** After a cancelled stream: discard at most this much, then close instead. */
const DRAIN_LIMIT = 1 << 20;
const DRAIN_TIMEOUT = 10_000;

/** CAPA, always asked; a copy of the answer. @internal */
export async function capa(
  c: Pop3Connection,
  d: Deadline,
): Promise<Map<string, string[]>> {
  c.capa = undefined;
  const capabilities = await c.capabilities(d);
  if (c.capaRefusal) {
    throw new Pop3ResponseError("capa refused", c.capaRefusal);
  }
  return new Map([...capabilities].map(([k, v]) => [k, [...v]]));
}

/** LIST, or LIST `id`. @internal */
export async function list(
  c: Pop3Connection,
  id: number | undefined,
  d: Deadline,
): Promise<Pop3ScanListing[] | Pop3ScanListing> {
  if (id !== undefined) {
    const n = messageId(id);
    const status = await c.ok(`LIST ${n}`, d, `list ${n}`);
    return c.parse(() => parseScanListing(status.text));
  }
  await c.ok("LIST", d, "list");
  const lines = await c.lines(d, "list response");
  const listing = c.parse(() => parseScanListings(lines));
  // Kept to preallocate RETR buffers and size pipeline windows.
  c.sizes = new Map(listing.map((m) => [m.id, m.size]));
  return listing;
}

/** UIDL, or UIDL `id` (refused before a byte when CAPA lacks UIDL). @internal */
export async function uidl(
  c: Pop3Connection,
  id: number | undefined,
  d: Deadline,
): Promise<Pop3UidListing[] | Pop3UidListing> {
  const n = id === undefined ? undefined : messageId(id);
  await c.need("UIDL", d);
  if (n !== undefined) {
    const status = await c.ok(`UIDL ${n}`, d, `uidl ${n}`);
    return c.parse(() => parseUidListing(status.text));
  }
  await c.ok("UIDL", d, "uidl");
  const lines = await c.lines(d, "uidl response");
  return c.parse(() => parseUidListings(lines));
}

/** RETR into one buffer. @internal */
export async function retr(
  c: Pop3Connection,
  id: number,
  d: Deadline,
): Promise<Uint8Array> {
  const n = messageId(id);
  const status = await c.ok(`RETR ${n}`, d, `retr ${n}`);
  return await c.body(status, d, n);
}

/** TOP (refused before a byte when CAPA lacks TOP). @internal */
export async function top(
  c: Pop3Connection,
  id: number,
  lines: number,
  d: Deadline,
): Promise<Uint8Array> {
  const n = messageId(id);
  const count = lineCount(lines);
  await c.need("TOP", d);
  const status = await c.ok(`TOP ${n} ${count}`, d, `top ${n}`);
  return await c.body(status, d);
}

/**
 * RETR as a stream read only as it is consumed, each pull bounded by the
 * call's timeout; the connection is busy until it ends. @internal
 */
export async function retrStream(
  c: Pop3Connection,
  id: number,
  call: SessionCall | undefined,
  d: Deadline,
): Promise<ReadableStream<Uint8Array>> {
  const n = messageId(id);
  const s = c.session;
  await c.ok(`RETR ${n}`, d, `retr ${n}`);
  const ch = s.channel;
  const reader = ch.reader;
  const max = c.o.maxMessageBytes;
  const token = {};
  c.stream = token;
  const timeout = call?.timeout ?? c.o.timeout;
  return messageStream({
    reader,
    maxBytes: max,
    chunkSize: STREAM_CHUNK,
    pullDeadline: () => s.deadline(call),
    drainDeadline: () => s.deadline(call, Math.min(timeout, DRAIN_TIMEOUT)),
    drainLimit: DRAIN_LIMIT,
    signal: d.signal,
    abort: ch.abort,
    mapError: (err) => s.annotate(s.mapError(err), "retr"),
    done: (clean) => {
      if (c.stream === token) c.stream = undefined;
      if (ch.logging) {
        ch.log(
          clean ? "server" : "info",
          clean
            ? `<message data streamed>`
            : `message stream ended early; connection closed`,
        );
      }
    },
  });
}

/** Every answer of a RETR/DELE batch, or the first `-ERR` as a Pop3ResponseError. @internal */
export function allOk<T>(
  replies: Pop3PipelineReply[],
  pick: (reply: Pop3PipelineReply) => T,
): T[] {
  return replies.map((r) => {
    if (!r.status.ok) {
      const { command } = r.command;
      const id = (r.command as { id: number }).id;
      throw new Pop3ResponseError(`${command.toLowerCase()} ${id}`, r.status);
    }
    return pick(r);
  });
}
