// `mailwire send`: compose (or take a raw .eml), then send one message or many (with progress), or print it (--dry-run).

import { basename } from "node:path";
import {
  type AttachmentInput,
  type ComposedMessage,
  composeMessage,
  type ComposeOptions,
} from "../message/mod.ts";
import { AbortedError } from "../tls/mod.ts";
import {
  envelopeFromMessage,
  type SendMessageOptions,
  type SendResult,
  type SmtpClientOptions,
  SmtpRecipientsRefusedError,
} from "../smtp/mod.ts";
import {
  flag,
  list,
  type OptionSpec,
  parseChoice,
  parseCount,
  str,
} from "./args.ts";
import {
  begin,
  COMMON_SPEC,
  connection,
  type Context,
  CREDENTIAL_SPEC,
  credentials,
  insecureAuth,
  readArgFile,
  usageOf,
} from "./common.ts";
import {
  EXIT,
  type ExitCode,
  exitCodeOf,
  UsageError,
  worstExit,
} from "./exit.ts";
import { SEND_HELP } from "./help.ts";
import { Progress, progressMode } from "./progress.ts";
import { openSender, type Sender } from "./sender.ts";

const SPEC: Record<string, OptionSpec> = {
  ...COMMON_SPEC,
  ...CREDENTIAL_SPEC,
  from: { type: "string", short: "f" },
  to: { type: "string", short: "t", multiple: true },
  cc: { type: "string", multiple: true },
  bcc: { type: "string", multiple: true },
  subject: { type: "string" },
  body: { type: "string" },
  "body-file": { type: "string" },
  html: { type: "string" },
  "html-file": { type: "string" },
  attach: { type: "string", multiple: true },
  header: { type: "string", multiple: true },
  eml: { type: "string" },
  "dry-run": { type: "boolean" },
  count: { type: "string" },
  connections: { type: "string" },
  recipients: { type: "string" },
  progress: { type: "string" },
  "local-name": { type: "string" },
};

const DEFAULT_BODY = "This is a test message sent by mailwire.\n";
const dec = new TextDecoder();

/** Read all of a stream (stdin). */
async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A file argument, or stdin for `-` (once). */
async function input(
  path: string,
  what: string,
  ctx: Context,
): Promise<Uint8Array> {
  if (path === "-") return await readAll(ctx.io.stdin.read());
  return await readArgFile(path, what);
}

/** Split `--to a,b --to c` into addresses (commas outside quotes and angle brackets). */
export function addressList(values: string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let depth = 0;
    let quoted = false;
    let start = 0;
    for (let i = 0; i <= value.length; i++) {
      const c = value[i];
      if (c === '"' && value[i - 1] !== "\\") quoted = !quoted;
      else if (!quoted && c === "<") depth++;
      else if (!quoted && c === ">") depth = Math.max(0, depth - 1);
      if (i === value.length || (c === "," && !quoted && depth === 0)) {
        const one = value.slice(start, i).trim();
        if (one) out.push(one);
        start = i + 1;
      }
    }
  }
  return out;
}

/** `Name: value` → a header pair. */
export function headerArg(text: string): [string, string] {
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw new UsageError(`--header must be "Name: value": ${text}`);
  }
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

/** The recipients of a `--recipients` file: one address a line; blank lines and `#` comments skipped. */
export function recipientsFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    out.push(line);
  }
  return out;
}

/** `{n}` → the message number, `{total}` → how many (bulk sends only). */
function numbered(
  text: string | undefined,
  n: number,
  total: number,
): string | undefined {
  return text?.replaceAll("{n}", String(n)).replaceAll(
    "{total}",
    String(total),
  );
}

/** One message to send: composed or raw, with its envelope overrides. */
interface Outgoing {
  message: ComposedMessage | Uint8Array;
  options: SendMessageOptions;
}

/** Builds message number `n` (1-based) of `total`, for recipient `rcpt` (bulk by file). */
type Maker = (n: number, total: number, rcpt?: string) => Outgoing;

