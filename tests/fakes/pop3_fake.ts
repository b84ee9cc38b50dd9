/**
 * Test-only: a scriptable POP3 maildrop on top of the scripted fake server
 * (scripted.ts), for hostile and unit tests of the POP3 client.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  type FakePeer,
  type FakeServer,
  fakeServer,
  fixture,
} from "./scripted.ts";
import type { Pop3ClientOptions } from "../../pop3/options.ts";

/** A reply: text to write, `null` to hang up, `undefined` for the default handling. */
export type Reply = string | Uint8Array | null | undefined;

/** How a fake maildrop behaves. */
export interface FakeOptions {
  /** The greeting line (CRLF added). */
  greeting?: string;
  /** Milliseconds to wait before the greeting. */
  greetingDelay?: number;
  /** CAPA lines; `null`: CAPA answers -ERR. */
  capa?: string[] | null;
  /** CAPA lines after STLS (default: `capa` without STLS). */
  capaAfterTls?: string[];
  /** CAPA lines after login (default: as before). */
  capaAfterLogin?: string[];
  /** Messages (CRLF line ends; dot-stuffed by the fake). */
  messages?: (string | Uint8Array)[];
  /** Accepted username → password. */
  users?: Record<string, string>;
  /** Runs first for every command line. */
  onCommand?: (line: string, peer: FakePeer) => Reply | Promise<Reply>;
  /** TLS from the first byte (POP3S). */
  implicitTls?: boolean;
  /** Fixture certificate for TLS (default `localhost`). */
  cert?: string;
}

