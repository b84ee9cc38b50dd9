/**
 * {@linkcode dkimSign}: DKIM signatures (RFC 6376) with rsa-sha256 or
 * ed25519-sha256 (RFC 8463) on WebCrypto, the body hashed as it streams;
 * {@linkcode dkimDnsRecord} gives the TXT record to publish.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import { concatBytes, decodeBase64, encodeBase64 } from "./encoding.ts";
import { type ComposedMessage, messageFrom } from "./message.ts";
import { Sha256, sha256 } from "./sha256.ts";

/**
 * A canonicalization pair, `header/body` (RFC 6376 §3.4).
 *
 * @example
 * ```ts
 * import type { DkimCanonicalization } from "@mailwire/mailwire/message";
 * const c: DkimCanonicalization = "relaxed/simple";
 * console.log(c);
 * ```
 */
export type DkimCanonicalization =
  | "simple/simple"
  | "simple/relaxed"
  | "relaxed/simple"
  | "relaxed/relaxed";

/**
 * Options of {@linkcode dkimSign}. Unknown keys are refused.
 *
 * @example
 * ```ts
 * import type { DkimOptions } from "@mailwire/mailwire/message";
 * const pem = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----";
 * const options: DkimOptions = {
 *   domain: "example.com",
 *   selector: "mail2025",
 *   privateKey: pem,
 *   algorithm: "rsa-sha256",
 * };
 * console.log(options.selector);
 * ```
 */
export interface DkimOptions {
  /** Signing domain (`d=`). */
  domain: string;
  /** Selector (`s=`): the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /**
   * The private key: a WebCrypto `CryptoKey` (RSASSA-PKCS1-v1_5 with
   * SHA-256, or Ed25519, usage `sign`), a PEM string (`PRIVATE KEY` PKCS#8
   * or `RSA PRIVATE KEY` PKCS#1), PKCS#8 DER bytes, or for ed25519 the
   * 32-byte seed.
   */
  privateKey: CryptoKey | string | Uint8Array;
  /** `rsa-sha256` or `ed25519-sha256`. */
  algorithm: "rsa-sha256" | "ed25519-sha256";
  /**
   * Header fields to sign, by name. Default: the usual list (From, To, Cc,
   * Subject, Date, Message-ID, Reply-To, In-Reply-To, References, MIME and
   * List fields) where present, with From signed once more than it occurs so
   * no From can be added.
   */
  headers?: string[];
  /** Default `relaxed/relaxed`. */
  canonicalization?: DkimCanonicalization;
  /** Signature time (`t=`); now by default. */
  timestamp?: Date;
  /** Signature lifetime in seconds (`x=`); none by default. */
  expiresIn?: number;
  /** Agent or user identifier (`i=`), at `domain` or a subdomain. */
  identity?: string;
}

const KNOWN = new Set([
  "domain",
  "selector",
  "privateKey",
  "algorithm",
  "headers",
  "canonicalization",
  "timestamp",
  "expiresIn",
  "identity",
]);

const DEFAULT_HEADERS = [
  "from",
  "sender",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "to",
  "cc",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-id",
  "content-description",
  "resent-date",
  "resent-from",
  "resent-sender",
  "resent-to",
  "resent-cc",
  "resent-message-id",
  "in-reply-to",
  "references",
  "list-id",
  "list-help",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "list-subscribe",
  "list-post",
  "list-owner",
  "list-archive",
];

// ---- body canonicalization (streaming) -------------------------------------

const CRLF = new Uint8Array([13, 10]);
const SP = new Uint8Array([32]);

/**
 * Canonicalize a body chunk by chunk into a hash (RFC 6376 §3.4.3/§3.4.4).
 * Lone CR and LF count as line ends, as the SMTP client sends them as CRLF.
 */
export class BodyCanonicalizer {
  #relaxed: boolean;
  #hash: { update(b: Uint8Array): unknown };
  #emptyRun = 0; // complete empty lines not yet emitted
  #inLine = false; // the current line has emitted content
  #wsp = false; // whitespace pending in the current line (relaxed)
  #cr = false; // the last chunk ended with CR
  #any = false; // anything emitted