/** The message maker from the flags. */
async function maker(
  values: Record<string, unknown>,
  ctx: Context,
): Promise<Maker> {
  const v = values as Parameters<typeof str>[0];
  const from = str(v, "from");
  const to = addressList(list(v, "to"));
  const eml = str(v, "eml");
  if (eml !== undefined) {
    for (const other of ["subject", "body", "body-file", "html", "html-file"]) {
      if (v[other] !== undefined) {
        throw new UsageError(
          `send: --eml sends the file as is; --${other} can't be used with it`,
        );
      }
    }
    if (list(v, "attach").length || list(v, "header").length) {
      throw new UsageError(
        "send: --eml sends the file as is; --attach and --header can't be used with it",
      );
    }
    if (list(v, "cc").length || list(v, "bcc").length) {
      throw new UsageError(
        "send: with --eml the recipients are --to (or the file's To/Cc/Bcc)",
      );
    }
    const bytes = await input(eml, "--eml", ctx);
    if (bytes.length === 0) throw new UsageError(`send: --eml ${eml} is empty`);
    return (_n, _total, rcpt) => ({
      message: bytes,
      options: {
        from,
        to: rcpt !== undefined ? [rcpt] : to.length ? to : undefined,
      },
    });
  }
  if (from === undefined) {
    throw new UsageError(
      'send needs --from ADDRESS (or --eml FILE); run "mailwire send --help"',
    );
  }
  let text: string | undefined = str(v, "body");
  const bodyFile = str(v, "body-file");
  if (text !== undefined && bodyFile !== undefined) {
    throw new UsageError("send: give --body or --body-file, not both");
  }
  if (bodyFile !== undefined) {
    text = dec.decode(await input(bodyFile, "--body-file", ctx));
  }
  let html = str(v, "html");
  const htmlFile = str(v, "html-file");
  if (html !== undefined && htmlFile !== undefined) {
    throw new UsageError("send: give --html or --html-file, not both");
  }
  if (htmlFile !== undefined) {
    html = dec.decode(await input(htmlFile, "--html-file", ctx));
  }
  if (text === undefined && html === undefined) text = DEFAULT_BODY;
  const attachments: AttachmentInput[] = [];
  for (const path of list(v, "attach")) {
    attachments.push({
      filename: basename(path),
      content: await readArgFile(path, "--attach"),
    });
  }
  const headers = list(v, "header").map(headerArg);
  const cc = addressList(list(v, "cc"));
  const bcc = addressList(list(v, "bcc"));
  const subject = str(v, "subject") ?? "mailwire test";
  return (n, total, rcpt) => {
    const bulk = total > 1;
    const options: ComposeOptions = {
      from,
      to: rcpt !== undefined ? [rcpt] : to,
      cc: cc.length ? cc : undefined,
      bcc: bcc.length ? bcc : undefined,
      subject: bulk ? numbered(subject, n, total) : subject,
      text: bulk ? numbered(text, n, total) : text,
      html: bulk ? numbered(html, n, total) : html,
      attachments: attachments.length ? attachments : undefined,
      headers: headers.length ? headers : undefined,
    };
    try {
      return { message: composeMessage(options), options: {} };
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) {
        throw new UsageError(`send: ${err.message}`);
      }
      throw err;
    }
  };
}

