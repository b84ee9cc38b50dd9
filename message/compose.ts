/**
 * {@linkcode composeMessage}: a MIME message from nodemailer-style options,
 * built once and streamed on demand (attachments base64-encoded while they
 * stream), with its SMTP envelope and the extensions it needs.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import {
  type AddressInput,
  checkAddress,
  mailboxPieces,
  parseAddresses,
} from "./address.ts";
import {
  Base64LineEncoder,
  base64WrappedLength,
  encodeQuotedPrintable,
} from "./encoding.ts";
import {
  assertHeaderSafe,
  foldField,
  isAscii,
  unstructuredPieces,
  withParams,
} from "./header.ts";
import { type BodySegment, messageFrom, type Source } from "./message.ts";
import type { ComposedMessage } from "./message.ts";
import { contentTypeFor } from "./mime_types.ts";

const utf8 = new TextEncoder();

/**
 * One attachment (or inline image) of {@linkcode composeMessage}.
 *
 * @example An inline image referenced from the HTML, and a PDF
 * ```ts
 * import type { AttachmentInput } from "@mailwire/mailwire/message";
 * const logo: AttachmentInput = {
 *   filename: "logo.png",
 *   content: new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
 *   cid: "logo@example.com", // <img src="cid:logo@example.com">
 * };
 * const report: AttachmentInput = {
 *   filename: "Bericht März.pdf",
 *   content: new Blob([new Uint8Array(10)], { type: "application/pdf" }),
 * };
 * console.log(logo.cid, report.filename);
 * ```
 */
export interface AttachmentInput {
  /**
   * The content: bytes, a string (sent as UTF-8), a Blob or File (read
   * when the message streams), or a ReadableStream of bytes (read once: a
   * message holding one can be streamed only once).
   */
  content:
    | Uint8Array
    | ArrayBuffer
    | string
    | Blob
    | ReadableStream<Uint8Array>;
  /** File name shown to the recipient (RFC 2231-encoded when needed); a File's own name by default. */
  filename?: string;
  /**
   * MIME type, e.g. `image/png` (parameters allowed). Default: the Blob's
   * type, else guessed from the file name, else `application/octet-stream`.
   */
  contentType?: string;
  /**
   * Content-ID without `<>`, for `cid:` references from the HTML body: the
   * part goes into a multipart/related with the HTML, disposition inline.
   */
  cid?: string;
  /** `attachment` (default) or `inline` (default when `cid` is set). */
  disposition?: "attachment" | "inline";
}

/**
 * Options of {@linkcode composeMessage}. Unknown keys are refused.
 *
 * @example
 * ```ts
 * import type { ComposeOptions } from "@mailwire/mailwire/message";
 * const options: ComposeOptions = {
 *   from: { name: "Ann Lee", address: "ann@example.com" },
 *   to: ["bob@example.com", "Carol <carol@example.com>"],
 *   bcc: "audit@example.com",
 *   subject: "Quarterly report",
 *   text: "Hi,\nthe report is attached.\n",
 *   priority: "high",
 * };
 * console.log(options.subject);
 * ```
 */
export interface ComposeOptions {
  /** The author (From), also the envelope sender. */
  from: AddressInput;
  /** To recipients. A string may hold a comma-separated list. */
  to?: AddressInput | AddressInput[];
  /** Cc recipients. */
  cc?: AddressInput | AddressInput[];
  /** Bcc recipients: in the envelope, never in the headers. */
  bcc?: AddressInput | AddressInput[];
  /** Reply-To. */
  replyTo?: AddressInput | AddressInput[];
  /** Subject (encoded words when not ASCII, unless `smtputf8`). */
  subject?: string;
  /** Plain-text body; line ends become CRLF. */
  text?: string;
  /** HTML body; with `text`, the two go as multipart/alternative. */
  html?: string;
  /** Attachments and inline (`cid`) parts. */
  attachments?: AttachmentInput[];
  /**
   * Extra header fields, e.g. `{ "List-Unsubscribe": "<mailto:u@x.test>" }`.
   * Fields the composer writes itself (From, To, Subject, Content-Type, …)
   * are refused: use the options.
   */
  headers?: Record<string, string | string[]> | [string, string][];
  /** Date field; now by default. */
  date?: Date;
  /** Message-ID with or without `<>`; a random one at the sender's domain by default. */
  messageId?: string;
  /** In-Reply-To: the parent's Message-ID. */
  inReplyTo?: string;
  /** References: Message-IDs of the thread. */
  references?: string | string[];
  /** `high` / `low` set X-Priority and Importance; `normal` (default) sets nothing. */
  priority?: "high" | "normal" | "low";
  /**
   * Write non-ASCII header text as raw UTF-8 (RFC 6532) and non-ASCII text
   * bodies as 8bit: the message then needs SMTPUTF8 and 8BITMIME. Default:
   * on only when an address needs it (a non-ASCII local part); a non-ASCII
   * domain alone goes as punycode. `false` with such an address is an error.
   */
  smtputf8?: boolean;
}