  /** Feed `hash` with the canonical form of what `push` receives. */
  constructor(relaxed: boolean, hash: { update(b: Uint8Array): unknown }) {
    this.#relaxed = relaxed;
    this.#hash = hash;
  }

  #emit(b: Uint8Array) {
    if (b.length) {
      this.#hash.update(b);
      this.#any = true;
    }
  }

  #content() {
    if (!this.#inLine) {
      for (; this.#emptyRun > 0; this.#emptyRun--) this.#emit(CRLF);
      this.#inLine = true;
    }
    if (this.#wsp) {
      this.#emit(SP);
      this.#wsp = false;
    }
  }

  #lineEnd() {
    if (this.#inLine) this.#emit(CRLF);
    else this.#emptyRun++;
    this.#inLine = false;
    this.#wsp = false;
  }

  /** Canonicalize the next chunk. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    if (this.#cr) {
      this.#cr = false;
      if (n && chunk[0] === 10) i = 1; // the LF of a CRLF split across chunks
    }
    const relaxed = this.#relaxed;
    while (i < n) {
      const b = chunk[i];
      if (b === 10) {
        this.#lineEnd();
        i++;
        continue;
      }
      if (b === 13) {
        this.#lineEnd();
        if (i + 1 === n) this.#cr = true;
        else if (chunk[i + 1] === 10) i++;
        i++;
        continue;
      }
      if (relaxed && (b === 32 || b === 9)) {
        this.#wsp = true;
        i++;
        continue;
      }
      // A run of content bytes.
      let j = i + 1;
      while (j < n) {
        const c = chunk[j];
        if (c === 10 || c === 13 || (relaxed && (c === 32 || c === 9))) break;
        j++;
      }
      this.#content();
      this.#emit(chunk.subarray(i, j));
      i = j;
    }
  }

  /** Finish: a last line without a line end gets one; an empty body is CRLF in simple mode. */
  end(): void {
    if (this.#inLine) this.#emit(CRLF);
    if (!this.#any && !this.#relaxed) this.#emit(CRLF);
  }
}

// ---- header canonicalization ----------------------------------------------

/** A header field as it will go out: its name and the whole `Name: value` text (folded, no final CRLF). */
interface Field {
  name: string;
  text: string;
}

function splitFields(head: string): Field[] {
  const lines = head.split(/\r\n|\n/);
  const out: Field[] = [];
  for (const line of lines) {
    if (line === "") break;
    if ((line[0] === " " || line[0] === "\t") && out.length) {
      out[out.length - 1].text += "\r\n" + line;
    } else {
      const colon = line.indexOf(":");
      if (colon > 0) {
        out.push({
          name: line.slice(0, colon).trim().toLowerCase(),
          text: line,
        });
      }
    }
  }
  return out;
}

function canonHeader(f: Field, relaxed: boolean): string {
  if (!relaxed) return f.text;
  const colon = f.text.indexOf(":");
  const value = f.text.slice(colon + 1).replace(/\r\n/g, "")
    .replace(/[ \t]+/g, " ").trim();
  return `${f.name}:${value}`;
}

// ---- keys -------------------------------------------------------------------

function derLength(n: number): number[] {
  if (n < 128) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n >>= 8;
  }
  return [0x80 | out.length, ...out];
}