/** What `--dry-run` prints: the envelope as comments, then the message. */
async function dryRun(
  out: Outgoing,
  ctx: Context,
  total: number,
): Promise<void> {
  let from: string;
  let to: string[];
  let bytes: Uint8Array;
  let notes: string;
  if (out.message instanceof Uint8Array) {
    const env = envelopeFromMessage(out.message, {
      from: out.options.from,
      to: out.options.to,
    });
    from = env.from;
    to = env.to;
    bytes = out.message;
    notes = `smtputf8: ${
      env.international ? "yes" : "no"
    } (bcc removed when sent)`;
  } else {
    from = out.message.envelope.from;
    to = out.message.envelope.to;
    bytes = await out.message.bytes();
    notes = `smtputf8: ${out.message.smtputf8 ? "yes" : "no"}, 8bitmime: ${
      out.message.eightBit ? "yes" : "no"
    }`;
  }
  ctx.out.write(`# envelope from: <${from}>\n`);
  ctx.out.write(
    `# envelope to: ${to.map((a) => `<${a}>`).join(", ") || "(none)"}\n`,
  );
  ctx.out.write(`# size: ${bytes.length} bytes, ${notes}\n`);
  if (total > 1) {
    ctx.out.write(
      `# message 1 of ${total} (each has its own number and Message-ID)\n`,
    );
  }
  ctx.out.write(`#\n`);
  ctx.out.write(bytes);
  if (bytes.length && bytes[bytes.length - 1] !== 0x0a) ctx.out.write("\n");
}

/** Print one send's result. */
function report(result: SendResult, ctx: Context): ExitCode {
  if (result.accepted.length) {
    ctx.out.write(`accepted: ${result.accepted.join(", ")}\n`);
  }
  for (const [rcpt, reply] of result.refused) {
    ctx.out.write(`refused: ${rcpt}: ${reply.code} ${reply.text}\n`);
  }
  if (result.unknown.length) {
    ctx.out.write(`outcome unknown: ${result.unknown.join(", ")}\n`);
  }
  ctx.out.write(`server: ${result.reply.code} ${result.reply.text}\n`);
  if (result.unknown.length) return EXIT.outcomeUnknown;
  return result.refused.size ? EXIT.refused : EXIT.ok;
}

/** The bulk loop: `total` messages through `sender`, with progress. */
async function bulk(
  sender: Sender,
  make: Maker,
  rcpts: (string | undefined)[],
  count: number,
  mode: ReturnType<typeof progressMode>,
  ctx: Context,
): Promise<ExitCode> {
  const total = rcpts.length * count;
  const progress = new Progress(ctx.status, mode, "send", "msgs", total);
  ctx.beforeErr = () => progress.clear();
  const start = Date.now();
  let exit: ExitCode = EXIT.ok;
  let done = 0;
  let accepted = 0;
  let refused = 0;
  let unknown = 0;
  let failed = 0;
  let errorsShown = 0;
  let stop: unknown;
  // Stopping (an error, Ctrl-C) withdraws what waits in the pool; what is
  // on the wire finishes.
  const run = new AbortController();
  const interrupted = () => run.abort();
  ctx.io.signal?.addEventListener("abort", interrupted, { once: true });
  const stopped = () => stop !== undefined || run.signal.aborted;
  const problem = (n: number, text: string) => {
    if (errorsShown++ < 10) {
      progress.clear();
      ctx.err.write(`message ${n}: ${text}\n`);
    }
  };
  let next = 0;
  const worker = async (upTo: number) => {
    while (next < upTo && !stopped()) {
      const i = next++;
      const n = i + 1;
      const rcpt = rcpts[Math.floor(i / count)];
      const out = make(n, total, rcpt);
      try {
        const result = await sender.sendMessage(out.message, {
          ...out.options,
          signal: run.signal,
        });
        if (result.unknown.length) {
          unknown++;
          exit = worstExit(exit, EXIT.outcomeUnknown);
          problem(n, `outcome unknown for ${result.unknown.join(", ")}`);
        } else if (result.refused.size) {
          refused++;
          exit = worstExit(exit, EXIT.refused);
          problem(n, `refused for ${[...result.refused.keys()].join(", ")}`);
        } else accepted++;
      } catch (err) {
        if (err instanceof AbortedError && run.signal.aborted) {
          continue; // withdrawn before a byte of it was sent: not sent
        }
        const code = exitCodeOf(err);
        exit = worstExit(exit, code);
        if (code === EXIT.outcomeUnknown) unknown++;
        else if (code === EXIT.refused) refused++;
        else failed++;
        problem(n, (err as Error).message);
        // Anything but a refusal of this one message ends the run.
        if (
          code !== EXIT.refused && !(err instanceof SmtpRecipientsRefusedError)
        ) {
          stop = err;
          run.abort();
        }
      }
      done++;
      progress.update(done);
    }
  };
  // The first message alone: what fails for every message fails once.
  await worker(1);
  await Promise.all(
    Array.from(
      { length: Math.min(Math.max(1, sender.concurrency), total) },
      () => worker(total),
    ),
  );
  ctx.io.signal?.removeEventListener("abort", interrupted);
  progress.finish();
  ctx.beforeErr = undefined;
  if (errorsShown > 10) {
    ctx.err.write(`... and ${errorsShown - 10} more problems\n`);
  }
  const secs = (Date.now() - start) / 1000;
  const notSent = total - done;
  ctx.out.write(
    `sent ${done} of ${total} messages in ${secs.toFixed(1)} s (${
      (done / Math.max(secs, 0.001)).toFixed(1)
    } msg/s) over ${sender.connections} connection(s): ${accepted} accepted, ${refused} refused, ${failed} failed, ${unknown} outcome unknown${
      notSent ? `, ${notSent} not sent` : ""
    }\n`,
  );
  if (ctx.io.signal?.aborted && notSent) {
    exit = worstExit(exit, EXIT.interrupted);
  }
  return exit;
}