const KNOWN = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "replyTo",
  "subject",
  "text",
  "html",
  "attachments",
  "headers",
  "date",
  "messageId",
  "inReplyTo",
  "references",
  "priority",
  "smtputf8",
]);
const HINTS: Record<string, string> = {
  body: "text",
  attachment: "attachments",
  reply_to: "replyTo",
  replyto: "replyTo",
  message_id: "messageId",
  messageid: "messageId",
  in_reply_to: "inReplyTo",
  header: "headers",
  sender: "from",
};
const ATTACHMENT_KNOWN = new Set([
  "content",
  "filename",
  "contentType",
  "cid",
  "disposition",
]);
const ATTACHMENT_HINTS: Record<string, string> = {
  data: "content",
  body: "content",
  name: "filename",
  fileName: "filename",
  type: "contentType",
  mimeType: "contentType",
  contentId: "cid",
};

function refuseUnknown(
  obj: object,
  known: Set<string>,
  hints: Record<string, string>,
  what: string,
): void {
  for (const key of Object.keys(obj)) {
    if (known.has(key)) continue;
    const hint = hints[key] ?? hints[key.toLowerCase()];
    throw new InvalidInputError(
      `unknown ${what} option ${JSON.stringify(key)}` +
        (hint ? `: did you mean ${hint}?` : ""),
    );
  }
}

/** Fields the composer writes; `headers` may not set them. */
const RESERVED = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "in-reply-to",
  "references",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-disposition",
  "content-id",
]);

interface Mailbox {
  name: string;
  address: string;
  international: boolean;
}

function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function mailboxes(
  input: AddressInput | AddressInput[] | undefined,
  what: string,
): Mailbox[] {
  const out: Mailbox[] = [];
  for (const item of list(input)) {
    if (typeof item === "string") {
      assertHeaderSafe(item, what);
      const parsed = parseAddresses(item);
      if (parsed.length === 0) {
        throw new InvalidInputError(`${what} holds no address`);
      }
      for (const p of parsed) {
        out.push({ name: p.name, ...checkAddress(p.address, what, true) });
      }
    } else if (
      item && typeof item === "object" && typeof item.address === "string"
    ) {
      const name = item.name ?? "";
      assertHeaderSafe(name, `${what} name`);
      out.push({ name, ...checkAddress(item.address, what, true) });
    } else {
      throw new InvalidInputError(
        `${what} must be a string or { name, address }`,
      );
    }
  }
  return out;
}

function msgId(value: string, what: string): string {
  assertHeaderSafe(value, what);
  let v = value.trim();
  if (v.startsWith("<") && v.endsWith(">")) v = v.slice(1, -1);
  if (!v || v.length > 900) {
    throw new InvalidInputError(`${what} must be 1 to 900 characters`);
  }
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 60 || c === 62) {
      throw new InvalidInputError(
        `${what} must be printable ascii without spaces or <>`,
      );
    }
  }
  return `<${v}>`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** RFC 5322 date-time in UTC: `Tue, 02 Dec 2025 17:22:05 +0000`. */