function der(tag: number, body: Uint8Array): Uint8Array {
  const len = derLength(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

const concat = (...parts: Uint8Array[]) => concatBytes(parts);

/** PKCS#1 RSAPrivateKey → PKCS#8 PrivateKeyInfo. */
function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = new Uint8Array([0x02, 0x01, 0x00]);
  // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
  const alg = new Uint8Array([
    0x30,
    0x0d,
    0x06,
    0x09,
    0x2a,
    0x86,
    0x48,
    0x86,
    0xf7,
    0x0d,
    0x01,
    0x01,
    0x01,
    0x05,
    0x00,
  ]);
  return der(0x30, concat(version, alg, der(0x04, pkcs1)));
}

/** 32-byte Ed25519 seed → PKCS#8 (RFC 8410). */
function ed25519Pkcs8(seed: Uint8Array): Uint8Array {
  return concat(
    new Uint8Array([
      0x30,
      0x2e,
      0x02,
      0x01,
      0x00,
      0x30,
      0x05,
      0x06,
      0x03,
      0x2b,
      0x65,
      0x70,
      0x04,
      0x22,
      0x04,
      0x20,
    ]),
    seed,
  );
}

async function importKey(
  key: CryptoKey | string | Uint8Array,
  algorithm: DkimOptions["algorithm"],
): Promise<CryptoKey> {
  const params = algorithm === "rsa-sha256"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "Ed25519" };
  if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey) {
    const name = key.algorithm.name.toLowerCase();
    if (!name.startsWith(algorithm === "rsa-sha256" ? "rsa" : "ed25519")) {
      throw new InvalidInputError(
        `privateKey is a ${key.algorithm.name} key, not one for ${algorithm}`,
      );
    }
    return key;
  }
  let der: Uint8Array;
  if (typeof key === "string") {
    const begin = key.match(/-----BEGIN ([A-Z ]+)-----/);
    if (!begin) {
      throw new InvalidInputError("privateKey is not a pem private key");
    }
    const body = key.slice(
      begin.index! + begin[0].length,
      key.indexOf("-----END"),
    );
    der = decodeBase64(body);
    if (begin[1] === "RSA PRIVATE KEY") der = pkcs1ToPkcs8(der);
    else if (begin[1] !== "PRIVATE KEY") {
      throw new InvalidInputError(
        `privateKey pem holds ${
          begin[1].toLowerCase()
        }: pkcs#8 (private key) or pkcs#1 (rsa private key) expected`,
      );
    }
  } else if (key instanceof Uint8Array) {
    der = key.length === 32 && algorithm === "ed25519-sha256"
      ? ed25519Pkcs8(key)
      : key;
  } else {
    throw new InvalidInputError(
      "privateKey must be a CryptoKey, pem string or bytes",
    );
  }
  try {
    return await crypto.subtle.importKey(
      "pkcs8",
      der as Uint8Array<ArrayBuffer>,
      params,
      false,
      ["sign"],
    );
  } catch (err) {
    throw new InvalidInputError(
      `privateKey could not be imported for ${algorithm}`,
      { cause: err },
    );
  }
}

/**
 * The DNS TXT record that publishes `publicKey` for DKIM, e.g.
 * `v=DKIM1; k=ed25519; p=…`. The key must be extractable.
 *
 * @example
 * ```ts
 * import { dkimDnsRecord } from "@mailwire/mailwire/message";
 * const { publicKey } = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
 * console.log(await dkimDnsRecord(publicKey)); // "v=DKIM1; k=ed25519; p=..."
 * ```
 */
export async function dkimDnsRecord(publicKey: CryptoKey): Promise<string> {
  if (publicKey.algorithm.name === "Ed25519") {
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
    return `v=DKIM1; k=ed25519; p=${encodeBase64(raw)}`;
  }
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  return `v=DKIM1; k=rsa; p=${encodeBase64(spki)}`;
}

// ---- signing ----------------------------------------------------------------

function checkTagValue(v: string, what: string): string {
  if (typeof v !== "string" || !v) {
    throw new InvalidInputError(`${what} is required`);
  }
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 59) {
      throw new InvalidInputError(
        `${what} must be printable ascii without spaces or ';'`,
      );
    }
  }
  return v;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function headerEnd(b: Uint8Array): number {
  if (b[0] === 10) return 1;
  if (b[0] === 13 && b[1] === 10) return 2;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) {
    if (b[i + 1] === 10) return i + 2;
    if (b[i + 1] === 13 && b[i + 2] === 10) return i + 3;
  }
  return b.length;
}

