// POP3 batches: pipelined commands with their answers in order, and the UIDL+LIST listing a fetcher needs.

import { ProtocolError } from "../errors.ts";
import type { Deadline } from "../io/deadline.ts";
import type { Pop3Connection } from "./connection.ts";
import { Pop3ResponseError } from "./errors.ts";
import {
  parseScanListings,
  parseUidListings,
  type Pop3MessageListing,
} from "./parse.ts";
import type { Pop3PipelineCommand, Pop3PipelineReply } from "./types.ts";

/**
 * Command bytes in flight at most: a server that stops reading while its
 * answers pile up (ours are read as they come) can't make a write of ours
 * wait forever on a full socket buffer.
 */
const COMMAND_WINDOW = 16 * 1024;
/** Answer bytes in flight at most (expected from LIST sizes, when known). */
const ANSWER_WINDOW = 32 << 20;
/** An answer's size when nothing better is known (a status line). */
const STATUS_BYTES = 64;

/** Whether batches may go out in one write. */
async function pipelining(c: Pop3Connection, d: Deadline): Promise<boolean> {
  if (!c.o.pipelining) return false;
  return await c.has("PIPELINING", d);
}

/**
 * Send `commands` (their `lines` already built and checked) and read the
 * answers in order: windows of commands in flight with PIPELINING (a
 * server that stops reading while answers pile up cannot deadlock us),
 * one at a time without. `-ERR` answers are returned, not thrown. TOP is
 * refused before anything is sent when CAPA lacks it.
 */
export async function runPipeline(
  c: Pop3Connection,
  commands: readonly Pop3PipelineCommand[],
  lines: readonly string[],
  d: Deadline,
): Promise<Pop3PipelineReply[]> {
  if (lines.length === 0) return [];
  if (commands.some((cmd) => cmd.command === "TOP")) await c.need("TOP", d);
  const pipelined = await pipelining(c, d);
  c.session.phase = "pipeline";
  const replies: Pop3PipelineReply[] = [];
  // Expected answer bytes of each command: a RETR's from LIST, when known.
  const expected = (i: number) => {
    const cmd = commands[i];
    const size = cmd.command === "RETR" ? c.sizes?.get(cmd.id) : undefined;
    return STATUS_BYTES + (size ?? 0);
  };
  let sent = 0;
  let commandBytes = 0; // in flight
  let answerBytes = 0; // expected, in flight
  const fits = (j: number) =>
    commandBytes + lines[j].length + 2 <= COMMAND_WINDOW &&
    answerBytes + expected(j) <= ANSWER_WINDOW;
  for (let i = 0; i < lines.length; i++) {
    // Keep the windows full: refill once a quarter is free. (Half, as
    // before, let the answers already in flight run out before the next
    // batch's came back, at 10 ms RTT: a 15-25 ms stall per refill.)
    if (
      sent === i ||
      (pipelined && sent < lines.length &&
        commandBytes <= COMMAND_WINDOW * 3 / 4 &&
        answerBytes <= ANSWER_WINDOW * 3 / 4)
    ) {
      const from = sent;
      do {
        commandBytes += lines[sent].length + 2;
        answerBytes += expected(sent);
        sent++;
      } while (pipelined && sent < lines.length && fits(sent));
      await c.send(lines.slice(from, sent), d, undefined, from > i);
    }
    const command = commands[i];
    const status = await c.status(d);
    const reply: Pop3PipelineReply = { command, status };
    if (
      status.ok && (command.command === "RETR" || command.command === "TOP")
    ) {
      reply.body = await c.body(
        status,
        d,
        command.command === "RETR" ? command.id : undefined,
      );
    }
    commandBytes -= lines[i].length + 2;
    answerBytes -= expected(i);
    replies.push(reply);
  }
  return replies;
}

/** UIDL and LIST together (one write with PIPELINING), joined by message number. */
export async function listing(
  c: Pop3Connection,
  d: Deadline,
): Promise<Pop3MessageListing[]> {
  await c.need("UIDL", d);
  const pipelined = await pipelining(c, d);
  c.session.phase = "uidl";
  const read = async (what: string) => {
    const status = await c.status(d);
    return status.ok
      ? { lines: await c.lines(d, `${what} response`) }
      : { error: new Pop3ResponseError(what, status) };
  };
  let uidl, list;
  if (pipelined) {
    await c.send(["UIDL", "LIST"], d);
    uidl = await read("uidl");
    c.session.phase = "list";
    list = await read("list");
  } else {
    await c.send(["UIDL"], d);
    uidl = await read("uidl");
    if (uidl.error) throw uidl.error;
    c.session.phase = "list";
    await c.send(["LIST"], d);
    list = await read("list");
  }
  if (uidl.error) throw uidl.error;
  if (list.error) throw list.error;
  return c.parse(() => {
    const sizes = new Map<number, number>();
    for (const { id, size } of parseScanListings(list.lines!)) {
      sizes.set(id, size);
    }
    c.sizes = sizes;
    const uids = parseUidListings(uidl.lines!);
    if (uids.length !== sizes.size) {
      throw new ProtocolError("uidl and list disagree on the messages");
    }
    return uids.map(({ id, uid }) => {
      const size = sizes.get(id);
      if (size === undefined) {
        throw new ProtocolError("uidl and list disagree on the messages");
      }
      return { id, uid, size };
    });
  });
}
