// `mailwire fetch`: list a POP3 mailbox, save new messages to a Maildir or .eml files (verified, resumable), delete only when asked.

import {
  Pop3Client,
  type Pop3ClientOptions,
  type Pop3MessageListing,
  Pop3ResponseError,
} from "../pop3/mod.ts";
import { flag, type OptionSpec, parseChoice, parseCount, str } from "./args.ts";
import {
  begin,
  COMMON_SPEC,
  connection,
  type Context,
  CREDENTIAL_SPEC,
  credentials,
  insecureAuth,
  usageOf,
} from "./common.ts";
import { EXIT, type ExitCode, UsageError, worstExit } from "./exit.ts";
import { FETCH_HELP } from "./help.ts";
import { formatBytes, Progress, progressMode } from "./progress.ts";
import { MessageStore, type SavedEntry, type StoreKind } from "./store.ts";

const SPEC: Record<string, OptionSpec> = {
  ...COMMON_SPEC,
  ...CREDENTIAL_SPEC,
  list: { type: "boolean", short: "l" },
  maildir: { type: "string" },
  "eml-dir": { type: "string" },
  delete: { type: "boolean" },
  keep: { type: "boolean" },
  limit: { type: "string" },
  progress: { type: "string" },
  json: { type: "boolean" },
};

/** Messages from this size on are streamed to disk (with progress) instead of fetched whole. */
const STREAM_FROM = 1 << 20;
/** A pipelined batch of small messages: at most this many... */
const BATCH_COUNT = 32;
/** ...and at most this many bytes. */
const BATCH_BYTES = 4 << 20;

/** Split the messages to fetch into pipelined batches of small ones and single large ones. */
export function batches(
  todo: readonly Pop3MessageListing[],
): Pop3MessageListing[][] {
  const out: Pop3MessageListing[][] = [];
  let batch: Pop3MessageListing[] = [];
  let bytes = 0;
  for (const m of todo) {
    if (m.size >= STREAM_FROM) {
      if (batch.length) out.push(batch);
      out.push([m]);
      batch = [];
      bytes = 0;
      continue;
    }
    if (batch.length >= BATCH_COUNT || bytes + m.size > BATCH_BYTES) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(m);
    bytes += m.size;
  }
  if (batch.length) out.push(batch);
  return out;
}

/** Run `mailwire fetch`. */
export async function fetch(args: string[], ctx: Context): Promise<ExitCode> {
  const parsed = begin("fetch", args, SPEC, FETCH_HELP, ctx);
  if (!parsed) return EXIT.ok;
  const { values } = parsed;
  const listOnly = flag(values, "list");
  const maildir = str(values, "maildir");
  const emlDir = str(values, "eml-dir");
  if (maildir !== undefined && emlDir !== undefined) {
    throw new UsageError("fetch: give --maildir or --eml-dir, not both");
  }
  if (flag(values, "delete") && flag(values, "keep")) {
    throw new UsageError("fetch: --delete and --keep exclude each other");
  }
  const dir = maildir ?? emlDir;
  const kind: StoreKind = maildir !== undefined ? "maildir" : "eml";
  if (!listOnly && dir === undefined) {
    throw new UsageError(
      'fetch needs --maildir DIR or --eml-dir DIR (or --list); run "mailwire fetch --help"',
    );
  }
  const limitFlag = str(values, "limit");
  const limit = limitFlag === undefined
    ? Infinity
    : parseCount(limitFlag, "--limit");
  const progressFlag = str(values, "progress");
  if (progressFlag !== undefined) {
    parseChoice(
      progressFlag,
      "--progress",
      ["auto", "bar", "plain", "none"] as const,
    );
  }
  const conn = await connection("fetch", values, ctx);
  const auth = await credentials("fetch", values, ctx);
  if (!auth) {
    throw new UsageError(
      'fetch needs --user NAME (the password from MAILWIRE_PASSWORD or a prompt); run "mailwire fetch --help"',
    );
  }
  const tls = conn.tls ?? (conn.port === 995 ? "implicit" : "starttls");
  const port = conn.port ?? (tls === "implicit" ? 995 : 110);
  const options: Pop3ClientOptions = {
    ...conn,
    auth,
    allowInsecureAuth: insecureAuth(values, ctx),
  };
  const client = usageOf("fetch", () => new Pop3Client(options));
  try {
    await client.connect();
    const listing = await client.listing();
    if (listOnly) {
      if (flag(values, "json")) {
        ctx.out.write(
          JSON.stringify(
            listing.map(({ id, uid, size }) => ({ id, uid, size })),
          ) + "\n",
        );
      } else {
        for (const m of listing) {
          ctx.out.write(`${m.id}\t${m.uid}\t${m.size}\n`);
        }
        const total = listing.reduce((s, m) => s + m.size, 0);
        ctx.err.write(`${listing.length} message(s), ${formatBytes(total)}\n`);
      }
      await client.quit();
      return EXIT.ok;
    }
    const store = await MessageStore.open(
      dir!,
      kind,
      `${auth.username}@${conn.hostname}:${port}`,
    );
    try {
      return await fetchInto(
        client,
        store,
        listing,
        limit,
        flag(values, "delete"),
        progressFlag,
        ctx,
      );
    } finally {
      await store.close();
    }
  } finally {
    await client.close();
  }
}