/** Build the folded DKIM-Signature field for the given head and body hash. */
async function signatureField(
  head: Uint8Array,
  bodyHash: Uint8Array,
  o: DkimOptions,
  key: CryptoKey,
): Promise<string> {
  const [hc] = (o.canonicalization ?? "relaxed/relaxed").split("/");
  const relaxed = hc === "relaxed";
  const fields = splitFields(dec.decode(head));
  let names: string[];
  if (o.headers) {
    names = o.headers.map((h) =>
      checkTagValue(h, "dkim header name").toLowerCase()
    );
  } else {
    names = [];
    for (const n of DEFAULT_HEADERS) {
      for (const f of fields) if (f.name === n) names.push(n);
    }
    names.push("from"); // one more than present: no From can be added
  }
  if (!names.includes("from")) {
    throw new InvalidInputError("dkim headers must include from");
  }
  // For each listed name, the last not yet used field of that name.
  const used = new Map<string, number>();
  const signed: string[] = [];
  for (const n of names) {
    const all = fields.filter((f) => f.name === n);
    const k = (used.get(n) ?? 0) + 1;
    used.set(n, k);
    const f = all[all.length - k];
    if (f) signed.push(canonHeader(f, relaxed) + "\r\n");
  }
  const t = Math.floor((o.timestamp ?? new Date()).getTime() / 1000);
  const tags = [
    "v=1",
    `a=${o.algorithm}`,
    `c=${o.canonicalization ?? "relaxed/relaxed"}`,
    `d=${o.domain}`,
    ...(o.identity ? [`i=${o.identity}`] : []),
    `s=${o.selector}`,
    `t=${t}`,
    ...(o.expiresIn !== undefined ? [`x=${t + o.expiresIn}`] : []),
    `h=${names.join(":")}`,
    `bh=${encodeBase64(bodyHash)}`,
  ];
  // Fold between tags and inside h= (FWS is allowed around its colons);
  // b= comes last, folded inside its value.
  const atoms: [string, string][] = [];
  for (const tag of tags) {
    if (tag.startsWith("h=")) {
      const parts = tag.split(":");
      parts.forEach((p, i) =>
        atoms.push([i ? "" : " ", p + (i < parts.length - 1 ? ":" : ";")])
      );
    } else atoms.push([" ", tag + ";"]);
  }
  let field = "DKIM-Signature:";
  let line = field.length;
  for (const [sep, atom] of atoms) {
    if (line + sep.length + atom.length > 78) {
      field += "\r\n " + atom;
      line = 1 + atom.length;
    } else {
      field += sep + atom;
      line += sep.length + atom.length;
    }
  }
  field += line + 3 > 78 ? "\r\n b=" : " b=";
  const unsigned: Field = { name: "dkim-signature", text: field };
  const input = enc.encode(signed.join("") + canonHeader(unsigned, relaxed));
  const sig = new Uint8Array(
    o.algorithm === "rsa-sha256"
      ? await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, key, input)
      : await crypto.subtle.sign(
        { name: "Ed25519" },
        key,
        sha256(input) as Uint8Array<ArrayBuffer>,
      ),
  );
  const b64 = encodeBase64(sig);
  let out = field;
  let col = field.length - field.lastIndexOf("\n") - 1;
  for (let i = 0; i < b64.length;) {
    const room = Math.max(78 - col, 1);
    const take = b64.slice(i, i + room);
    out += take;
    i += take.length;
    col += take.length;
    if (i < b64.length) {
      out += "\r\n ";
      col = 1;
    }
  }
  return out + "\r\n";
}

function checkOptions(o: DkimOptions): void {
  if (!o || typeof o !== "object") {
    throw new InvalidInputError("dkim options must be an object");
  }
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      throw new InvalidInputError(`unknown dkim option ${JSON.stringify(k)}`);
    }
  }
  checkTagValue(o.domain, "dkim domain");
  checkTagValue(o.selector, "dkim selector");
  if (o.identity !== undefined) checkTagValue(o.identity, "dkim identity");
  if (o.algorithm !== "rsa-sha256" && o.algorithm !== "ed25519-sha256") {
    throw new InvalidInputError(
      "dkim algorithm must be rsa-sha256 or ed25519-sha256",
    );
  }
  const c = o.canonicalization ?? "relaxed/relaxed";
  if (
    !["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"]
      .includes(c)
  ) {
    throw new InvalidInputError(
      "dkim canonicalization must be simple or relaxed, header/body",
    );
  }
  if (
    o.expiresIn !== undefined &&
    (!Number.isInteger(o.expiresIn) || o.expiresIn <= 0)
  ) {
    throw new InvalidInputError(
      "dkim expiresIn must be a positive number of seconds",
    );
  }
  if (
    o.timestamp !== undefined &&
    !(o.timestamp instanceof Date && !Number.isNaN(o.timestamp.getTime()))
  ) {
    throw new InvalidInputError("dkim timestamp must be a valid Date");
  }
}

