/**
 * {@linkcode parseMessage}: an RFC 5322 / MIME message (what POP3 `RETR`
 * returns) into headers, a MIME tree, decoded text and html bodies and
 * attachments. Tolerant of real-world mail, capped against hostile input,
 * linear in the input's size.
 *
 * @module
 */
import { type Address, parseAddresses } from "./address.ts";
import {
  concatBytes,
  decodeBase64,
  decodeQuotedPrintable,
} from "./encoding.ts";
import { MessageLimitError } from "./errors.ts";
import { decodeCharset, decodeWords, headerText } from "./header.ts";
import { parseParams } from "./params.ts";

/**
 * Caps of {@linkcode parseMessage}. Going past one throws a
 * {@linkcode MessageLimitError}.
 *
 * @example
 * ```ts
 * import type { ParseOptions } from "@mailwire/mailwire/message";
 * const strict: ParseOptions = { maxSize: 1024 * 1024, maxDepth: 8 };
 * console.log(strict.maxDepth);
 * ```
 */
export interface ParseOptions {
  /** Largest message in octets. Default 64 MiB. */
  maxSize?: number;
  /** Deepest multipart nesting. Default 32. */
  maxDepth?: number;
  /** Most MIME parts in all. Default 1000. */
  maxParts?: number;
  /** Most header fields in one header block. Default 1000. */
  maxHeaders?: number;
  /** Largest header block in octets. Default 256 KiB. */
  maxHeaderBytes?: number;
}

/**
 * One header field, unfolded.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@mailwire/mailwire/message";
 * const m = await parseMessage(new TextEncoder().encode("Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"));
 * const [field] = m.headers;
 * console.log(field.name, field.value, field.raw); // "subject" "café" "=?utf-8?q?caf=C3=A9?="
 * ```
 */
export interface HeaderField {
  /** Field name in lower case. */
  name: string;
  /** Value with encoded words decoded, trimmed. */
  value: string;
  /** Value as received (unfolded, trimmed; 8-bit bytes read as UTF-8, else windows-1252). */
  raw: string;
}

/**
 * A node of the MIME tree.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@mailwire/mailwire/message";
 * const m = await parseMessage(new TextEncoder().encode(
 *   "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=F6ln\r\n",
 * ));
 * console.log(m.root.contentType, m.root.params.charset, m.root.text()); // "text/plain" "iso-8859-1" "Köln\r\n"
 * ```
 */
export interface MimePart {
  /** This part's header fields, in order. */
  headers: HeaderField[];
  /** `type/subtype` in lower case (`text/plain` when absent). */
  contentType: string;
  /** Content-Type parameters (names in lower case, RFC 2231 decoded). */
  params: Record<string, string>;
  /** Content-Disposition type in lower case, if any. */
  disposition?: string;
  /** File name from Content-Disposition `filename` or Content-Type `name`. */
  filename?: string;
  /** Content-ID without `<>`. */
  contentId?: string;
  /** Content-Transfer-Encoding in lower case (`7bit` when absent). */
  transferEncoding: string;
  /** Sub-parts of a multipart; empty for a leaf. */
  children: MimePart[];
  /** The body as it was received (still transfer-encoded); a view into the message. */
  raw: Uint8Array;
  /** The body with its transfer encoding undone. */
  content(): Uint8Array;
  /** The body decoded to text with its charset (UTF-8 by default). */
  text(): string;
}

/**
 * An attachment (every leaf that is not the text or html body).
 *
 * @example
 * ```ts
 * import { composeMessage, parseMessage } from "@mailwire/mailwire/message";
 * const sent = composeMessage({
 *   from: "a@example.com",
 *   attachments: [{ filename: "a.bin", content: new Uint8Array([1, 2, 3]) }],
 * });
 * const [att] = (await parseMessage(await sent.bytes())).attachments;
 * console.log(att.filename, att.contentType, att.content); // "a.bin" "application/octet-stream" Uint8Array [1, 2, 3]
 * ```
 */
