/**
 * The real Postfix + Dovecot started by `tests/servers/start.sh`, as
 * described by the `.tmp/servers/env.json` it writes. A missing file is a
 * failure, never a skip: the integration suite must not pass without its
 * servers.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoFile } from "../repo.ts";

/** One test user. */
export interface RealUser {
  address: string;
  login: string;
  password: string;
  maildir: string;
}

/** What start.sh reports. */
export interface RealEnv {
  caFile: string;
  host: string;
  servername: string;
  domain: string;
  smtp: { mx: number; submission: number; smtps: number };
  pop3: { plain: number; pop3s: number };
  pop3Strict?: { host: string; plain: number };
  lmtp: { tcp: number; unix: string };
  users: RealUser[];
  unknownUser: string;
  foreignRecipient: string;
  maildirRoot: string;
  maxMessageSize: number;
  mechanisms: Record<string, unknown>;
  pop3PlainAuthBeforeTls: boolean;
}

const file = repoFile(".tmp/servers/env.json");

/** Load the environment or throw with instructions. */
export function realEnv(): RealEnv {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(
      "real mail servers are not running: run `bash tests/servers/start.sh` (as root) or `npm test`",
    );
  }
  return JSON.parse(text) as RealEnv;
}

/** The test CA's PEM. */
export function realCa(env: RealEnv): string {
  return readFileSync(env.caFile, "utf8");
}

/** A unique token to find a message again. */
export function token(label: string): string {
  return `${label}-${Date.now().toString(36)}-${
    Math.random().toString(36).slice(2, 10)
  }`;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["new", "cur"]) {
    try {
      for (const name of readdirSync(join(dir, sub))) {
        out.push(join(dir, sub, name));
      }
    } catch { /* not created yet */ }
  }
  return out;
}

/**
 * Wait (bounded) until a message containing `needle` is in the user's
 * Maildir; return its bytes.
 */
export async function waitForDelivery(
  user: RealUser,
  needle: string,
  timeoutMs = 15_000,
): Promise<Uint8Array> {
  const until = Date.now() + timeoutMs;
  const bytes = new TextEncoder().encode(needle);
  while (Date.now() < until) {
    for (const path of files(user.maildir)) {
      if (statSync(path).size < bytes.length) continue;
      const data = new Uint8Array(readFileSync(path));
      if (indexOf(data, bytes) >= 0) return data;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no message with ${needle} delivered to ${user.address}`);
}

/** Byte search (test helper). */
export function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let i = hay.indexOf(first); i !== -1; i = hay.indexOf(first, i + 1)) {
    if (i + needle.length > hay.length) return -1;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** Whether `data` ends with `suffix`. */
export function endsWith(data: Uint8Array, suffix: Uint8Array): boolean {
  if (suffix.length > data.length) return false;
  const off = data.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) {
    if (data[off + i] !== suffix[i]) return false;
  }
  return true;
}