/** What the tests inspect. */
export interface Fake {
  server: FakeServer;
  port: number;
  /** The first connection (after it exists). */
  peer(): FakePeer;
  /** Every data chunk the first connection received, in order. */
  chunks: string[];
  /** Messages marked deleted when QUIT ran (the commit). */
  committed: number[];
  /** Client options for this fake: no TLS, insecure auth allowed. */
  options(extra?: Pop3ClientOptions): Pop3ClientOptions;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const RFC_GREETING =
  "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>";

/** Dot-stuff a message for the wire and terminate it. */
export function wire(message: string | Uint8Array): Buffer {
  const text = Buffer.from(message).toString("latin1");
  const body = text.length === 0 || text.endsWith("\r\n")
    ? text
    : text + "\r\n";
  const stuffed = body.replace(/^\./gm, "..");
  return Buffer.from(stuffed + ".\r\n", "latin1");
}

/**
 * What TOP answers (RFC 1939 §7): the header, the blank line, then the
 * first `lines` lines of the body (all of them when there are fewer).
 */
export function head(message: Uint8Array, lines: number): Buffer {
  const text = Buffer.from(message).toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return Buffer.from(message);
  let at = end + 4;
  for (let i = 0; i < lines && at < text.length; i++) {
    const next = text.indexOf("\r\n", at);
    at = next < 0 ? text.length : next + 2;
  }
  return Buffer.from(text.slice(0, at), "latin1");
}

export async function startFake(o: FakeOptions = {}): Promise<Fake> {
  const messages = (o.messages ?? []).map((m) => Buffer.from(m));
  const users = o.users ?? { tim: "secret" };
  const chunks: string[] = [];
  const committed: number[] = [];
  let first = true;
  const server = await fakeServer(async (peer) => {
    const mine = first;
    first = false;
    if (mine) {
      peer.socket.on("data", (c: Buffer) => chunks.push(c.toString("latin1")));
    }
    const deleted = new Set<number>();
    let user: string | undefined;
    let authed = false;
    let tls = o.implicitTls ?? false;
    if (o.greetingDelay) await sleep(o.greetingDelay);
    if (peer.ended) return;
    await peer.write((o.greeting ?? RFC_GREETING) + "\r\n");
    const capa = () => {
      if (authed && o.capaAfterLogin) return o.capaAfterLogin;
      if (tls) {
        return o.capaAfterTls ?? (o.capa ?? []).filter((c) => c !== "STLS");
      }
      return o.capa === undefined ? [] : o.capa;
    };
    const exists = (n: number) =>
      n >= 1 && n <= messages.length && !deleted.has(n);
    for (let i = 0; i < 100_000; i++) {
      const line = await peer.readLine(30_000);
      if (line === null) return;
      const custom = await o.onCommand?.(line, peer);
      if (custom === null) return peer.end();
      if (custom !== undefined) {
        await peer.write(custom);
        continue;
      }
      const [verb, ...args] = line.split(" ");
      const n = Number(args[0]);
      switch (verb.toUpperCase()) {
        case "CAPA": {
          const c = capa();
          await peer.write(
            c === null
              ? "-ERR no capa\r\n"
              : `+OK\r\n${c.map((l) => l + "\r\n").join("")}.\r\n`,
          );
          break;
        }
        case "STLS":
          await peer.write("+OK begin tls\r\n");
          await peer.startTls(o.cert);
          tls = true;
          break;
        case "USER":
          user = args[0];
          await peer.write("+OK send pass\r\n");
          break;
        case "PASS":
          if (user !== undefined && users[user] === args.join(" ")) {
            authed = true;
            await peer.write("+OK logged in\r\n");
          } else await peer.write("-ERR [AUTH] invalid login\r\n");
          break;
        case "APOP": {
          const stamp = /<[^>]*>/.exec(o.greeting ?? RFC_GREETING)?.[0];
          const secret = users[args[0]];
          const want = stamp && secret !== undefined &&
            createHash("md5").update(stamp + secret).digest("hex");
          if (want && args[1] === want) {
            authed = true;
            await peer.write("+OK maildrop locked\r\n");
          } else await peer.write("-ERR [AUTH] bad digest\r\n");
          break;
        }
        case "AUTH": {
          // PLAIN only: \0user\0pass, inline or after an empty challenge.
          let ir = args[1];
          if (ir === undefined) {
            await peer.write("+ \r\n");
            ir = (await peer.readLine()) ?? "";
          }
          const [, u, p] = Buffer.from(ir, "base64").toString().split("\0");
          if (args[0]?.toUpperCase() === "PLAIN" && users[u] === p) {
            authed = true;
            await peer.write("+OK authenticated\r\n");
          } else await peer.write("-ERR [AUTH] no\r\n");
          break;
        }
        case "STAT": {
          const live = messages.map((m, i) => [i + 1, m.length]).filter(([i]) =>
            !deleted.has(i)
          );
          await peer.write(
            `+OK ${live.length} ${live.reduce((s, [, l]) => s + l, 0)}\r\n`,
          );
          break;
        }
        case "LIST":
        case "UIDL": {
          const uidl = verb.toUpperCase() === "UIDL";
          const item = (i: number) =>
            `${i} ${uidl ? `uid-${i}` : messages[i - 1].length}`;
          if (args.length) {
            await peer.write(
              exists(n) ? `+OK ${item(n)}\r\n` : "-ERR no such message\r\n",
            );
          } else {
            const lines = messages.map((_, i) => i + 1).filter((i) =>
              !deleted.has(i)
            )
              .map((i) => item(i) + "\r\n");
            await peer.write(`+OK\r\n${lines.join("")}.\r\n`);
          }
          break;
        }
        case "RETR":
        case "TOP":
          if (!exists(n)) {
            await peer.write("-ERR no such message\r\n");
          } else {
            const m = verb.toUpperCase() === "TOP"
              ? head(messages[n - 1], Number(args[1]))
              : messages[n - 1];
            await peer.write(
              Buffer.concat([
                Buffer.from(`+OK ${m.length} octets\r\n`),
                wire(m),
              ]),
            );
          }
          break;
        case "DELE":
          if (exists(n)) {
            deleted.add(n);
            await peer.write(`+OK message ${n} deleted\r\n`);
          } else await peer.write("-ERR no such message\r\n");
          break;
        case "RSET":
          deleted.clear();
          await peer.write("+OK\r\n");
          break;
        case "NOOP":
          await peer.write("+OK\r\n");
          break;
        case "QUIT":
          committed.push(...[...deleted].sort((a, b) => a - b));
          await peer.write("+OK bye\r\n");
          peer.end();
          return;
        default:
          await peer.write("-ERR unknown command\r\n");
      }
    }
  }, { implicitTls: o.implicitTls, cert: o.cert });
  return {
    server,
    port: server.port,
    peer: () => server.peers[0],
    chunks,
    committed,
    options: (extra = {}) => ({
      hostname: "127.0.0.1",
      port: server.port,
      tls: "none",
      allowInsecureAuth: true,
      timeout: 5000,
      ...extra,
    }),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** The CA of the fixture certificates, for STLS tests. */
export const CA = fixture("ca.pem");

/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until `cond()` holds, up to `ms` (bounded polling). */
export async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  return cond();
}