export interface ParsedAttachment {
  /** File name, if the part has one. */
  filename?: string;
  /** `type/subtype` in lower case. */
  contentType: string;
  /** `attachment`, `inline` or another disposition; `attachment` when absent. */
  disposition: string;
  /** Content-ID without `<>`, for `cid:` references. */
  contentId?: string;
  /** The decoded bytes. */
  content: Uint8Array;
  /** The MIME part it came from. */
  part: MimePart;
}

/**
 * A parsed message: its header fields, the common ones already decoded, the
 * MIME tree, the text and html bodies and the attachments.
 *
 * @example
 * ```ts
 * import { parseMessage, type ParsedMessage } from "@mailwire/mailwire/message";
 * const m: ParsedMessage = await parseMessage(new TextEncoder().encode(
 *   "From: Ann <ann@example.com>\r\nSubject: hi\r\n\r\nHello\r\n",
 * ));
 * console.log(m.from, m.subject, m.text); // { name: "Ann", address: "ann@example.com" } "hi" "Hello\r\n"
 * ```
 */
export interface ParsedMessage {
  /** Top-level header fields, in order. */
  headers: HeaderField[];
  /** The decoded value of the first field called `name` (any case). */
  header(name: string): string | undefined;
  /** The decoded values of every field called `name`. */
  headerAll(name: string): string[];
  /** Subject, decoded. */
  subject?: string;
  /** First From mailbox. */
  from?: Address;
  /** Sender mailbox. */
  sender?: Address;
  /** To mailboxes. */
  to: Address[];
  /** Cc mailboxes. */
  cc: Address[];
  /** Bcc mailboxes (rarely present in received mail). */
  bcc: Address[];
  /** Reply-To mailboxes. */
  replyTo: Address[];
  /** Date, if it parses. */
  date?: Date;
  /** Message-ID without `<>`. */
  messageId?: string;
  /** In-Reply-To without `<>`. */
  inReplyTo?: string;
  /** References, each without `<>`. */
  references: string[];
  /** The plain-text body. */
  text?: string;
  /** The HTML body. */
  html?: string;
  /** Every other leaf part. */
  attachments: ParsedAttachment[];
  /** The root of the MIME tree (the message itself). */
  root: MimePart;
}

interface Caps {
  maxDepth: number;
  maxParts: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  parts: number;
}

