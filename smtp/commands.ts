// Pure SMTP command building and parsing: EHLO features, MAIL/RCPT lines with their parameters, xtext, address checks.

import { InvalidInputError } from "../errors.ts";
import type { SmtpReply } from "../io/smtp_reply.ts";
import { assertSafe } from "../io/validate.ts";
import { SmtpNotSupportedError } from "./errors.ts";
import type { MailOptions, MessageData, RcptOptions } from "./types.ts";

/** What MAIL/RCPT building needs to know of the server. @internal */
export interface ServerTraits {
  /** EHLO keywords (upper case) → parameters. */
  readonly features: ReadonlyMap<string, string>;
  /** Whether TLS is active. */
  readonly secure: boolean;
}

const WHITE = /\s/;
const KEYWORD = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/;

/**
 * The features of an EHLO/LHLO reply: keyword (upper case) → parameters.
 * Every `AUTH` line (`AUTH PLAIN` and the old `AUTH=LOGIN` alike) adds its
 * mechanisms to one list, each once. Linear in the reply's size, however
 * many lines it has.
 */
export function parseEhlo(reply: SmtpReply): Map<string, string> {
  const features = new Map<string, string>();
  const auth = new Set<string>();
  let hasAuth = false;
  const lines = reply.lines;
  for (let i = 1; i < lines.length; i++) {
    const m = KEYWORD.exec(lines[i].trim());
    if (!m) continue;
    const key = m[1].toUpperCase();
    const params = (m[2] ?? "").trim();
    if (key === "AUTH") {
      hasAuth = true;
      for (const name of params.split(" ")) if (name) auth.add(name);
    } else {
      features.set(key, params);
    }
  }
  if (hasAuth) features.set("AUTH", [...auth].join(" "));
  return features;
}

/** Whether every UTF-16 unit of `text` is ASCII (a loop: no regex over user data). */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/** RFC 3461 xtext: "+", "=" and bytes outside 33..126 as +XX. */
export function xtext(value: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(value)) {
    out += b < 33 || b > 126 || b === 43 || b === 61
      ? "+" + b.toString(16).toUpperCase().padStart(2, "0")
      : String.fromCharCode(b);
  }
  return out;
}

/**
 * Refuse an address that can't go inside `<...>`: CR/LF/NUL, `<`, `>`,
 * white space outside a quoted local part, or empty (except the null
 * sender when `nullOk`).
 */
export function validateAddress(
  address: string,
  what: string,
  nullOk: boolean,
): void {
  assertSafe(address, what);
  if (address === "") {
    if (nullOk) return;
    throw new InvalidInputError(`${what} address is empty`);
  }
  let quoted = false;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    // Plain ASCII (the common case) without a string or regex per char.
    if (
      !quoted && code > 32 && code < 127 && code !== 34 && code !== 60 &&
      code !== 62
    ) continue;
    const c = address[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<" || c === ">" || WHITE.test(c)) {
      throw new InvalidInputError(
        `${what} address contains '<', '>' or unquoted white space`,
      );
    }
  }
  if (quoted) {
    throw new InvalidInputError(`${what} address has an unclosed quote`);
  }
}

function need(server: ServerTraits, ext: string): void {
  if (!server.features.has(ext)) {
    throw new SmtpNotSupportedError(
      `server does not offer ${ext.toLowerCase()}`,
    );
  }
}

/** What the sender computed about the message for MAIL FROM. */
export interface MessageTraits {
  /** RFC 1870 size (without dot-stuffing and end marker). */
  size?: number;
  /** Whether the message holds 8-bit bytes. */
  eightBit?: boolean;
  /** Whether a recipient of this transaction is not ASCII. */
  internationalRecipients?: boolean;
}

/**
 * `MAIL FROM:<from> params`. Checks every parameter and refuses what the
 * server did not offer (SMTPUTF8 for a non-ASCII address, 8BITMIME for
 * 8-bit data, DSN, REQUIRETLS, a size over SIZE) before a byte is sent.
 * `SMTPUTF8` is added by itself for a non-ASCII sender or recipient.
 */