/**
 * Sign a message with DKIM (RFC 6376; ed25519-sha256 per RFC 8463). The
 * DKIM-Signature field goes first in the header block.
 *
 * A {@linkcode ComposedMessage} is signed without holding its body: its body
 * is generated once to hash it (attachments read and encoded as they
 * stream, then dropped), and the signed message generates it again when it
 * is sent. That needs a message that can be streamed twice: one with an
 * attachment from a ReadableStream is refused (pass a Blob, or bytes).
 * Bytes or a string are signed as they are (line ends counted as CRLF, as
 * the SMTP client sends them) and come back as bytes with the field in
 * front.
 *
 * @example Sign with Ed25519
 * ```ts
 * import { composeMessage, dkimSign } from "@mailwire/mailwire/message";
 *
 * const { privateKey } = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
 * const message = composeMessage({ from: "ann@example.com", to: "bob@example.org", subject: "Hi", text: "Hello" });
 * const signed = await dkimSign(message, {
 *   domain: "example.com",
 *   selector: "mail",
 *   privateKey,
 *   algorithm: "ed25519-sha256",
 * });
 * const text = new TextDecoder().decode(await signed.bytes());
 * console.log(text.startsWith("DKIM-Signature: v=1; a=ed25519-sha256;")); // true
 * ```
 */
export async function dkimSign(
  message: ComposedMessage,
  options: DkimOptions,
): Promise<ComposedMessage>;
/**
 * Sign raw message bytes (or a string); returns the signed bytes.
 *
 * @example
 * ```ts
 * import { dkimSign } from "@mailwire/mailwire/message";
 * const { privateKey } = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
 * const signed = await dkimSign("From: a@example.com\r\n\r\nHi\r\n", {
 *   domain: "example.com",
 *   selector: "s1",
 *   privateKey,
 *   algorithm: "ed25519-sha256",
 * });
 * console.log(signed instanceof Uint8Array); // true
 * ```
 */
export async function dkimSign(
  message: Uint8Array | string,
  options: DkimOptions,
): Promise<Uint8Array>;
export async function dkimSign(
  message: ComposedMessage | Uint8Array | string,
  options: DkimOptions,
): Promise<ComposedMessage | Uint8Array> {
  checkOptions(options);
  const bodyRelaxed = (options.canonicalization ?? "relaxed/relaxed").endsWith(
    "/relaxed",
  );
  if (typeof message === "string" || message instanceof Uint8Array) {
    const bytes = typeof message === "string" ? enc.encode(message) : message;
    const end = headerEnd(bytes);
    const key = await importKey(options.privateKey, options.algorithm);
    const hash = new Sha256();
    const canon = new BodyCanonicalizer(bodyRelaxed, hash);
    canon.push(bytes.subarray(end));
    canon.end();
    const field = enc.encode(
      await signatureField(bytes.subarray(0, end), hash.digest(), options, key),
    );
    return concat(field, bytes);
  }
  if (
    !message || typeof message.body !== "function" ||
    !(message.head instanceof Uint8Array)
  ) {
    throw new InvalidInputError(
      "dkimSign takes a composed message, bytes or a string",
    );
  }
  if (!message.replayable) {
    throw new InvalidInputError(
      "message has an attachment from a ReadableStream, read once: dkim must generate the body twice, so pass a Blob or bytes (or sign await message.bytes())",
    );
  }
  const key = await importKey(options.privateKey, options.algorithm);
  const hash = new Sha256();
  const canon = new BodyCanonicalizer(bodyRelaxed, hash);
  const reader = message.body().getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    canon.push(value);
  }
  canon.end();
  const field = enc.encode(
    await signatureField(message.head, hash.digest(), options, key),
  );
  const head = concat(field, message.head);
  return messageFrom({
    envelope: message.envelope,
    smtputf8: message.smtputf8,
    eightBit: message.eightBit,
    messageId: message.messageId,
    head,
    body: message,
    size: message.size === undefined ? undefined : message.size + field.length,
  });
}
