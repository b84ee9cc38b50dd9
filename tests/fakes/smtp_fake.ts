/**
 * A scriptable fake SMTP/LMTP server for the SMTP client tests, built on
 * {@linkcode fakeServer}: sensible default replies for every command, a hook
 * to override any of them, and a record of what arrived. Test-only code.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type FakePeer, type FakeServer, fakeServer } from "./scripted.ts";
import { SmtpClient } from "../../smtp/client.ts";
import type { SmtpClientOptions } from "../../smtp/options.ts";

/** One message as the fake received it (dot-unstuffed, lines joined with CRLF). */
export interface FakeMessage {
  from: string;
  to: string[];
  data: string;
}

/** What the hook sees. */
export interface SmtpFakeContext {
  peer: FakePeer;
  /** Whether STARTTLS happened on this connection. */
  secure: boolean;
  /** RCPT lines of the current transaction that got a 2xx. */
  accepted: string[];
}

/**
 * Reply override: a string is written as is (include the CRLFs), `null`
 * sends nothing, `"close"` ends the connection, `"destroy"` resets it,
 * undefined falls back to the default. DATA's end is offered as `"."` and a
 * BDAT command after its chunk was consumed.
 */
export type SmtpFakeHook = (
  line: string,
  ctx: SmtpFakeContext,
) =>
  | string
  | null
  | undefined
  | "close"
  | "destroy"
  | Promise<string | null | undefined | "close" | "destroy">;

/** Options of {@linkcode smtpFake}. */
export interface SmtpFakeOptions {
  /** The greeting (with CRLF). Default `220 fake.test ESMTP\r\n`. */
  greeting?: string;
  /** Milliseconds to wait before the greeting. */
  greetingDelay?: number;
  /** EHLO keywords. Default `["PIPELINING"]`. */
  features?: string[];
  /** EHLO keywords after STARTTLS. Default: `features` without STARTTLS. */
  featuresAfterTls?: string[];
  /** LMTP: one reply per accepted recipient after the data. */
  lmtp?: boolean;
  /** Reply overrides. */
  hook?: SmtpFakeHook;
  /** TLS from the first byte (fixture certificate). */
  implicitTls?: boolean;
  /** Fixture certificate name for TLS (default `localhost`). */
  cert?: string;
  /** Listen on this Unix socket path instead of 127.0.0.1 (LMTP). */
  path?: string;
}