export function formatDate(d: Date): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) {
    throw new InvalidInputError("date must be a valid Date");
  }
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${
    p(d.getUTCSeconds())
  } +0000`;
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function asciiDomain(address: string): string {
  const domain = address.slice(address.lastIndexOf("@") + 1);
  if (isAscii(domain)) return domain;
  try {
    return new URL(`http://${domain}/`).hostname;
  } catch {
    return "localhost";
  }
}

function checkContentType(v: string, what: string): string {
  assertHeaderSafe(v, what);
  const t = v.trim();
  const semi = t.indexOf(";");
  const base = (semi < 0 ? t : t.slice(0, semi)).trim();
  const slash = base.indexOf("/");
  const token = (s: string) =>
    s.length > 0 &&
    [...s].every((c) =>
      c > " " && c < "\x7f" && !'()<>@,;:\\"/[]?='.includes(c)
    );
  if (
    slash < 0 || !token(base.slice(0, slash)) ||
    !token(base.slice(slash + 1)) || !isAscii(t)
  ) {
    throw new InvalidInputError(`${what} must be a mime type like text/plain`);
  }
  return t;
}

// ---- parts ----------------------------------------------------------------

interface Leaf {
  kind: "leaf";
  fields: string[];
  body: BodySegment[];
}
interface Multi {
  kind: "multi";
  subtype: string;
  children: Node[];
}
type Node = Leaf | Multi;

/** Line ends to CRLF (lone CR or LF included). */
function crlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

/** A text leaf, with the lightest transfer encoding its bytes allow. */
function textLeaf(subtype: string, text: string, raw8: boolean): {
  leaf: Leaf;
  eightBit: boolean;
} {
  const bytes = utf8.encode(crlf(text));
  let high = 0;
  let nul = false;
  let line = 0;
  let longest = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 10) {
      if (line - 1 > longest) longest = line - 1;
      line = 0;
      continue;
    }
    line++;
    if (b > 127) high++;
    else if (b === 0) nul = true;
  }
  if (line > longest) longest = line;
  let cte: string;
  let body: Uint8Array;
  if (!nul && longest <= 998 && high === 0) {
    cte = "7bit";
    body = bytes;
  } else if (!nul && longest <= 998 && raw8) {
    cte = "8bit";
    body = bytes;
  } else if (high * 6 < bytes.length) {
    cte = "quoted-printable";
    body = encodeQuotedPrintable(bytes);
  } else {
    cte = "base64";
    const enc = new Base64LineEncoder();
    const a = enc.push(bytes);
    const b = enc.end();
    body = new Uint8Array(a.length + b.length);
    body.set(a);
    body.set(b, a.length);
  }
  return {
    leaf: {
      kind: "leaf",
      fields: [
        `Content-Type: text/${subtype}; charset=utf-8`,
        `Content-Transfer-Encoding: ${cte}`,
      ],
      body: [body],
    },
    eightBit: cte === "8bit",
  };
}

interface PreparedAttachment {
  leaf: Leaf;
  cid?: string;
  replayable: boolean;
}