export function mailLine(
  from: string,
  options: MailOptions,
  server: ServerTraits,
  message: MessageTraits = {},
): string {
  validateAddress(from, "sender", true);
  const params: string[] = [];
  const declared = options.size ?? message.size;
  if (
    declared !== undefined &&
    !(Number.isSafeInteger(declared) && declared >= 0)
  ) {
    throw new InvalidInputError("size must be a non-negative integer");
  }
  if (
    options.body !== undefined &&
    !["7BIT", "8BITMIME", "BINARYMIME"].includes(options.body)
  ) {
    throw new InvalidInputError("body must be 7BIT, 8BITMIME or BINARYMIME");
  }
  if (
    options.ret !== undefined && options.ret !== "FULL" &&
    options.ret !== "HDRS"
  ) {
    throw new InvalidInputError("ret must be FULL or HDRS");
  }
  const f = server.features;
  const limit = f.get("SIZE");
  if (declared !== undefined && limit !== undefined) {
    const max = Number(limit);
    if (max > 0 && declared > max) {
      throw new SmtpNotSupportedError(
        `message of ${declared} bytes exceeds the server's size limit of ${max} bytes`,
      );
    }
    params.push(`SIZE=${declared}`);
  }
  let body = options.body;
  if (body === undefined && message.eightBit) {
    // RFC 6152: 8-bit data only to a server that said it takes it.
    if (!f.has("8BITMIME")) {
      throw new SmtpNotSupportedError(
        "the message has 8-bit bytes but the server does not offer 8bitmime; " +
          'encode it (quoted-printable, base64) or set body: "7BIT" to send it anyway',
      );
    }
    body = "8BITMIME";
  }
  // BODY=7BIT is the default; without 8BITMIME the parameter is unknown.
  if (body === "7BIT" && !f.has("8BITMIME")) body = undefined;
  if (body) {
    if (body !== "7BIT") need(server, body);
    params.push(`BODY=${body}`);
  }
  const international = !isAscii(from) || message.internationalRecipients;
  if (options.smtputf8 || international) {
    if (!f.has("SMTPUTF8")) {
      throw new SmtpNotSupportedError(
        options.smtputf8 && !international
          ? "server does not offer smtputf8"
          : "server does not offer smtputf8, needed for a non-ascii address",
      );
    }
    params.push("SMTPUTF8");
  }
  if (options.ret !== undefined || options.envid !== undefined) {
    need(server, "DSN");
    if (options.ret) params.push(`RET=${options.ret}`);
    if (options.envid !== undefined) {
      assertSafe(options.envid, "envid");
      params.push(`ENVID=${xtext(options.envid)}`);
    }
  }
  if (options.requireTls) {
    need(server, "REQUIRETLS");
    if (!server.secure) {
      throw new SmtpNotSupportedError("requiretls needs a tls connection");
    }
    params.push("REQUIRETLS");
  }
  for (const p of options.params ?? []) {
    assertSafe(p, "mail parameter");
    params.push(p);
  }
  return `MAIL FROM:<${from}>${params.length ? " " + params.join(" ") : ""}`;
}

/**
 * `RCPT TO:<address> params`; `common` holds parameters for every
 * recipient (the recipient's own win). A non-ASCII address needs
 * `smtputf8` (the transaction's MAIL FROM carried SMTPUTF8).
 */
export function rcptLine(
  rcpt: { address: string } & RcptOptions,
  common: RcptOptions,
  server: ServerTraits,
  smtputf8: boolean,
): string {
  validateAddress(rcpt.address, "recipient", false);
  if (!smtputf8 && !isAscii(rcpt.address)) {
    throw new SmtpNotSupportedError(
      server.features.has("SMTPUTF8")
        ? "a non-ascii recipient needs smtputf8 on mail from; pass { smtputf8: true } to mail()"
        : "server does not offer smtputf8, needed for a non-ascii address",
    );
  }
  const params: string[] = [];
  const notify = rcpt.notify ?? common.notify;
  const orcpt = rcpt.orcpt ?? common.orcpt;
  if (notify !== undefined || orcpt !== undefined) need(server, "DSN");
  if (notify !== undefined) {
    const valid = notify === "NEVER" || (
      Array.isArray(notify) && notify.length > 0 &&
      new Set(notify).size === notify.length &&
      notify.every((n) => n === "SUCCESS" || n === "FAILURE" || n === "DELAY")
    );
    if (!valid) {
      throw new InvalidInputError(
        "notify must be NEVER or a list of SUCCESS, FAILURE, DELAY",
      );
    }
    params.push(`NOTIFY=${notify === "NEVER" ? "NEVER" : notify.join(",")}`);
  }
  if (orcpt !== undefined) {
    assertSafe(orcpt, "orcpt");
    params.push(`ORCPT=rfc822;${xtext(orcpt)}`);
  }
  for (const p of common.params ?? []) {
    assertSafe(p, "rcpt parameter");
    params.push(p);
  }
  for (const p of rcpt.params ?? []) {
    assertSafe(p, "rcpt parameter");
    params.push(p);
  }
  return `RCPT TO:<${rcpt.address}>${
    params.length ? " " + params.join(" ") : ""
  }`;
}

/** Verbs `command()` refuses, with the method to use instead. */
const RAW_REFUSED: Readonly<Record<string, string>> = {
  AUTH: "login() or auth()",
  STARTTLS: "startTls()",
  DATA: "data() or sendMail()",
  BDAT: "bdat() or sendMail()",
  QUIT: "quit()",
};

/**
 * Refuse a raw command line that can't be sent safely through
 * `command()`: CR/LF/NUL, or a verb that changes the session's state.
 */
export function checkRawCommand(line: string): void {
  assertSafe(line, "command");
  const verb = /^\s*(\S+)/.exec(line)?.[1]?.toUpperCase() ?? "";
  const instead = RAW_REFUSED[verb];
  if (instead) {
    throw new InvalidInputError(
      `command() does not send ${verb}; use ${instead} instead`,
    );
  }
}

/** Refuse message data that can't be sent, before a byte goes out. */
export function checkData(data: MessageData): void {
  if (typeof data === "string" || data instanceof Uint8Array) return;
  if (!(data instanceof ReadableStream)) {
    throw new InvalidInputError(
      "data must be a string, a Uint8Array or a ReadableStream",
    );
  }
  if (data.locked) {
    throw new InvalidInputError(
      "the message stream is locked (already being read)",
    );
  }
}

/** Whether a RCPT reply accepts the recipient (250, or 251 will forward). */
export function accepts(reply: SmtpReply): boolean {
  return reply.code === 250 || reply.code === 251;
}