/** A running fake SMTP server. */
export interface SmtpFake {
  server: FakeServer;
  port: number;
  /** Every command line (and SASL response line) received, in order, all connections. */
  commands: string[];
  /** Messages received. */
  messages: FakeMessage[];
  /** The first connection's peer (waits for it). */
  peer(): Promise<FakePeer>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start a fake SMTP server with default replies and `options.hook` overrides. */
export async function smtpFake(
  options: SmtpFakeOptions = {},
): Promise<SmtpFake> {
  const commands: string[] = [];
  const messages: FakeMessage[] = [];
  const server = await fakeServer(async (peer) => {
    // Replies are many small writes: don't let Nagle hold them back.
    (peer.socket as { setNoDelay?(on: boolean): void }).setNoDelay?.(true);
    const ctx: SmtpFakeContext = {
      peer,
      secure: options.implicitTls ?? false,
      accepted: [],
    };
    let from = "";
    const act = async (
      line: string,
      fallback: () => string | Promise<string>,
    ): Promise<boolean> => {
      const out = options.hook ? await options.hook(line, ctx) : undefined;
      if (out === "close") {
        peer.end();
        return false;
      }
      if (out === "destroy") {
        peer.destroy();
        return false;
      }
      if (out === null) return true;
      await peer.write(out ?? await fallback());
      return true;
    };
    if (options.greetingDelay) await sleep(options.greetingDelay);
    if (peer.ended) return;
    await peer.write(options.greeting ?? "220 fake.test ESMTP\r\n");
    for (let n = 0; n < 10_000; n++) {
      const line = await peer.readLine(10_000);
      if (line === null) return;
      commands.push(line);
      const verb = line.split(" ")[0].toUpperCase();
      let going = true;
      if (verb === "EHLO" || verb === "LHLO") {
        const list = ctx.secure
          ? options.featuresAfterTls ??
            (options.features ?? ["PIPELINING"]).filter((f) =>
              f.toUpperCase() !== "STARTTLS"
            )
          : options.features ?? ["PIPELINING"];
        going = await act(line, () => ehloReply(list));
      } else if (verb === "STARTTLS") {
        going = await act(line, () => "220 Ready to start TLS\r\n");
        if (going && !peer.socket.destroyed) {
          await peer.startTls(options.cert);
          ctx.secure = true;
        }
      } else if (verb === "AUTH") {
        going = await act(line, () => defaultAuth(line, peer, commands));
      } else if (verb === "MAIL") {
        from = line;
        ctx.accepted = [];
        going = await act(line, () => "250 2.1.0 ok\r\n");
      } else if (verb === "RCPT") {
        const before = ctx.accepted.length;
        const out = options.hook ? await options.hook(line, ctx) : undefined;
        if (out === "close" || out === "destroy") {
          if (out === "close") peer.end();
          else peer.destroy();
          going = false;
        } else if (out !== null) {
          const reply = out ?? "250 2.1.5 ok\r\n";
          if (/^2/.test(reply) && ctx.accepted.length === before) {
            ctx.accepted.push(line);
          }
          await peer.write(reply);
        }
      } else if (verb === "DATA") {
        const out = options.hook ? await options.hook(line, ctx) : undefined;
        if (out === "close" || out === "destroy") {
          if (out === "close") peer.end();
          else peer.destroy();
          return;
        }
        if (out !== null) await peer.write(out ?? "354 go ahead\r\n");
        // A hook returning null wrote its own reply: assume it was 354.
        if (out !== null && out !== undefined && !out.startsWith("354")) {
          continue;
        }
        const lines: string[] = [];
        for (let i = 0;; i++) {
          assert.ok(i < 10_000_000, "data too long for the fake");
          const l = await peer.readLine(10_000);
          if (l === null) return;
          if (l === ".") break;
          lines.push(l.startsWith(".") ? l.slice(1) : l);
        }
        messages.push({
          from,
          to: ctx.accepted.slice(),
          data: lines.map((l) => l + "\r\n").join(""),
        });
        going = await act(
          ".",
          () =>
            options.lmtp
              ? ctx.accepted.map((_, i) => `250 2.0.0 ok ${i}\r\n`).join("")
              : "250 2.0.0 queued\r\n",
        );
      } else if (verb === "BDAT") {
        // Exactly the chunk's bytes: a chunk may end anywhere in a line.
        const size = Number(line.split(" ")[1]);
        const chunk = await peer.readBytes(size, 10_000);
        if (chunk === null) return;
        messages.push({
          from,
          to: ctx.accepted.slice(),
          data: chunk.toString("utf8"),
        });
        const last = / LAST$/i.test(line);
        going = await act(
          line,
          () =>
            last && options.lmtp
              ? ctx.accepted.map((_, i) => `250 2.0.0 ok ${i}\r\n`).join("")
              : "250 2.0.0 chunk ok\r\n",
        );
      } else if (verb === "QUIT") {
        going = await act(line, () => "221 2.0.0 bye\r\n");
        peer.end();
        return;
      } else if (
        ["HELO", "RSET", "NOOP", "VRFY", "EXPN", "HELP"].includes(verb)
      ) {
        going = await act(line, () => "250 ok\r\n");
      } else {
        going = await act(line, () => "500 5.5.1 unknown command\r\n");
      }
      if (!going) return;
    }
  }, {
    implicitTls: options.implicitTls,
    cert: options.cert,
    path: options.path,
  });
  let firstPeer: Promise<FakePeer> | undefined;
  const peer = () =>
    firstPeer ??= (async () => {
      for (let i = 0; i < 500 && server.peers.length === 0; i++) {
        await sleep(10);
      }
      assert.ok(server.peers[0], "no connection arrived");
      return server.peers[0];
    })();
  return {
    server,
    port: server.port,
    commands,
    messages,
    peer,
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/**
 * Client options for `fake`: 127.0.0.1 and its port, no TLS and insecure
 * auth allowed (the fake speaks clear text unless told otherwise), 3 s
 * per call; `extra` on top.
 */
export function fakeClientOptions(
  fake: { port: number },
  extra: SmtpClientOptions = {},
): SmtpClientOptions {
  return {
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
    timeout: 3000,
    ...extra,
  };
}

/** Run `body` with a connected client on a fresh fake; both closed afterwards. */
export async function withFakeClient(
  fakeOptions: SmtpFakeOptions,
  clientOptions: SmtpClientOptions,
  body: (client: SmtpClient, fake: SmtpFake, peer: FakePeer) => Promise<void>,
): Promise<void> {
  const fake = await smtpFake(fakeOptions);
  const client = new SmtpClient(fakeClientOptions(fake, clientOptions));
  try {
    await client.connect();
    await body(client, fake, await fake.peer());
  } finally {
    await client.close();
    await fake.close();
  }
}

/** A multi-line 250 EHLO reply with these keywords. */
export function ehloReply(features: string[]): string {
  const lines = ["fake.test greets you", ...features];
  return lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}\r\n`)
    .join("");
}

/** Default SASL: PLAIN (initial response or not), LOGIN, CRAM-MD5, XOAUTH2 succeed. */
async function defaultAuth(
  line: string,
  peer: FakePeer,
  commands: string[],
): Promise<string> {
  const [, mech, initial] = line.split(" ");
  const respond = async (challenge: string) => {
    await peer.write(`334 ${challenge}\r\n`);
    const l = await peer.readLine(10_000);
    if (l !== null) commands.push(l);
    return l;
  };
  switch (mech?.toUpperCase()) {
    case "PLAIN":
    case "XOAUTH2":
      if (initial === undefined) await respond("");
      return "235 2.7.0 accepted\r\n";
    case "LOGIN":
      if (initial === undefined) await respond("VXNlcm5hbWU6");
      await respond("UGFzc3dvcmQ6");
      return "235 2.7.0 accepted\r\n";
    case "CRAM-MD5":
      await respond(
        Buffer.from("<1896.697170952@postoffice.example.net>").toString(
          "base64",
        ),
      );
      return "235 2.7.0 accepted\r\n";
    default:
      return "504 5.5.4 unrecognized mechanism\r\n";
  }
}

/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// deno-lint-ignore no-explicit-any
type ErrorClass<T> = abstract new (...args: any[]) => T;

/**
 * Await `promise`, expecting it to reject with exactly class `cls` (not a
 * subclass). Returns the error and the elapsed milliseconds.
 */
export async function failure<T extends Error>(
  promise: Promise<unknown>,
  cls: ErrorClass<T>,
): Promise<{ err: T; ms: number }> {
  const start = performance.now();
  let outcome: { ok: true; value: unknown } | { ok: false; err: unknown };
  try {
    outcome = { ok: true, value: await promise };
  } catch (err) {
    outcome = { ok: false, err };
  }
  const ms = performance.now() - start;
  if (outcome.ok) {
    assert.fail(`expected ${cls.name}, but it resolved`);
  }
  const err = outcome.err;
  if (!(err instanceof Error) || err.constructor !== cls) {
    assert.fail(
      `expected ${cls.name}, got ${
        err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      }`,
    );
  }
  return { err: err as T, ms };
}

/** The part of `text` after the first `start` marker (from its end), up to `end` (excluded) or the end. */
export function after(text: string, start: string, end?: string): string {
  const i = text.indexOf(start);
  assert.ok(i >= 0, `${JSON.stringify(start)} not found`);
  const rest = text.slice(i + start.length);
  if (end === undefined) return rest;
  const j = rest.indexOf(end);
  assert.ok(j >= 0, `${JSON.stringify(end)} not found`);
  return rest.slice(0, j);
}