/** Run `mailwire send`. */
export async function send(args: string[], ctx: Context): Promise<ExitCode> {
  const parsed = begin("send", args, SPEC, SEND_HELP, ctx);
  if (!parsed) return EXIT.ok;
  const { values } = parsed;
  const count = str(values, "count") === undefined
    ? 1
    : parseCount(str(values, "count")!, "--count");
  const connections = str(values, "connections") === undefined
    ? 1
    : parseCount(str(values, "connections")!, "--connections", 100);
  const recipientsPath = str(values, "recipients");
  let rcpts: (string | undefined)[] = [undefined];
  if (recipientsPath !== undefined) {
    if (list(values, "to").length) {
      throw new UsageError("send: give --to or --recipients, not both");
    }
    rcpts = recipientsFile(
      dec.decode(await input(recipientsPath, "--recipients", ctx)),
    );
    if (rcpts.length === 0) {
      throw new UsageError(
        `send: --recipients ${recipientsPath} lists no address`,
      );
    }
  }
  const progressFlag = str(values, "progress");
  if (progressFlag !== undefined) {
    parseChoice(
      progressFlag,
      "--progress",
      ["auto", "bar", "plain", "none"] as const,
    );
  }
  const make = await maker(values, ctx);
  const total = rcpts.length * count;
  if (flag(values, "dry-run")) {
    await dryRun(make(1, total, rcpts[0]), ctx, total);
    return EXIT.ok;
  }
  // The first message is built before connecting: bad input fails early.
  const first = make(1, total, rcpts[0]);
  if (
    !(first.message instanceof Uint8Array) &&
    first.message.envelope.to.length === 0
  ) {
    throw new UsageError(
      "send needs a recipient: --to ADDRESS (or --recipients FILE)",
    );
  }
  const conn = await connection("send", values, ctx);
  const auth = await credentials("send", values, ctx);
  const options: SmtpClientOptions = {
    ...conn,
    auth,
    allowInsecureAuth: insecureAuth(values, ctx),
    localName: str(values, "local-name"),
    // One message: Ctrl-C aborts it (a bulk send instead stops queueing).
    signal: total === 1 ? ctx.io.signal : undefined,
  };
  const sender = await usageOf(
    "send",
    () => openSender(options, Math.min(connections, total)),
  );
  try {
    if (total === 1) {
      return report(
        await sender.sendMessage(first.message, first.options),
        ctx,
      );
    }
    let used = false;
    const reuse: Maker = (n, t, r) => {
      if (n === 1 && !used) {
        used = true;
        return first;
      }
      return make(n, t, r);
    };
    return await bulk(
      sender,
      reuse,
      rcpts,
      count,
      progressMode(progressFlag, ctx.err.isTTY),
      ctx,
    );
  } finally {
    await sender.close();
  }
}