/** Save every message not saved yet, then (with --delete) delete every saved one, then QUIT. */
async function fetchInto(
  client: Pop3Client,
  store: MessageStore,
  listing: Pop3MessageListing[],
  limit: number,
  deleteSaved: boolean,
  progressFlag: string | undefined,
  ctx: Context,
): Promise<ExitCode> {
  if (store.recovered) {
    ctx.warn(
      `completed ${store.recovered} message(s) saved by an interrupted run`,
    );
  }
  const seen = new Set<string>();
  const todo: Pop3MessageListing[] = listing.filter((m) => {
    if (store.has(m.uid) || seen.has(m.uid)) return false;
    seen.add(m.uid);
    return true;
  });
  const skipped = listing.length - todo.length;
  todo.splice(limit);
  const totalBytes = todo.reduce((s, m) => s + m.size, 0);
  const progress = new Progress(
    ctx.status,
    progressMode(progressFlag, ctx.err.isTTY),
    "fetch",
    "msgs",
    todo.length,
    totalBytes,
  );
  ctx.beforeErr = () => progress.clear();
  let exit: ExitCode = EXIT.ok;
  let saved = 0;
  let savedBytes = 0;
  let doneBytes = 0;
  let interrupted = false;
  const start = Date.now();
  try {
    for (const batch of batches(todo)) {
      if (interrupted || ctx.io.signal?.aborted) {
        interrupted = true;
        break;
      }
      if (batch.length === 1 && batch[0].size >= STREAM_FROM) {
        const m = batch[0];
        const stream = await client.retrStream(m.id);
        const base = doneBytes;
        const entry = await store.save(
          m.uid,
          stream,
          m.size,
          (n) => progress.update(saved, base + Math.min(n, m.size)),
        );
        saved++;
        savedBytes += entry.size;
        doneBytes += m.size;
        progress.update(saved, doneBytes);
        continue;
      }
      const replies = await client.pipeline(
        batch.map((m) => ({ command: "RETR" as const, id: m.id })),
      );
      // Each file written, synced and verified; then one journal sync for the batch.
      const staged: SavedEntry[] = [];
      try {
        for (let i = 0; i < batch.length; i++) {
          if (ctx.io.signal?.aborted) {
            interrupted = true;
            break;
          }
          const m = batch[i];
          const r = replies[i];
          doneBytes += m.size;
          if (!r.status.ok || !r.body) {
            progress.clear();
            ctx.err.write(
              `message ${m.id} (${m.uid}): ${
                new Pop3ResponseError(`retr ${m.id}`, r.status).message
              }\n`,
            );
            exit = worstExit(exit, EXIT.refused);
            continue;
          }
          staged.push(await store.stage(m.uid, r.body, m.size));
          saved++;
          savedBytes += r.body.length;
          progress.update(saved, doneBytes);
        }
      } finally {
        await store.commit(staged);
      }
    }
  } finally {
    progress.finish();
    ctx.beforeErr = undefined;
  }
  let deleted = 0;
  if (deleteSaved) {
    const ids = listing.filter((m) => store.has(m.uid)).map((m) => m.id);
    if (ids.length) {
      const replies = await client.pipeline(
        ids.map((id) => ({ command: "DELE" as const, id })),
      );
      for (const r of replies) {
        if (r.status.ok) deleted++;
        else {
          ctx.err.write(
            `${
              new Pop3ResponseError(
                `dele ${(r.command as { id: number }).id}`,
                r.status,
              ).message
            }\n`,
          );
          exit = worstExit(exit, EXIT.refused);
        }
      }
    }
  }
  // Deletions are committed by a completed QUIT only.
  const bye = await client.quit();
  if (deleteSaved && deleted && !bye.ok) {
    ctx.err.write(`quit failed: deletions not committed: ${bye.text}\n`);
    exit = worstExit(exit, EXIT.refused);
    deleted = 0;
  }
  const secs = (Date.now() - start) / 1000;
  ctx.out.write(
    `saved ${saved} new message(s) (${
      formatBytes(savedBytes)
    }) to ${store.dir} in ${
      secs.toFixed(1)
    } s; ${skipped} already saved or repeated; ${
      deleteSaved
        ? `${deleted} deleted from the server`
        : "nothing deleted (--keep)"
    }${
      interrupted
        ? `; interrupted, ${todo.length - saved} left for the next run`
        : ""
    }\n`,
  );
  if (interrupted) exit = worstExit(exit, EXIT.interrupted);
  return exit;
}