function cap(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${what} must be a non-negative integer`);
  }
  return v;
}

/** Read `input` into one buffer, refusing more than `max` octets. */
async function readAll(
  input: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array> {
  const reader = input.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > max) {
        await reader.cancel().catch(() => {});
        throw new MessageLimitError(
          `message larger than ${max} octets`,
          "size",
          max,
        );
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return concatBytes(parts);
}

/** End of the line starting at `pos` (index of its LF, or `end`). */
function lineEnd(b: Uint8Array, pos: number, end: number): number {
  const nl = b.indexOf(10, pos);
  return nl < 0 || nl >= end ? end : nl;
}

function isHeaderStart(b: Uint8Array, pos: number, end: number): boolean {
  // `name:` with a printable name (no space before the colon, tolerated:
  // `Name :` as obs-syntax).
  for (let i = pos; i < end && i - pos < 1000; i++) {
    const c = b[i];
    if (c === 58) return i > pos;
    if (c <= 32 && c !== 32 && c !== 9) return false;
    if (c === 10 || c === 13) return false;
  }
  return false;
}

/** Header fields of `[start, end)`, and where the body starts. */
function parseHeaders(
  b: Uint8Array,
  start: number,
  end: number,
  caps: Caps,
): { fields: HeaderField[]; bodyStart: number } {
  const fields: HeaderField[] = [];
  let pos = start;
  // An mbox separator line, or no header block at all.
  if (
    pos < end && b[pos] !== 10 && b[pos] !== 13 && !isHeaderStart(b, pos, end)
  ) {
    const le = lineEnd(b, pos, end);
    const line = b.subarray(pos, le);
    if (line.length >= 5 && headerText(line.subarray(0, 5)) === "From ") {
      pos = le + 1;
    } else return { fields, bodyStart: start };
  }
  let fieldStart = -1;
  let fieldEnd = -1;
  const flush = () => {
    if (fieldStart < 0) return;
    if (fields.length >= caps.maxHeaders) {
      throw new MessageLimitError(
        `more than ${caps.maxHeaders} header fields in one part`,
        "headers",
        caps.maxHeaders,
      );
    }
    const text = headerText(b.subarray(fieldStart, fieldEnd)).replace(
      /\r?\n/g,
      "",
    );
    const colon = text.indexOf(":");
    const raw = text.slice(colon + 1).trim();
    fields.push({
      name: text.slice(0, colon).trim().toLowerCase(),
      raw,
      value: decodeWords(raw),
    });
    fieldStart = -1;
  };
  while (pos < end) {
    if (pos - start > caps.maxHeaderBytes) {
      throw new MessageLimitError(
        `header block larger than ${caps.maxHeaderBytes} octets`,
        "headerBytes",
        caps.maxHeaderBytes,
      );
    }
    const le = lineEnd(b, pos, end);
    const contentEnd = le > pos && b[le - 1] === 13 ? le - 1 : le;
    if (contentEnd === pos) { // the empty line
      flush();
      return { fields, bodyStart: Math.min(le + 1, end) };
    }
    const c = b[pos];
    if ((c === 32 || c === 9) && fieldStart >= 0) {
      fieldEnd = contentEnd; // continuation
    } else if (isHeaderStart(b, pos, contentEnd)) {
      flush();
      fieldStart = pos;
      fieldEnd = contentEnd;
    } else if (fieldStart < 0 && fields.length === 0) {
      // Not a header: the body starts here (tolerated, no blank line).
      return { fields, bodyStart: pos };
    } // else: a stray line inside the header block, skipped
    pos = le + 1;
  }
  flush();
  return { fields, bodyStart: end };
}

/** Offsets of the delimiter lines of `boundary` within `[start, end)`. */
function findParts(
  b: Uint8Array,
  start: number,
  end: number,
  boundary: Uint8Array,
): { starts: number[]; ends: number[] } | null {
  const starts: number[] = [];
  const ends: number[] = [];
  let pos = start;
  let closed = false;
  const n = boundary.length;
  while (pos < end) {
    const le = lineEnd(b, pos, end);
    let match = b[pos] === 45 && b[pos + 1] === 45 && pos + 2 + n <= le;
    if (match) {
      for (let k = 0; k < n; k++) {
        if (b[pos + 2 + k] !== boundary[k]) {
          match = false;
          break;
        }
      }
    }
    if (match) {
      const after = pos + 2 + n;
      const isClose = b[after] === 45 && b[after + 1] === 45 && after + 1 < le;
      // What follows the boundary must be "--", blanks or the line end.
      let j = isClose ? after + 2 : after;
      while (j < le && (b[j] === 32 || b[j] === 9 || b[j] === 13)) j++;
      if (j === le) {
        // The line end before the delimiter belongs to it.
        if (starts.length) {
          let e = pos;
          if (e > start && b[e - 1] === 10) e--;
          if (e > start && b[e - 1] === 13) e--;
          ends.push(Math.max(e, starts[starts.length - 1]));
        }
        if (isClose) {
          closed = true;
          break;
        }
        starts.push(Math.min(le + 1, end));
      }
    }
    pos = le + 1;
  }
  if (!starts.length) return null;
  if (!closed || ends.length < starts.length) ends.push(end); // no final boundary
  return { starts, ends };
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function makePart(
  headers: HeaderField[],
  raw: Uint8Array,
  defaultType: string,
): MimePart {
  const get = (n: string) => headers.find((h) => h.name === n)?.raw;
  const ct = parseParams(get("content-type") ?? "");
  let contentType = ct.value.toLowerCase();
  if (!contentType.includes("/")) contentType = defaultType;
  const cd = get("content-disposition");
  const disp = cd === undefined ? undefined : parseParams(cd);
  const cte = (get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  let cid = get("content-id")?.trim();
  if (cid?.startsWith("<") && cid.endsWith(">")) cid = cid.slice(1, -1);
  const filename = disp?.params.filename ?? ct.params.name;
  let decoded: Uint8Array | undefined;
  const part: MimePart = {
    headers,
    contentType,
    params: ct.params,
    disposition: disp?.value.toLowerCase() || undefined,
    filename: filename || undefined,
    contentId: cid || undefined,
    transferEncoding: cte,
    children: [],
    raw,
    content() {
      if (decoded) return decoded;
      decoded = cte === "base64"
        ? decodeBase64(raw)
        : cte === "quoted-printable"
        ? decodeQuotedPrintable(raw)
        : raw;
      return decoded;
    },
    text() {
      const bytes = part.content();
      const cs = part.params.charset;
      if (cs) return decodeCharset(bytes, cs);
      try {
        return strictUtf8.decode(bytes);
      } catch {
        return decodeCharset(bytes, "windows-1252");
      }
    },
  };
  return part;
}

function parsePart(
  b: Uint8Array,
  start: number,
  end: number,
  depth: number,
  caps: Caps,
  defaultType: string,
): MimePart {
  if (++caps.parts > caps.maxParts) {
    throw new MessageLimitError(
      `more than ${caps.maxParts} mime parts`,
      "parts",
      caps.maxParts,
    );
  }
  const { fields, bodyStart } = parseHeaders(b, start, end, caps);
  const part = makePart(fields, b.subarray(bodyStart, end), defaultType);
  const boundary = part.params.boundary;
  if (part.contentType.startsWith("multipart/") && boundary) {
    if (depth >= caps.maxDepth) {
      throw new MessageLimitError(
        `mime parts nested deeper than ${caps.maxDepth}`,
        "depth",
        caps.maxDepth,
      );
    }
    const found = findParts(b, bodyStart, end, utf8.encode(boundary));
    const childType = part.contentType === "multipart/digest"
      ? "message/rfc822"
      : "text/plain";
    if (found) {
      for (let i = 0; i < found.starts.length; i++) {
        part.children.push(
          parsePart(
            b,
            found.starts[i],
            found.ends[i],
            depth + 1,
            caps,
            childType,
          ),
        );
      }
    } else {
      // A broken multipart without a single delimiter: keep its body as text.
      if (++caps.parts > caps.maxParts) {
        throw new MessageLimitError(
          `more than ${caps.maxParts} mime parts`,
          "parts",
          caps.maxParts,
        );
      }
      part.children.push(
        makePart([], b.subarray(bodyStart, end), "text/plain"),
      );
    }
  }
  return part;
}

function stripAngles(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  const open = t.indexOf("<");
  const close = t.indexOf(">", open + 1);
  return open >= 0 && close > open ? t.slice(open + 1, close) : t || undefined;
}

function msgIds(v: string | undefined): string[] {
  const out: string[] = [];
  if (!v) return out;
  let pos = 0;
  for (;;) {
    const open = v.indexOf("<", pos);
    if (open < 0) break;
    const close = v.indexOf(">", open + 1);
    if (close < 0) break;
    out.push(v.slice(open + 1, close));
    pos = close + 1;
  }
  return out;
}

/**
 * Parse a message: headers unfolded and decoded, the MIME tree, the text and
 * html bodies decoded by transfer encoding and charset, and the other leaves
 * as attachments (bytes). Tolerates folded and 8-bit headers, mixed charsets,
 * broken or missing boundaries; throws {@linkcode MessageLimitError} only at
 * a cap of `options`. A ReadableStream is read to its end (within
 * `maxSize`) first.
 *
 * @example
 * ```ts
 * import { composeMessage, parseMessage } from "@mailwire/mailwire/message";
 * const sent = composeMessage({
 *   from: "Jörg <j@example.com>",
 *   to: "bob@example.com",
 *   subject: "Grüße",
 *   text: "Hallo\n",
 *   html: "<p>Hallo</p>",
 * });
 * const m = await parseMessage(sent.stream());
 * console.log(m.subject, m.from?.name, m.text, m.html); // "Grüße" "Jörg" "Hallo\r\n" "<p>Hallo</p>"
 * ```
 */
export async function parseMessage(
  input: Uint8Array | ReadableStream<Uint8Array>,
  options: ParseOptions = {},
): Promise<ParsedMessage> {
  const maxSize = cap(options.maxSize, 64 * 1024 * 1024, "maxSize");
  const caps: Caps = {
    maxDepth: cap(options.maxDepth, 32, "maxDepth"),
    maxParts: cap(options.maxParts, 1000, "maxParts"),
    maxHeaders: cap(options.maxHeaders, 1000, "maxHeaders"),
    maxHeaderBytes: cap(options.maxHeaderBytes, 256 * 1024, "maxHeaderBytes"),
    parts: 0,
  };
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) {
    if (input.length > maxSize) {
      throw new MessageLimitError(
        `message larger than ${maxSize} octets`,
        "size",
        maxSize,
      );
    }
    bytes = input;
  } else bytes = await readAll(input, maxSize);
  const root = parsePart(bytes, 0, bytes.length, 0, caps, "text/plain");
  const headers = root.headers;
  const rawOf = (n: string) => headers.find((h) => h.name === n)?.raw;
  const all = (n: string) =>
    headers.filter((h) => h.name === n).flatMap((h) => parseAddresses(h.raw));
  let text: string | undefined;
  let html: string | undefined;
  const attachments: ParsedAttachment[] = [];
  const walk = (p: MimePart) => {
    if (p.children.length) {
      p.children.forEach(walk);
      return;
    }
    if (p.contentType.startsWith("multipart/")) return; // empty container
    const bodyLike = p.disposition !== "attachment" && !p.filename;
    if (bodyLike && p.contentType === "text/plain" && text === undefined) {
      text = p.text();
    } else if (
      bodyLike && p.contentType === "text/html" && html === undefined
    ) {
      html = p.text();
    } else {
      attachments.push({
        filename: p.filename,
        contentType: p.contentType,
        disposition: p.disposition ?? "attachment",
        contentId: p.contentId,
        content: p.content(),
        part: p,
      });
    }
  };
  walk(root);
  const dateRaw = rawOf("date");
  const date = dateRaw === undefined ? undefined : new Date(dateRaw);
  const from = all("from")[0];
  const sender = all("sender")[0];
  const subject = headers.find((h) => h.name === "subject")?.value;
  return {
    headers,
    header: (n) => headers.find((h) => h.name === n.toLowerCase())?.value,
    headerAll: (n) =>
      headers.filter((h) => h.name === n.toLowerCase()).map((h) => h.value),
    ...(subject !== undefined ? { subject } : {}),
    ...(from ? { from } : {}),
    ...(sender ? { sender } : {}),
    to: all("to"),
    cc: all("cc"),
    bcc: all("bcc"),
    replyTo: all("reply-to"),
    ...(date && !Number.isNaN(date.getTime()) ? { date } : {}),
    ...(rawOf("message-id")
      ? { messageId: stripAngles(rawOf("message-id")) }
      : {}),
    ...(rawOf("in-reply-to")
      ? { inReplyTo: stripAngles(rawOf("in-reply-to")) }
      : {}),
    references: msgIds(rawOf("references")),
    ...(text !== undefined ? { text } : {}),
    ...(html !== undefined ? { html } : {}),
    attachments,
    root,
  };
}
