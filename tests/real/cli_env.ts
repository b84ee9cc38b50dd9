/**
 * What the CLI's real-server tests share (tests/real_cli_test.ts,
 * tests/real_cli_fetch_probe_test.ts): the users (grace@mail.test and
 * heidi@mail.test are the CLI's own mailboxes), server addresses, the
 * command line of a send, delivery counting and cleanup by token.
 * Test-only code.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Pop3Client } from "../../pop3/mod.ts";
import { type RealEnv, realEnv, type RealUser, token } from "./env.ts";

export const env: RealEnv = realEnv();
/** A user of env.json, or an error naming it. */
export function user(address: string): RealUser {
  const found = env.users.find((u) => u.address === address);
  if (!found) {
    throw new Error(
      `env.json has no user ${address}: restart the servers (tests/servers/start.sh)`,
    );
  }
  return found;
}
export const me = user("grace@mail.test");
export const heidi = user("heidi@mail.test");
export const secrets = env.users.map((u) => u.password);
export const pw = { MAILWIRE_PASSWORD: me.password };
export const ca = ["--ca", env.caFile, "--servername", env.servername];
export const host = env.host;
export const sub = `${host}:${env.smtp.submission}`;
export const smtps = `${host}:${env.smtp.smtps}`;
export const mx = `${host}:${env.smtp.mx}`;
export const pop = `${host}:${env.pop3.plain}`;
export const pops = `${host}:${env.pop3.pop3s}`;
export const tokens: string[] = [];

export function tok(label: string): string {
  const t = token(`cli-${label}`);
  tokens.push(t);
  return t;
}

export function sendArgs(
  server: string,
  subject: string,
  ...extra: string[]
): string[] {
  return [
    "send",
    "-s",
    server,
    ...ca,
    "-f",
    me.address,
    "-t",
    me.address,
    "--subject",
    subject,
    "--timeout",
    "30",
    ...extra,
  ];
}

/** Files in the Maildir holding `needle`, polled until `count` or the deadline. */
export async function deliveredWith(
  user: RealUser,
  needle: string,
  count: number,
  ms = 60_000,
): Promise<number> {
  const until = Date.now() + ms;
  const seen = new Map<string, boolean>();
  for (;;) {
    for (const sub of ["new", "cur"]) {
      let names: string[] = [];
      try {
        names = readdirSync(join(user.maildir, sub));
      } catch { /* not there yet */ }
      for (const name of names) {
        const key = name.split(":")[0];
        if (seen.has(key)) continue;
        try {
          seen.set(
            key,
            readFileSync(join(user.maildir, sub, name), "latin1").includes(
              needle,
            ),
          );
        } catch { /* moved new → cur meanwhile */ }
      }
    }
    const n = [...seen.values()].filter(Boolean).length;
    if (n >= count || Date.now() > until) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Delete from the mailbox every message whose header block holds one of `needles`. */
export async function deleteMine(needles: string[]): Promise<number> {
  if (!needles.length) return 0;
  const client = await Pop3Client.connect({
    hostname: host,
    port: env.pop3.plain,
    caCerts: [readFileSync(env.caFile, "utf8")],
    servername: env.servername,
    auth: { username: me.login, password: me.password },
    timeout: 60_000,
  });
  try {
    const listing = await client.listing();
    const heads = await client.pipeline(
      listing.map((m) => ({ command: "TOP" as const, id: m.id, lines: 0 })),
    );
    const ids = listing.filter((_, i) => {
      const head = new TextDecoder().decode(heads[i].body ?? new Uint8Array());
      return needles.some((n) => head.includes(n));
    }).map((m) => m.id);
    if (ids.length) await client.deleMany(ids);
    await client.quit();
    return ids.length;
  } finally {
    await client.close();
  }
}

/**
 * No output holds a password of env.json, nor the base64 of the CLI
 * user's PLAIN credentials or password (what an unredacted AUTH line
 * would show).
 */
export function assertNoSecret(outputs: readonly string[]): void {
  assert.ok(outputs.length > 10, `outputs collected: ${outputs.length}`);
  const forbidden = [
    ...secrets,
    btoa(`\0${me.login}\0${me.password}`),
    btoa(me.password),
  ];
  for (const out of outputs) {
    for (const s of forbidden) {
      assert.ok(
        !out.includes(s),
        `a secret was printed:\n${out.slice(0, 500)}`,
      );
    }
  }
}