function attachmentLeaf(a: AttachmentInput, i: number): PreparedAttachment {
  const what = `attachments[${i}]`;
  if (!a || typeof a !== "object") {
    throw new InvalidInputError(`${what} must be an object with content`);
  }
  refuseUnknown(a, ATTACHMENT_KNOWN, ATTACHMENT_HINTS, "attachment");
  const c = a.content;
  let source: Source;
  let replayable = true;
  let blobType = "";
  let fileName: string | undefined;
  if (typeof c === "string") {
    source = { bytes: utf8.encode(c) };
  } else if (c instanceof Uint8Array) {
    source = { bytes: c };
  } else if (c instanceof ArrayBuffer) {
    source = { bytes: new Uint8Array(c) };
  } else if (typeof Blob !== "undefined" && c instanceof Blob) {
    source = { blob: c };
    blobType = c.type;
    const name = (c as { name?: unknown }).name;
    if (typeof name === "string" && name) fileName = name;
  } else if (c instanceof ReadableStream) {
    if (c.locked) {
      throw new InvalidInputError(`${what} content stream is locked`);
    }
    source = { stream: c, used: false, label: what };
    replayable = false;
  } else {
    throw new InvalidInputError(
      `${what} content must be a Uint8Array, ArrayBuffer, string, Blob or ReadableStream`,
    );
  }
  const filename = a.filename ?? fileName;
  if (filename !== undefined) assertHeaderSafe(filename, `${what} filename`);
  let type: string;
  if (a.contentType !== undefined) {
    type = checkContentType(a.contentType, `${what} contentType`);
  } else {
    try {
      type = checkContentType(blobType, "blob type");
    } catch {
      type = contentTypeFor(filename);
    }
  }
  if (
    typeof c === "string" && type.startsWith("text/") && !type.includes(";")
  ) {
    type += "; charset=utf-8";
  }
  let cid: string | undefined;
  if (a.cid !== undefined) cid = msgId(a.cid, `${what} cid`);
  const disposition = a.disposition ?? (cid ? "inline" : "attachment");
  if (disposition !== "attachment" && disposition !== "inline") {
    throw new InvalidInputError(
      `${what} disposition must be attachment or inline`,
    );
  }
  const semi = type.indexOf(";");
  const base = semi < 0 ? type : type.slice(0, semi);
  const typeParams = semi < 0 ? "" : type.slice(semi);
  const nameParam: [string, string][] = filename ? [["name", filename]] : [];
  const fields = [
    foldField("Content-Type", withParams(base + typeParams, nameParam)),
    "Content-Transfer-Encoding: base64",
    foldField(
      "Content-Disposition",
      withParams(disposition, filename ? [["filename", filename]] : []),
    ),
  ];
  if (cid) fields.push(`Content-ID: ${cid}`);
  return {
    leaf: { kind: "leaf", fields, body: [{ base64: source }] },
    cid,
    replayable,
  };
}

// ---- serialisation --------------------------------------------------------

function serialise(node: Node, out: BodySegment[]): string[] {
  if (node.kind === "leaf") {
    out.push(...node.body);
    return node.fields;
  }
  const boundary = `=_mw_${randomHex(12)}`;
  node.children.forEach((child, i) => {
    const pre: BodySegment[] = [];
    const inner: BodySegment[] = [];
    const fields = serialise(child, inner);
    pre.push(
      utf8.encode(
        `${i ? "\r\n" : ""}--${boundary}\r\n${fields.join("\r\n")}\r\n\r\n`,
      ),
    );
    out.push(...pre, ...inner);
  });
  out.push(utf8.encode(`\r\n--${boundary}--`));
  return [
    `Content-Type: multipart/${node.subtype}; boundary="${boundary}"`,
  ];
}

/**
 * Compose a MIME message. Every option is checked first: CR, LF or NUL in
 * any header value, an invalid address or an unknown option is an
 * {@linkcode InvalidInputError} before anything is built. The structure
 * follows the content: text and html go as multipart/alternative, inline
 * `cid` parts join the html in multipart/related, attachments make a
 * multipart/mixed. The Date, Message-ID and MIME boundaries are fixed here,
 * so every stream of the message gives the same bytes.
 *
 * The result carries its envelope (`to` holds To, Cc and Bcc; Bcc never
 * appears in the headers) and whether it needs SMTPUTF8 or 8BITMIME. Hand
 * it to an SMTP client as `sendMail({ from: m.envelope.from, to:
 * m.envelope.to, data: m.stream(), mailOptions })`, with `smtputf8` and
 * `body: "8BITMIME"` set from `m.smtputf8` and `m.eightBit`.
 *
 * @example Text, HTML and an attachment
 * ```ts
 * import { composeMessage } from "@mailwire/mailwire/message";
 *
 * const message = composeMessage({
 *   from: { name: "Jörg Müller", address: "joerg@example.com" },
 *   to: "Bob <bob@example.com>",
 *   bcc: "archive@example.com",
 *   subject: "Grüße aus Köln",
 *   text: "Hello Bob!\n",
 *   html: "<p>Hello <b>Bob</b>!</p>",
 *   attachments: [{ filename: "notes.txt", content: "see you" }],
 * });
 * console.log(message.envelope.to); // ["bob@example.com", "archive@example.com"]
 * console.log(message.smtputf8, message.eightBit); // false false
 * const bytes = await message.bytes();
 * console.log(new TextDecoder().decode(bytes).includes("Bcc:")); // false
 * ```
 *
 * @example Send it with the SMTP client
 * ```ts
 * import { composeMessage } from "@mailwire/mailwire/message";
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 *
 * async function send(client: SmtpClient) {
 *   const m = composeMessage({
 *     from: "me@example.com",
 *     to: "you@example.com",
 *     subject: "Hi",
 *     text: "Hello",
 *   });
 *   await client.sendMail({
 *     from: m.envelope.from,
 *     to: m.envelope.to,
 *     data: m.stream(),
 *     mailOptions: {
 *       smtputf8: m.smtputf8,
 *       body: m.eightBit ? "8BITMIME" : undefined,
 *       size: m.size,
 *     },
 *   });
 * }
 * console.log(typeof send);
 * ```
 */
export function composeMessage(options: ComposeOptions): ComposedMessage {
  if (!options || typeof options !== "object") {
    throw new InvalidInputError("compose options must be an object");
  }
  refuseUnknown(options, KNOWN, HINTS, "compose");
  if (options.from === undefined) {
    throw new InvalidInputError("from is required");
  }
  const from = mailboxes(options.from, "from");
  if (from.length !== 1) {
    throw new InvalidInputError("from must be exactly one address");
  }
  const to = mailboxes(options.to, "to");
  const cc = mailboxes(options.cc, "cc");
  const bcc = mailboxes(options.bcc, "bcc");
  const replyTo = mailboxes(options.replyTo, "replyTo");
  const everyone = [...from, ...to, ...cc, ...bcc, ...replyTo];
  const needsUtf8 = everyone.some((m) => m.international);
  if (options.smtputf8 !== undefined && typeof options.smtputf8 !== "boolean") {
    throw new InvalidInputError("smtputf8 must be a boolean");
  }
  if (options.smtputf8 === false && needsUtf8) {
    throw new InvalidInputError(
      "an address has a non-ascii local part, which needs smtputf8: drop smtputf8: false",
    );
  }
  const raw8 = options.smtputf8 ?? needsUtf8;
  for (const k of ["subject", "text", "html"] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== "string") {
      throw new InvalidInputError(`${k} must be a string`);
    }
  }
  if (options.subject !== undefined) {
    assertHeaderSafe(options.subject, "subject");
  }
  const date = formatDate(options.date ?? new Date());
  const messageId = options.messageId !== undefined
    ? msgId(options.messageId, "messageId")
    : `<${randomHex(16)}@${asciiDomain(from[0].address)}>`;
  const inReplyTo = options.inReplyTo !== undefined
    ? msgId(options.inReplyTo, "inReplyTo")
    : undefined;
  const references = list(options.references).map((r) =>
    msgId(r, "references")
  );
  const priority = options.priority ?? "normal";
  if (!["high", "normal", "low"].includes(priority)) {
    throw new InvalidInputError("priority must be high, normal or low");
  }
  const extra: [string, string][] = [];
  const h = options.headers;
  if (h !== undefined) {
    const entries: [string, string | string[]][] = Array.isArray(h)
      ? h
      : Object.entries(h);
    for (const [name, value] of entries) {
      for (const v of list(value)) extra.push([name, v]);
    }
  }
  for (const [name, value] of extra) {
    if (typeof name !== "string" || name.length === 0 || name.length > 76) {
      throw new InvalidInputError("header name must be 1 to 76 characters");
    }
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c <= 32 || c >= 127 || c === 58) {
        throw new InvalidInputError(
          `header name ${
            JSON.stringify(name)
          } must be printable ascii without ':'`,
        );
      }
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new InvalidInputError(
        `header ${name.toLowerCase()} is written by composeMessage: use its option instead`,
      );
    }
    assertHeaderSafe(value, `header ${name.toLowerCase()}`);
  }
  const attachments = list(options.attachments).map(attachmentLeaf);

  // The tree.
  let eightBit = raw8 && everyone.some((m) => !isAscii(m.name + m.address));
  const leaf = (subtype: string, text: string) => {
    const r = textLeaf(subtype, text, raw8);
    if (r.eightBit) eightBit = true;
    return r.leaf;
  };
  const textPart = options.text !== undefined
    ? leaf("plain", options.text)
    : undefined;
  let htmlPart: Node | undefined = options.html !== undefined
    ? leaf("html", options.html)
    : undefined;
  const related = htmlPart ? attachments.filter((a) => a.cid) : [];
  const others = attachments.filter((a) => !related.includes(a));
  if (htmlPart && related.length) {
    htmlPart = {
      kind: "multi",
      subtype: "related",
      children: [htmlPart, ...related.map((a) => a.leaf)],
    };
  }
  const main: Node | undefined = textPart && htmlPart
    ? { kind: "multi", subtype: "alternative", children: [textPart, htmlPart] }
    : textPart ?? htmlPart;
  let root: Node;
  if (others.length) {
    root = {
      kind: "multi",
      subtype: "mixed",
      children: [...(main ? [main] : []), ...others.map((a) => a.leaf)],
    };
  } else root = main ?? leaf("plain", "");

  // The header block.
  const fields: string[] = [`Date: ${date}`];
  const addressField = (name: string, boxes: Mailbox[]) => {
    if (!boxes.length) return;
    const pieces: string[] = [];
    boxes.forEach((m, i) => {
      const ps = mailboxPieces(m.name, m.address, raw8);
      if (i) ps[0] = " " + ps[0];
      if (i < boxes.length - 1) ps[ps.length - 1] += ",";
      pieces.push(...ps);
    });
    fields.push(foldField(name, pieces));
  };
  addressField("From", from);
  addressField("Reply-To", replyTo);
  addressField("To", to);
  addressField("Cc", cc);
  if (options.subject !== undefined) {
    fields.push(
      foldField("Subject", unstructuredPieces(options.subject, raw8)),
    );
  }
  fields.push(`Message-ID: ${messageId}`);
  if (inReplyTo) fields.push(foldField("In-Reply-To", [inReplyTo]));
  if (references.length) {
    fields.push(
      foldField("References", references.map((r, i) => (i ? " " : "") + r)),
    );
  }
  if (priority !== "normal") {
    fields.push(
      `X-Priority: ${priority === "high" ? "1 (Highest)" : "5 (Lowest)"}`,
    );
    fields.push(`Importance: ${priority}`);
  }
  for (const [name, value] of extra) {
    fields.push(foldField(name, unstructuredPieces(value, raw8)));
  }
  if (raw8 && !isAscii(options.subject ?? "")) eightBit = true;
  if (raw8 && extra.some(([, v]) => !isAscii(v))) eightBit = true;
  fields.push("MIME-Version: 1.0");
  const body: BodySegment[] = [];
  fields.push(...serialise(root, body));
  if (root.kind === "multi") body.push(utf8.encode("\r\n"));
  else {
    // A single part ends with a line end (SMTP would add one anyway).
    const last = body[body.length - 1];
    if (
      last instanceof Uint8Array && last.length > 0 &&
      !(last[last.length - 2] === 13 && last[last.length - 1] === 10)
    ) body.push(utf8.encode("\r\n"));
    else if (!(last instanceof Uint8Array)) body.push(utf8.encode("\r\n"));
  }
  const head = utf8.encode(fields.join("\r\n") + "\r\n\r\n");
  const seen = new Set<string>();
  const rcpts: string[] = [];
  for (const m of [...to, ...cc, ...bcc]) {
    if (!seen.has(m.address)) {
      seen.add(m.address);
      rcpts.push(m.address);
    }
  }
  let size: number | undefined = head.length;
  for (const s of body) {
    if (size === undefined) break;
    if (s instanceof Uint8Array) size += s.length;
    else {
      const src = s.base64;
      const n = "bytes" in src
        ? src.bytes.length
        : "blob" in src
        ? src.blob.size
        : undefined;
      size = n === undefined ? undefined : size + base64WrappedLength(n);
    }
  }
  return messageFrom({
    envelope: { from: from[0].address, to: rcpts },
    smtputf8: raw8,
    eightBit,
    messageId,
    head,
    body,
    size,
  });
}
